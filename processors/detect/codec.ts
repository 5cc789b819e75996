import type { ByteReader, ChunkWriter } from '../runner/index.js'

/**
 * The one way detector state goes to and from a checkpoint. Detector states are plain data
 * (the `Detector` contract), so one codec serves every detector, present and future: the
 * state's shape (field names, nesting, which fields are numbers and which number arrays) is
 * described once per checkpoint segment, and each record is only its numbers. A new detector
 * whose state is plain data needs nothing here.
 *
 * Numbers are written as float64 (exact: -0, NaN and ±Infinity survive, which JSON would
 * change), number arrays as u8 or int32 when every element fits, otherwise float64. Anything
 * that is not a number, an array or a plain object (a string, a boolean, null) is kept as
 * JSON text; an array that is not all numbers has one shape per element. A `Uint8Array`,
 * `Uint16Array`, `Float64Array` or `Float32Array` (compact state: the drift detector's bins and values) is
 * written as its elements, little-endian, and read back as the same kind of array.
 */
export interface StateCodec {
  /** The shape of `value`, or the same `shape` when `value` still has it. */
  shapeOf(value: unknown, hint?: Shape): Shape
  write(w: ChunkWriter, shape: Shape, value: unknown): void
  read(r: ByteReader, shape: Shape): unknown
  /** Reads past a value without building it (a lazy restore checks its bytes this way). */
  skip(r: ByteReader, shape: Shape): void
}

export type Shape = NumShape | ArrShape | ObjShape | JsonShape | TupleShape | TypedShape
interface NumShape {
  readonly t: 0
}
interface ArrShape {
  readonly t: 1
}
interface ObjShape {
  readonly t: 2
  readonly keys: readonly string[]
  readonly of: readonly Shape[]
}
interface JsonShape {
  readonly t: 3
}
/** An array that is not all numbers (the ensemble's member states): one shape per element, fixed length. */
interface TupleShape {
  readonly t: 4
  readonly of: readonly Shape[]
}

/** A typed array: `e` 0 = Uint8Array, 1 = Uint16Array, 2 = Float64Array, 3 = Float32Array. */
interface TypedShape {
  readonly t: 5
  readonly e: 0 | 1 | 2 | 3
}

const NUM: NumShape = { t: 0 }
const U8S: TypedShape = { t: 5, e: 0 }
const U16S: TypedShape = { t: 5, e: 1 }
const F64S: TypedShape = { t: 5, e: 2 }
const F32S: TypedShape = { t: 5, e: 3 }
const TYPED = [U8S, U16S, F64S, F32S] as const
/** Bytes per element of each typed array kind. */
const WIDTH = [1, 2, 8, 4] as const
const typedKind = (v: unknown): 0 | 1 | 2 | 3 | -1 =>
  v instanceof Uint8Array ? 0 : v instanceof Uint16Array ? 1 : v instanceof Float64Array ? 2 : v instanceof Float32Array ? 3 : -1
const ARR: ArrShape = { t: 1 }
const JSONV: JsonShape = { t: 3 }

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)

function isNumberArray(v: unknown): v is number[] {
  if (!Array.isArray(v)) return false
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number') return false
  return true
}

function derive(v: unknown): Shape {
  if (typeof v === 'number') return NUM
  const k = typedKind(v)
  if (k !== -1) return TYPED[k]
  if (isNumberArray(v)) return ARR
  if (Array.isArray(v)) return { t: 4, of: v.map(derive) }
  if (isPlainObject(v)) {
    const keys = Object.keys(v)
    return { t: 2, keys, of: keys.map((k) => derive(v[k])) }
  }
  return JSONV
}

