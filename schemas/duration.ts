const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/

/**
 * Parses a duration as operators write it — `500ms`, `30s`, `10m`, `1h`, `1d`, `2w` — or whole
 * milliseconds (a number, or digits). Undefined when it is none of these. The one parser for
 * config files, CLI flags and environment variables.
 */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined
  const t = v.trim()
  if (/^\d+$/.test(t)) return Number(t)
  const m = DURATION_RE.exec(t)
  if (!m) return undefined
  const ms = Math.round(Number(m[1]) * UNITS[m[2]])
  return Number.isSafeInteger(ms) ? ms : undefined
}
