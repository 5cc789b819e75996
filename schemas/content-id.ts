import { hash } from 'node:crypto'
import { utf8Into } from './bytes.js'

/**
 * `hashId('edge', kind, source, String(ts), canonicalJson(payload))` for a payload of the common
 * shape, without its strings: the same bytes (UTF-8 of the joined parts, each followed by a NUL)
 * written into a reused buffer and hashed there. The canonical text, the joined string and its
 * flattening cost more than the hash itself, and every edge fact without an id pays them.
 * Undefined for any other shape — an array, a key that starts with a digit or is `__proto__`, a
 * value that is not a string, boolean, null or finite number, objects more than two levels deep —
 * which the caller hashes the plain way (content-id.test.ts holds the two equal).
 */
export function edgeContentId(kind: string, source: string, ts: number, payload: unknown): string | undefined {
  if (payload === null || typeof payload !== 'object' || !Number.isSafeInteger(ts) || ts < 0) return undefined
  for (;;) {
    const w = writer
    w.at = 0
    w.over = false
    putPrefix(w, kind, source)
    putDigits(w, ts)
    w.b[w.at++] = 0
    if (!putObject(w, payload, 1)) return undefined
    if (w.at + 1 > w.b.length) w.over = true
    if (!w.over) {
      w.b[w.at++] = 0
      return hash('sha256', w.b.subarray(0, w.at), 'hex').slice(0, 32)
    }
    writer.b = Buffer.allocUnsafe(writer.b.length * 4)
  }
}

interface Writer {
  b: Buffer
  at: number
  /** The buffer was too small: the bytes are incomplete, write again into a larger one. */
  over: boolean
}
const writer: Writer = { b: Buffer.allocUnsafe(16 * 1024), at: 0, over: false }

/** `edge`, `kind` and `source`, each followed by a NUL, as UTF-8: made once for a run of facts of one kind and source. */
function putPrefix(w: Writer, kind: string, source: string): void {
  if (kind !== prefixKind || source !== prefixSource) {
    const p: Writer = { b: Buffer.allocUnsafe(16 + (kind.length + source.length) * 3), at: 0, over: false }
    putText(p, 'edge')
    putText(p, kind)
    putText(p, source)
    prefix = p.b.subarray(0, p.at)
    prefixKind = kind
    prefixSource = source
  }
  putSlice(w, prefix, 0, prefix.length)
}
let prefixKind = ''
let prefixSource = ''
let prefix: Buffer = Buffer.alloc(0)

/** A part as UTF-8 followed by its NUL. */
function putText(w: Writer, s: string): void {
  putUtf8(w, s)
  if (w.at < w.b.length) w.b[w.at++] = 0
  else w.over = true
}

function putUtf8(w: Writer, s: string): void {
  if (w.over) return
  const b = w.b
  const n = s.length
  if (w.at + n * 3 > b.length) {
    w.over = true
    return
  }
  w.at += utf8Into(b, s, w.at)
}

/** A non-negative safe integer's decimal digits (String(ts)), in 31-bit arithmetic: 8 digits at a time. */
function putDigits(w: Writer, v: number): void {
  if (w.at + 16 > w.b.length) {
    w.over = true
    return
  }
  if (v < 0x80000000) {
    w.at += putSmall(w.b, w.at, v)
    return
  }
  const hi = Math.floor(v / 1e8)
  let lo = v - hi * 1e8
  w.at += putSmall(w.b, w.at, hi)
  for (let i = 7; i >= 0; i--) {
    w.b[w.at + i] = 48 + (lo % 10)
    lo = (lo / 10) | 0
  }
  w.at += 8
}

/** The digits of `v` < 2^31 at `at`: how many. */
function putSmall(b: Buffer, at: number, v: number): number {
  let n = 1
  for (let x = v; x >= 10; x = (x / 10) | 0) n++
  for (let i = n - 1; i >= 0; i--) {
    b[at + i] = 48 + (v % 10)
    v = (v / 10) | 0
  }
  return n
}

/** A string as JSON.stringify writes it. */
function putJsonString(w: Writer, s: string): void {
  const n = s.length
  const b = w.b
  if (w.over || w.at + n + 2 > b.length) {
    if (!w.over) putUtf8(w, JSON.stringify(s))
    return
  }
  // printable ASCII without '"' or '\': the characters themselves between quotes
  let at = w.at
  b[at++] = 34
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 34 || c === 92) {
      putUtf8(w, JSON.stringify(s))
      return
    }
    b[at++] = c
  }
  b[at++] = 34
  w.at = at
}

function putByte(w: Writer, c: number): void {
  if (w.at < w.b.length) w.b[w.at++] = c
  else w.over = true
}

