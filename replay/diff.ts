/** One field that differs between a recorded fact and its rebuilt twin. */
export interface FieldDiff {
  /** Dotted path, array indexes in brackets: `payload.detectors[0].score`. */
  readonly path: string
  readonly recorded: unknown
  readonly rebuilt: unknown
}

const MAX_TEXT = 400

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array

/** A value as it is shown in a diff: bytes as base64, long text clipped, absent as `(absent)`. */
export function shown(v: unknown): unknown {
  if (v === undefined) return '(absent)'
  if (isBytes(v)) return `base64:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}`
  if (typeof v === 'string' && v.length > MAX_TEXT) return v.slice(0, MAX_TEXT) + `… (${v.length} chars)`
  if (v !== null && typeof v === 'object') {
    const s = JSON.stringify(v, (_k, x) => (isBytes(x) ? `base64:${Buffer.from(x).toString('base64')}` : x))
    return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + `… (${s.length} chars)` : JSON.parse(s)
  }
  return v
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

/**
 * The leaf fields where `recorded` and `rebuilt` differ (numbers by Object.is, so -0 ≠ 0 and
 * NaN = NaN, as the bytes would say), at most `max` of them, in field order.
 */
export function diffFields(recorded: unknown, rebuilt: unknown, max = 20): FieldDiff[] {
  const out: FieldDiff[] = []
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (out.length >= max) return
    if (Object.is(a, b)) return
    if (isBytes(a) && isBytes(b)) {
      if (!bytesEqual(a, b)) out.push({ path, recorded: shown(a), rebuilt: shown(b) })
      return
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      const n = Math.max(a.length, b.length)
      for (let i = 0; i < n; i++) walk(a[i], b[i], `${path}[${i}]`)
      return
    }
    if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b) && !isBytes(a) && !isBytes(b)) {
      const ra = a as Record<string, unknown>
      const rb = b as Record<string, unknown>
      const keys = new Set([...Object.keys(ra), ...Object.keys(rb)])
      for (const k of keys) walk(ra[k], rb[k], path ? `${path}.${k}` : k)
      // same entries in another order: Avro map bytes differ, so say so
      if (out.length === 0 && JSON.stringify(Object.keys(ra)) !== JSON.stringify(Object.keys(rb)) && Object.keys(ra).length === Object.keys(rb).length) {
        out.push({ path: `${path}(key order)`, recorded: Object.keys(ra), rebuilt: Object.keys(rb) })
      }
      return
    }
    out.push({ path: path || '(fact)', recorded: shown(a), rebuilt: shown(b) })
  }
  walk(recorded, rebuilt, '')
  return out
}