/** True when `v` has exactly `s` (same keys in the same order, same kinds). */
function fits(s: Shape, v: unknown): boolean {
  switch (s.t) {
    case 0:
      return typeof v === 'number'
    case 1:
      return isNumberArray(v)
    case 2: {
      if (!isPlainObject(v)) return false
      let n = 0
      for (const k in v) {
        if (k !== s.keys[n]) return false
        if (!fits(s.of[n], v[k])) return false
        n++
      }
      return n === s.keys.length
    }
    case 3:
      return !(typeof v === 'number' || Array.isArray(v) || isPlainObject(v))
    case 4: {
      if (!Array.isArray(v) || v.length !== s.of.length || isNumberArray(v)) return false
      for (let i = 0; i < v.length; i++) if (!fits(s.of[i], v[i])) return false
      return true
    }
    case 5:
      return typedKind(v) === s.e
  }
}

/** Array element encodings. */
const Elem = { F64: 0, I32: 1, U8: 2 } as const

function writeArray(w: ChunkWriter, a: readonly number[]): void {
  let u8 = true
  let i32 = true
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    if ((x | 0) !== x || Object.is(x, -0)) {
      u8 = i32 = false
      break
    }
    if (x < 0 || x > 255) u8 = false
  }
  w.u32(a.length)
  if (u8) {
    w.u8(Elem.U8)
    for (let i = 0; i < a.length; i++) w.u8(a[i])
  } else if (i32) {
    w.u8(Elem.I32)
    for (let i = 0; i < a.length; i++) w.i32(a[i])
  } else {
    w.u8(Elem.F64)
    for (let i = 0; i < a.length; i++) w.f64(a[i])
  }
}

function readArray(r: ByteReader): number[] {
  const n = r.u32()
  const e = r.u8()
  if (e !== Elem.U8 && e !== Elem.I32 && e !== Elem.F64) throw new RangeError(`unknown array encoding ${e}`)
  // filled in place (no growth): the detectors' arrays have fixed lengths
  const a: number[] = new Array<number>(n).fill(0)
  if (e === Elem.U8) for (let i = 0; i < n; i++) a[i] = r.u8()
  else if (e === Elem.I32) for (let i = 0; i < n; i++) a[i] = r.i32()
  else for (let i = 0; i < n; i++) a[i] = r.f64()
  return a
}

function write(w: ChunkWriter, s: Shape, v: unknown): void {
  switch (s.t) {
    case 0:
      w.f64(v as number)
      return
    case 1:
      writeArray(w, v as number[])
      return
    case 2: {
      const o = v as Record<string, unknown>
      for (let i = 0; i < s.keys.length; i++) write(w, s.of[i], o[s.keys[i]])
      return
    }
    case 3:
      w.str(v === undefined ? '' : JSON.stringify(v))
      return
    case 4: {
      const a = v as unknown[]
      for (let i = 0; i < s.of.length; i++) write(w, s.of[i], a[i])
      return
    }
    case 5: {
      const a = v as Uint8Array | Uint16Array | Float64Array | Float32Array
      w.u32(a.length)
      if (s.e === 0) w.raw(a as Uint8Array)
      else if (s.e === 2) for (let i = 0; i < a.length; i++) w.f64(a[i])
      else if (s.e === 3) {
        // little-endian whatever the platform
        const b = new Uint8Array(4 * a.length)
        const view = new DataView(b.buffer)
        for (let i = 0; i < a.length; i++) view.setFloat32(4 * i, a[i], true)
        w.raw(b)
      } else
        for (let i = 0; i < a.length; i++) {
          w.u8(a[i] & 0xff)
          w.u8(a[i] >>> 8)
        }
    }
  }
}

