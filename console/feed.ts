import type { IncomingMessage, ServerResponse } from 'node:http'
import { merge, map, filter, type Observable } from 'rxjs'
import type { Ben, DerivedOptions } from '../client/index.js'
import { SEVERITY_ORDER, type DeadLetter, type Fact, type Severity } from '../schemas/index.js'
import type { StartAt } from '../streams/index.js'
import { ApiRefusal, jsonText } from './api.js'

/** What a live feed can carry. */
export const FEED_KINDS = ['incident', 'anomaly', 'decision', 'command', 'ack', 'dlq'] as const
export type FeedKind = (typeof FEED_KINDS)[number]

export interface FeedQuery {
  readonly kinds: readonly FeedKind[]
  readonly source?: string
  readonly severity?: Severity
  /** Epoch ms (stream time) to start from, or only new facts. */
  readonly since: number | 'new'
}

/** Reads `?kinds=&source=&severity=&since=` (since: epoch ms, `new`, or a number of minutes back as `15m`). */
export function parseFeedQuery(q: URLSearchParams, now = Date.now()): FeedQuery {
  const kinds = (q.get('kinds') ?? FEED_KINDS.join(',')).split(',').filter(Boolean)
  for (const k of kinds) if (!(FEED_KINDS as readonly string[]).includes(k)) throw new ApiRefusal(400, `kind '${k}' is not one of ${FEED_KINDS.join(', ')}`)
  const severity = q.get('severity') || undefined
  if (severity !== undefined && !(severity in SEVERITY_ORDER)) throw new ApiRefusal(400, `severity must be one of ${Object.keys(SEVERITY_ORDER).join(', ')}`)
  const s = q.get('since') ?? 'new'
  let since: number | 'new'
  if (s === 'new') since = 'new'
  else if (/^\d+m$/.test(s)) since = now - Number(s.slice(0, -1)) * 60_000
  else if (/^\d+$/.test(s)) since = Number(s)
  else throw new ApiRefusal(400, `since must be 'new', epoch ms or minutes like 15m, not '${s}'`)
  const source = q.get('source') || undefined
  return { kinds: kinds as FeedKind[], source, severity: severity as Severity | undefined, since }
}

/** One feed item: the fact itself (bytes as base64), or a dead letter without its bytes. */
export type FeedItem = { kind: FeedKind; fact?: Fact; dlq?: Omit<DeadLetter, 'data'> & { bytes: number; time: number } }

function globTest(source: string | undefined): (s: string) => boolean {
  if (!source || source === '*') return () => true
  const re = new RegExp(
    '^' +
      source
        .split('*')
        .map((p) => p.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
        .join('.*') +
      '$',
  )
  return (s) => re.test(s)
}

/**
 * The merged live feed for one browser: anomalies and incidents through the client's
 * subscriptions (client/subscriptions.ts, as `ben tail anomalies|incidents`), decisions,
 * commands, acks and dead letters through `Ben.subscribe` (as `ben tail <pattern>`).
 */
export function feed(ben: Ben, q: FeedQuery, onReject: (reason: string) => void): Observable<FeedItem> {
  const since = q.since === 'new' ? 'new' : q.since
  const start: StartAt = q.since === 'new' ? { deliver: 'new' } : { deliver: 'since', time: new Date(q.since) }
  const derived: DerivedOptions = { source: q.source, severity: q.severity, since, onReject: (r) => onReject(r.reason) }
  const wantSource = globTest(q.source)
  const min = q.severity ? SEVERITY_ORDER[q.severity] : -1
  const sev = (s: string) => min < 0 || (SEVERITY_ORDER[s as Severity] ?? -1) >= min
  const parts: Array<Observable<FeedItem>> = []
  for (const kind of q.kinds) {
    if (kind === 'anomaly') parts.push(ben.anomalies(derived).pipe(map((fact) => ({ kind, fact }))))
    else if (kind === 'incident') parts.push(ben.incidents(derived).pipe(map((fact) => ({ kind, fact }))))
    else {
      const pattern = kind === 'decision' ? ben.subjects.decisionAll : kind === 'command' ? ben.subjects.cmdAll : kind === 'ack' ? ben.subjects.ackAll : ben.subjects.dlqAll
      parts.push(
        ben.subscribe(pattern, start).pipe(
          map((d): FeedItem | null => {
            if (!d.result.ok) {
              onReject(d.result.error.reason)
              return null
            }
            if (kind === 'dlq') {
              const { data, ...rest } = d.result.value as DeadLetter
              return { kind, dlq: { ...rest, bytes: data?.length ?? 0, time: d.time } }
            }
            const f = d.result.value as Fact
            if (f.kind !== kind) return null
            if (!wantSource(f.source)) return null
            // Decisions keep the severity they decided on; commands and acks pass the severity filter.
            if (f.kind === 'decision' && !sev(f.payload.severity)) return null
            return { kind, fact: f }
          }),
          filter((x): x is FeedItem => x !== null),
        ),
      )
    }
  }
  return merge(...parts)
}

const HEARTBEAT_MS = 15_000
const MAX_BUFFERED = 2 * 1024 * 1024

/**
 * Serves a feed as Server-Sent Events until the browser goes away. A browser that cannot keep
 * up loses items rather than growing the server's memory: each loss is counted and told.
 */
export function serveFeed(req: IncomingMessage, res: ServerResponse, source: Observable<FeedItem>, counters: { dropped: number; rejected: number }): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
  res.write(`retry: 3000\n: ben console feed\n\n`)
  let dropped = 0
  const sub = source.subscribe({
    next: (item) => {
      if (res.writableLength > MAX_BUFFERED) {
        dropped++
        counters.dropped++
        return
      }
      if (dropped) {
        res.write(`event: dropped\ndata: ${dropped}\n\n`)
        dropped = 0
      }
      res.write(`data: ${jsonText(item)}\n\n`)
    },
    error: (err) => {
      res.write(`event: failure\ndata: ${JSON.stringify((err as Error).message)}\n\n`)
      res.end()
    },
  })
  const beat = setInterval(() => res.write(`: keep-alive\n\n`), HEARTBEAT_MS)
  const stop = () => {
    clearInterval(beat)
    sub.unsubscribe()
  }
  req.on('close', stop)
  res.on('close', stop)
}
