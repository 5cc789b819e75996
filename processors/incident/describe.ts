/** Formatting shared by the stage's explanations and the narrative. Pure and deterministic. */

/** UTC ISO-8601 of an event time (never the wall clock); the raw number when out of range. */
export const iso = (ts: number): string => (Number.isFinite(ts) && Math.abs(ts) <= 8.64e15 ? new Date(ts).toISOString() : String(ts))

/** Numbers in sentences: 3 significant digits, exponent form for very large or small values. */
export function fmt(x: number): string {
  if (typeof x !== 'number') return String(x)
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(2)
  return String(Number(x.toPrecision(3)))
}

/** A duration in words for sentences: `15m`, `1h30m`, `2d`, `450ms`. */
export function span(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  if (ms < 0) return `-${span(-ms)}`
  if (ms < 1000) return `${Math.round(ms)}ms`
  const units: ReadonlyArray<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ]
  let rest = Math.round(ms / 1000) * 1000
  let out = ''
  for (const [u, n] of units) {
    if (rest >= n) {
      out += `${Math.floor(rest / n)}${u}`
      rest %= n
    }
  }
  return out || '0s'
}

/** Collapses whitespace and clips to `max` characters (with an ellipsis). */
export function clip(text: string, max = 120): string {
  const t = String(text).replace(/\s+/g, ' ').trim()
  return t.length > max ? `${t.slice(0, max - 1)}…` : t
}

export const capital = (s: string): string => (s.length ? s[0].toUpperCase() + s.slice(1) : s)

/** `a`, `a and b`, `a, b and c`. */
export function listText(xs: readonly string[]): string {
  if (xs.length <= 1) return xs.join('')
  return `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`
}

/** The first 8 characters of an id, as cited in Markdown. */
export const short = (id: string): string => id.slice(0, 8)
