import type { Ben } from '../client/index.js'
import { factRowById, fleetSources, FACT_BY_ID_TABLES, sourceSeries, type FleetSource, type SeriesData } from '../projections/index.js'
import { replayDeps, replayIncident, type ReplayResult } from '../replay/index.js'
import { isToken, type Fact } from '../schemas/index.js'
import { StreamAdmin } from '../streams/index.js'

export type { FleetSource, SeriesData }

/** JSON for the browser: bytes as base64, bigint as text. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('base64')
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64')
    if (typeof v === 'bigint') return v.toString()
    return v
  })
}

/** A request the console refuses, with the HTTP status and a message for the page. */
export class ApiRefusal extends Error {
  override name = 'ApiRefusal'
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

const ID_RE = /^[A-Za-z0-9_:-]{4,128}$/

export function checkSource(source: string): string {
  if (!isToken(source) || source.includes('*')) throw new ApiRefusal(400, `'${source}' is not a source id`)
  return source
}

/** One fact by id (or a prefix of at least 8 characters), decoded exactly from its Avro bytes. */
export async function factById(ben: Ben, id: string): Promise<{ table: string; fact: Fact }> {
  if (!ID_RE.test(id) || id.length < 8) throw new ApiRefusal(400, `'${id}' is not a fact id (at least 8 characters)`)
  const row = await factRowById((sql) => ben.query(sql), id)
  if (row) {
    const d = ben.codec.decode(Buffer.from(row.avro, 'base64'), row.schemaFp)
    if (!d.ok) throw new ApiRefusal(500, `fact ${id} in ${row.table} does not decode: ${d.error.message}`)
    return { table: row.table, fact: d.value }
  }
  throw new ApiRefusal(404, `no fact ${id} in ${FACT_BY_ID_TABLES.join(', ')} (it may not be projected yet)`)
}

/** Sources (from recent facts), sidecars (from hello), and the pipeline's consumer lag. */
export async function fleet(
  ben: Ben,
  hellos: ReadonlyMap<string, HelloSeen>,
): Promise<{ sources: FleetSource[]; sidecars: HelloSeen[]; components: HelloSeen[]; consumers: ConsumerLag[] }> {
  const [sources, consumers] = await Promise.all([fleetSources((sql) => ben.query(sql)), consumerLag(ben)])
  const all = [...hellos.values()]
  return { sources, sidecars: all.filter((h) => h.component === 'sidecar'), components: all.filter((h) => h.component !== 'sidecar'), consumers }
}

export interface HelloSeen {
  component: string
  instance: string
  version: string
  ts: number
  info: Record<string, string>
  /** Stream time the hello was stored. */
  seenAt: number
}

export interface ConsumerLag {
  stream: string
  consumer: string
  pending: number
  ackPending: number
  redelivered: number
}

async function consumerLag(ben: Ben): Promise<ConsumerLag[]> {
  const admin = await StreamAdmin.open(ben.nc)
  const out: ConsumerLag[] = []
  for await (const s of admin.streams()) {
    for await (const c of admin.consumers(s.config.name)) {
      if (!c.config.durable_name) continue
      out.push({ stream: s.config.name, consumer: c.name, pending: c.num_pending, ackPending: c.num_ack_pending, redelivered: c.num_redelivered })
    }
  }
  return out.sort((a, b) => a.stream.localeCompare(b.stream) || a.consumer.localeCompare(b.consumer))
}

/** A source's metric series (averaged into at most ~600 steps) and its anomalies, over the window that ends at its last fact. */
export async function series(ben: Ben, source: string, windowMs: number): Promise<SeriesData> {
  const data = await sourceSeries((sql) => ben.query(sql), checkSource(source), windowMs)
  if (!data) throw new ApiRefusal(404, `no facts from source ${source}`)
  return data
}

/** Runs the replay of an incident (optionally what-if under a pasted pack) and shapes it for the page. */
export async function replay(ben: Ben, home: string, incidentId: string, whatIf?: { name: string; text: string }): Promise<unknown> {
  const r: ReplayResult & { incident?: unknown } = await replayIncident(replayDeps(ben, { home }), incidentId, {
    maxDiffs: 50,
    ...(whatIf ? { whatIf: { path: whatIf.name, text: whatIf.text } } : {}),
  })
  return {
    incident: r.incident ?? null,
    window: r.window,
    readFrom: r.readFrom,
    startedAfterScrub: r.startedAfterScrub,
    identical: r.identical,
    counts: r.counts,
    diffs: r.diffs.map((d) => ({ status: d.status, kind: d.kind, id: d.id, source: d.source, ts: d.ts, fields: d.fields })),
    whatIf: r.whatIf ?? null,
    notes: r.notes,
    stats: { inputFacts: r.stats.inputFacts, recordedFacts: r.stats.recordedFacts, elapsedMs: r.stats.elapsedMs },
  }
}
