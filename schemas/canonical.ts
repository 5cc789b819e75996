/**
 * Canonical JSON: object keys sorted, no whitespace, `undefined` members dropped.
 * Used wherever bytes must be identical for equal values (content ids, signatures).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null'
    if (typeof value === 'bigint') return value.toString()
    return JSON.stringify(value) ?? 'null'
  }
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'))
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  // one string built in place (content ids hash one of these per fact)
  const o = value as Record<string, unknown>
  const keys = Object.keys(o).sort()
  let s = '{'
  for (const k of keys) {
    const v = o[k]
    if (v === undefined) continue
    if (s.length > 1) s += ','
    s += JSON.stringify(k) + ':' + canonicalJson(v)
  }
  return s + '}'
}
