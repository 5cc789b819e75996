import { countOutcome, countRefusal, lanesOf } from '../count.js'
import { DropReason, IntakeError, IntakeErrorCode } from '../errors.js'
import type { IntakeSink } from '../sink.js'
import { toToken } from '../otlp/mapping.js'
import { parseExposition } from './parse.js'

export interface ScrapeTarget {
  /** The source its samples are facts of (`ben up`); a sidecar uses its own id. */
  readonly source: string
  readonly url: string
}

export interface ScrapeOptions {
  /** Default 15 s. */
  readonly intervalMs?: number
  /** Per scrape. Default 10 s. */
  readonly timeoutMs?: number
  /** Only metric names matching this. Default all. */
  readonly match?: RegExp
  /** Largest exposition read. Default 16 MiB. */
  readonly maxBytes?: number
  readonly now?: () => number
  readonly log?: { warn(obj: object, msg?: string): void }
}

export interface ScrapeReport {
  readonly target: string
  readonly samples: number
  readonly accepted: number
  readonly dropped: number
  readonly error?: string
}

/**
 * `name=url` (source `name`) or `url` (source: the URL's host:port made a token, as Prometheus'
 * `instance`).
 */
export function parseTarget(text: string): ScrapeTarget {
  const eq = text.indexOf('=')
  const named = eq > 0 && !text.slice(0, eq).includes('/')
  const url = named ? text.slice(eq + 1) : text
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new IntakeError(IntakeErrorCode.Config, `--scrape '${text}': not a URL (e.g. http://127.0.0.1:9100/metrics or web-3=http://127.0.0.1:9100/metrics)`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new IntakeError(IntakeErrorCode.Config, `--scrape '${text}': only http and https`)
  return { source: named ? toToken(text.slice(0, eq)) : toToken(u.host), url }
}

const DOOR = 'scrape'

/** One scrape of one target: pull, parse, map to metric facts, hand to the sink. Never throws. */
export async function scrapeOnce(sink: IntakeSink, target: ScrapeTarget, opts: ScrapeOptions = {}): Promise<ScrapeReport> {
  const now = opts.now ?? Date.now
  let text: string
  try {
    const res = await fetch(target.url, { headers: { Accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' }, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    const len = Number(res.headers.get('content-length') ?? 0)
    if (len > (opts.maxBytes ?? 16 << 20)) throw new Error(`exposition of ${len} bytes is over the limit`)
    text = await res.text()
  } catch (err) {
    countRefusal(DOOR, DropReason.TargetDown)
    return { target: target.url, samples: 0, accepted: 0, dropped: 0, error: (err as Error).message }
  }
  const at = now()
  const { samples, errors } = parseExposition(text)
  const facts: unknown[] = []
  const dropped: Array<{ reason: string }> = errors.map(() => ({ reason: DropReason.Malformed }))
  for (const s of samples) {
    if (opts.match && !opts.match.test(s.name)) continue
    if (!Number.isFinite(s.value)) {
      dropped.push({ reason: DropReason.NoValue })
      continue
    }
    facts.push({ lane: 'metric', source: sink.source ?? target.source, ts: s.ts ?? at, name: s.name, value: s.value, labels: s.labels })
  }
  const r = facts.length ? await sink.accept(facts) : undefined
  countOutcome(DOOR, facts.length + dropped.length, lanesOf(facts), r, dropped)
  if (errors.length) opts.log?.warn({ target: target.url, lines: errors.length, first: errors[0] }, 'scrape: unreadable exposition lines')
  return { target: target.url, samples: samples.length, accepted: r?.accepted ?? 0, dropped: dropped.length + (r?.rejected.length ?? 0) }
}

export interface Scraper {
  close(): Promise<void>
}

/** Scrapes every target every interval (one at a time per target; a slow target never piles up). */
export function startScraper(sink: IntakeSink, targets: readonly ScrapeTarget[], opts: ScrapeOptions = {}): Scraper {
  const interval = opts.intervalMs ?? 15_000
  let stopped = false
  const wake: Array<(() => void) | undefined> = targets.map(() => undefined)
  const loops = targets.map(async (t, k) => {
    while (!stopped) {
      const started = Date.now()
      const r = await scrapeOnce(sink, t, opts)
      if (r.error) opts.log?.warn({ target: t.url, err: r.error }, 'scrape failed')
      const wait = Math.max(0, interval - (Date.now() - started))
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait)
        wake[k] = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })
  return {
    close: async () => {
      stopped = true
      for (const w of wake) w?.()
      await Promise.all(loops)
    },
  }
}
