/** Parsing helpers for the offline CSV format (`timestamp,value`). */

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]00:?00)?$/
const EPOCH_RE = /^-?\d{1,16}$/

/**
 * A timestamp as in the NAB files, `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC; `T` and a `Z` suffix
 * are accepted too), or epoch milliseconds. Returns NaN when it is neither.
 */
export function parseTimestamp(text: string): number {
  const t = text.trim()
  if (EPOCH_RE.test(t)) return Number(t)
  const m = DATE_RE.exec(t)
  if (!m) return NaN
  const ms = m[7] ? Number((m[7] + '00').slice(0, 3)) : 0
  const v = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), m[6] ? Number(m[6]) : 0, ms)
  return Number.isFinite(v) ? v : NaN
}

/** A finite number, or NaN (empty cells, `NaN`, `inf` and junk all give NaN). */
export function parseValue(text: string): number {
  const t = text.trim()
  if (t === '') return NaN
  const v = Number(t)
  return Number.isFinite(v) ? v : NaN
}

/** Splits `timestamp,value[,...]`, with optional double quotes around either cell. */
export function splitRow(line: string): [string, string] | null {
  const comma = line.indexOf(',')
  if (comma < 0) return null
  const next = line.indexOf(',', comma + 1)
  return [unquote(line.slice(0, comma)), unquote(next < 0 ? line.slice(comma + 1) : line.slice(comma + 1, next))]
}

function unquote(s: string): string {
  const t = s.trim()
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t
}

/** True when the header's first two columns are `timestamp` and `value` (any case, BOM allowed). */
export function isHeader(line: string): boolean {
  const cells = splitRow(line.replace(/^\uFEFF/, ''))
  return !!cells && cells[0].toLowerCase() === 'timestamp' && cells[1].toLowerCase() === 'value'
}
