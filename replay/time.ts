import { parseDuration as parseDurationText } from '../schemas/index.js'
import { ReplayError, ReplayErrorCode } from './errors.js'

export function parseDuration(text: string, what = 'duration'): number {
  const ms = parseDurationText(text)
  if (ms === undefined) throw new ReplayError(ReplayErrorCode.BadOptions, `${what} '${text}' is not a duration: write e.g. 30s, 10m, 1h, 1d or whole milliseconds`)
  return ms
}

/**
 * A point in time: ISO-8601 (`2025-11-21T10:00:00Z`), epoch milliseconds, `now`, or a duration
 * before `now` (`-1h`, `1h ago`).
 */
export function parseTime(text: string, now: number, what = 'time'): number {
  const t = text.trim()
  if (t === 'now') return now
  if (/^\d{10,}$/.test(t)) return Number(t)
  const rel = /^-(.+)$/.exec(t) ?? /^(.+?)\s+ago$/.exec(t)
  if (rel) return now - parseDuration(rel[1], what)
  const ms = Date.parse(t)
  if (Number.isFinite(ms)) return ms
  throw new ReplayError(ReplayErrorCode.BadOptions, `${what} '${text}' is not a time: write ISO-8601 (2025-11-21T10:00:00Z), epoch milliseconds, 'now' or '-1h'`)
}