/**
 * The keys of an object shape (its keys in for-in order, Object.keys's), as canonicalJson writes
 * them: sorted, each with the JSON text before its value (`{"key":` for the first, `,"key":` after).
 */
interface Shape {
  readonly keys: readonly string[]
  /** Where each sorted key is in `keys`. */
  readonly at: Int32Array
  /** The text before the value of the `j`th sorted key is `text[starts[j], starts[j + 1])`. */
  readonly text: Buffer
  readonly starts: Int32Array
  /** No key that starts with a digit or is `__proto__` (canonicalJson's order or copy differ for those). */
  readonly ok: boolean
}

function shapeOf(keys: readonly string[]): Shape {
  const sorted = keys.slice().sort()
  const at = new Int32Array(sorted.length)
  const t: Writer = { b: Buffer.allocUnsafe(64), at: 0, over: false }
  const starts = new Int32Array(sorted.length + 1)
  let ok = true
  const index = keys.length > 32 ? new Map(keys.map((k, i) => [k, i])) : undefined
  for (let j = 0; j < sorted.length; j++) {
    const k = sorted[j]
    const c = k.charCodeAt(0)
    if ((c >= 48 && c <= 57) || k === '__proto__') ok = false
    at[j] = index ? index.get(k)! : keys.indexOf(k)
    for (;;) {
      const from = t.at
      putByte(t, j === 0 ? 123 : 44) // { or ,
      putJsonString(t, k)
      putByte(t, 58) // :
      if (!t.over) break
      const bigger = Buffer.allocUnsafe(t.b.length * 2 + k.length * 6)
      t.b.copy(bigger, 0, 0, from)
      t.b = bigger
      t.at = from
      t.over = false
    }
    starts[j + 1] = t.at
  }
  return { keys, at, text: t.b.subarray(0, t.at), starts, ok }
}

/** By nesting depth: the last two shapes met (a run of facts has one or two: an event's payload, its attrs). */
const shapes: Array<[Shape | undefined, Shape | undefined]> = [
  [undefined, undefined],
  [undefined, undefined],
]
/** By nesting depth: an object's keys and values in for-in order (reused). */
const keysAt: string[][] = [[], []]
const valuesAt: unknown[][] = [[], []]

function sameKeys(shape: Shape | undefined, keys: readonly string[], n: number): shape is Shape {
  if (shape === undefined || shape.keys.length !== n) return false
  for (let i = 0; i < n; i++) if (shape.keys[i] !== keys[i]) return false
  return true
}

/**
 * canonicalJson's text of a plain object of strings, booleans, null and finite numbers (and,
 * `depth` levels down, plain objects of those): false for anything else. The values are read
 * in for-in order (no lookup of each key by name) and written in the order of their sorted keys,
 * each after the text of its key made once for the shape.
 */
function putObject(w: Writer, value: object, depth: number): boolean {
  const p = Object.getPrototypeOf(value)
  if (p !== Object.prototype && p !== null) return false
  const o = value as Record<string, unknown>
  const keys = keysAt[depth]
  const values = valuesAt[depth]
  let n = 0
  for (const k in o) {
    keys[n] = k
    values[n++] = o[k]
  }
  const mru = shapes[depth]
  let shape = mru[0]
  if (!sameKeys(shape, keys, n)) {
    shape = mru[1]
    if (!sameKeys(shape, keys, n)) shape = shapeOf(keys.slice(0, n))
    mru[1] = mru[0]
    mru[0] = shape
  }
  if (!shape.ok) return false
  const { at, text, starts } = shape
  if (n === 0) putByte(w, 123) // {
  for (let j = 0; j < n; j++) {
    const v = values[at[j]]
    if (v === undefined) return false
    putSlice(w, text, starts[j], starts[j + 1])
    if (typeof v === 'string') putJsonString(w, v)
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return false
      if (Number.isSafeInteger(v) && v >= 0) putDigits(w, v)
      else putUtf8(w, JSON.stringify(v))
    } else if (typeof v === 'boolean') putUtf8(w, v ? 'true' : 'false')
    else if (v === null) putUtf8(w, 'null')
    else if (typeof v === 'object' && depth > 0) {
      if (!putObject(w, v, depth - 1)) return false
    } else return false
  }
  putByte(w, 125) // }
  return true
}

/** `bytes[from, to)` as they are. */
function putSlice(w: Writer, bytes: Uint8Array, from: number, to: number): void {
  if (w.over || w.at + to - from > w.b.length) {
    w.over = true
    return
  }
  const b = w.b
  let at = w.at
  for (let i = from; i < to; i++) b[at++] = bytes[i]
  w.at = at
}