function read(r: ByteReader, s: Shape): unknown {
  switch (s.t) {
    case 0:
      return r.f64()
    case 1:
      return readArray(r)
    case 2: {
      const o: Record<string, unknown> = {}
      for (let i = 0; i < s.keys.length; i++) o[s.keys[i]] = read(r, s.of[i])
      return o
    }
    case 3: {
      const text = r.str()
      return text === '' ? undefined : (JSON.parse(text) as unknown)
    }
    case 4:
      return s.of.map((x) => read(r, x))
    case 5: {
      const n = r.u32()
      if (s.e === 0) {
        const rest = r.rest()
        r.skip(n)
        // a copy, and a plain Uint8Array (a Buffer's slice would be a view that keeps the chunk alive)
        const a = new Uint8Array(n)
        a.set(rest.subarray(0, n))
        return a
      }
      if (s.e === 2) {
        const rest = r.rest()
        r.skip(8 * n)
        const view = new DataView(rest.buffer, rest.byteOffset, 8 * n)
        const a = new Float64Array(n)
        for (let i = 0; i < n; i++) a[i] = view.getFloat64(8 * i, true)
        return a
      }
      if (s.e === 3) {
        const rest = r.rest()
        r.skip(4 * n)
        const view = new DataView(rest.buffer, rest.byteOffset, 4 * n)
        const a = new Float32Array(n)
        for (let i = 0; i < n; i++) a[i] = view.getFloat32(4 * i, true)
        return a
      }
      const rest = r.rest()
      r.skip(2 * n)
      const a = new Uint16Array(n)
      for (let i = 0; i < n; i++) a[i] = rest[2 * i] | (rest[2 * i + 1] << 8)
      return a
    }
  }
}

/** Reads past a value of shape `s` without building it (checks that it lies within the frame). */
function skip(r: ByteReader, s: Shape): void {
  switch (s.t) {
    case 0:
      r.skip(8)
      return
    case 1: {
      const n = r.u32()
      const e = r.u8()
      if (e === Elem.U8) r.skip(n)
      else if (e === Elem.I32) r.skip(4 * n)
      else if (e === Elem.F64) r.skip(8 * n)
      else throw new RangeError(`unknown array encoding ${e}`)
      return
    }
    case 2:
      for (let i = 0; i < s.of.length; i++) skip(r, s.of[i])
      return
    case 3:
      r.skip(r.u32())
      return
    case 4:
      for (let i = 0; i < s.of.length; i++) skip(r, s.of[i])
      return
    case 5:
      r.skip(r.u32() * WIDTH[s.e])
  }
}

/** The codec of plain-data states. */
export const plainCodec: StateCodec = {
  shapeOf: (value, hint) => (hint && fits(hint, value) ? hint : derive(value)),
  write,
  read,
  skip,
}

/** A shape as bytes (in a segment's shape table). */
export function writeShape(w: ChunkWriter, s: Shape): void {
  w.u8(s.t)
  if (s.t === 5) {
    w.u8(s.e)
    return
  }
  if (s.t === 4) {
    w.u32(s.of.length)
    for (const x of s.of) writeShape(w, x)
    return
  }
  if (s.t !== 2) return
  w.u32(s.keys.length)
  for (let i = 0; i < s.keys.length; i++) {
    w.str(s.keys[i])
    writeShape(w, s.of[i])
  }
}

export function readShape(r: ByteReader, depth = 0): Shape {
  if (depth > 32) throw new RangeError('state shape nested too deep')
  const t = r.u8()
  if (t === 0) return NUM
  if (t === 1) return ARR
  if (t === 3) return JSONV
  if (t === 5) {
    const e = r.u8()
    if (e !== 0 && e !== 1 && e !== 2 && e !== 3) throw new RangeError(`unknown typed array element ${e}`)
    return TYPED[e]
  }
  if (t === 4) {
    const of: Shape[] = []
    for (let n = r.u32(); n > 0; n--) of.push(readShape(r, depth + 1))
    return { t: 4, of }
  }
  if (t !== 2) throw new RangeError(`unknown shape tag ${t}`)
  const n = r.u32()
  const keys: string[] = []
  const of: Shape[] = []
  for (let i = 0; i < n; i++) {
    keys.push(r.str())
    of.push(readShape(r, depth + 1))
  }
  return { t: 2, keys, of }
}

/** A stable text of a shape (to intern shapes per segment). */
export function shapeId(s: Shape): string {
  if (s.t === 4) return `[${s.of.map(shapeId).join(',')}]`
  if (s.t === 5) return ['u8', 'u16', 'f64', 'f32'][s.e]
  return s.t === 2 ? `{${s.keys.map((k, i) => `${JSON.stringify(k)}:${shapeId(s.of[i])}`).join(',')}}` : String(s.t)
}
