/**
 * Canonical JSON: object keys sorted, no whitespace, `undefined` members dropped.
 * Used wherever bytes must be identical for equal values (content ids, signatures).
 */
export function canonicalJson(value: unknown): string {
  // the common shape (a payload of scalars and flat maps of them): its keys sorted into a copy and
  // one JSON.stringify, the same text as the walk below, at about half the cost
  if (value !== null && typeof value === 'object') {
    const copy = sortedCopy(value, 1)
    if (copy !== undefined) return JSON.stringify(copy)
  }
  return walk(value)
}

function walk(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null'
    if (typeof value === 'bigint') return value.toString()
    return JSON.stringify(value) ?? 'null'
  }
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'))
  if (Array.isArray(value)) return `[${value.map(walk).join(',')}]`
  // one string built in place (content ids hash one of these per fact)
  const o = value as Record<string, unknown>
  const keys = Object.keys(o).sort()
  let s = '{'
  for (const k of keys) {
    const v = o[k]
    if (v === undefined) continue
    if (s.length > 1) s += ','
    s += JSON.stringify(k) + ':' + walk(v)
  }
  return s + '}'
}

/**
 * A plain object of strings, booleans, finite numbers and null (and, `depth` levels down, plain
 * objects of those) copied with its keys in sorted order; undefined for anything else — an array,
 * a key V8 would not keep in insertion order (one that starts with a digit) or `__proto__` —
 * which the walk handles.
 */
function sortedCopy(value: object, depth: number): Record<string, unknown> | undefined {
  const p = Object.getPrototypeOf(value)
  if (p !== Object.prototype && p !== null) return undefined
  const o = value as Record<string, unknown>
  const keys = sortedKeys(o)
  const out: Record<string, unknown> = {}
  for (const k of keys) {
    const c = k.charCodeAt(0)
    if ((c >= 48 && c <= 57) || k === '__proto__') return undefined
    const v = o[k]
    if (typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v))) out[k] = v
    else if (typeof v === 'object' && depth > 0) {
      const inner = sortedCopy(v, depth - 1)
      if (inner === undefined) return undefined
      out[k] = inner
    } else return undefined
  }
  return out
}

/**
 * By key count: the keys of the last object of that many keys, as Object.keys gave them, and in
 * sorted order. Payloads come in runs of one shape (a metric's labels, a log's attributes), so
 * the sort is mostly a comparison with the last keys (the same internalized strings).
 */
const lastKeys: string[][] = []
const lastSorted: string[][] = []
const KEPT_UP_TO = 32

/**
 * `Object.keys(o).sort()` for a plain object (its prototype Object.prototype or null: no inherited
 * keys to enumerate), not sorted again when the keys are the last ones of their count, in the same
 * order. They are compared as for-in gives them (the same order as Object.keys), without an array
 * made per object: one is made only when they differ.
 */
export function sortedKeys(o: Record<string, unknown>): readonly string[] {
  let n = 0
  for (const _ in o) n++
  if (n >= KEPT_UP_TO) return Object.keys(o).sort()
  const last = lastKeys[n]
  if (last !== undefined) {
    let i = 0
    let same = true
    for (const k in o) {
      if (k !== last[i++]) {
        same = false
        break
      }
    }
    if (same) return lastSorted[n]
  }
  const keys = Object.keys(o)
  lastKeys[n] = keys
  lastSorted[n] = keys.slice().sort()
  return lastSorted[n]
}
