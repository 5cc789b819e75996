/**
 * A replay telemetry worker (worker_threads): owns a set of sources, as the live stages'
 * partitions do (scrub and detect state is per source). For each batch from the reading thread
 * it decodes the raw facts, runs them through scrub and detect (the same `Telemetry` layer, the
 * same stage objects), and pairs and compares the rebuilt scrubbed facts with their recorded
 * twins by bytes. It hands back what the control layer needs — rebuilt alerts and anomalies,
 * tagged with their read position — and at the end its comparator's part (counts, diffs).
 */
import { parentPort } from 'node:worker_threads'
import { decodeMessage, LazyHeaders, Subjects } from '../streams/index.js'
import { FactCodec, Header, type AlertFact, type AnomalyFact, type Fact, type RawFact } from '../schemas/index.js'
import { Comparator, type ComparatorPart } from './compare.js'
import { ConfigHistory, ConfigSpecs, type ConfigEntry } from './configs.js'
import { peekIdTs } from './peek.js'
import { Telemetry, type TelemetryStats } from './telemetry.js'
import { readBatch, RecordKind } from './batch.js'

export interface WorkerInit {
  readonly type: 'init'
  readonly prefix: string
  readonly scrub: readonly ConfigEntry[]
  readonly detect: readonly ConfigEntry[]
  readonly from: number
  readonly to: number
  readonly sources: readonly string[] | null
  readonly lookbackStart: number
  readonly maxDiffs?: number
}
export interface WorkerBatch {
  readonly type: 'batch'
  readonly epoch: number
  readonly buffer: ArrayBuffer
  readonly length: number
}
export type ToWorker = WorkerInit | WorkerBatch | { readonly type: 'finish' }

/** A rebuilt alert or anomaly and where (read position, the reading thread's clock) it was derived. */
export interface WorkerOutput {
  readonly pos: number
  readonly nowMs: number
  readonly fact: AlertFact | AnomalyFact
}
export type FromWorker =
  | { readonly type: 'out'; readonly epoch: number; readonly outs: readonly WorkerOutput[] }
  | { readonly type: 'done'; readonly part: ComparatorPart; readonly stats: TelemetryStats; readonly inputFacts: number }
  | { readonly type: 'error'; readonly name: string; readonly code?: string; readonly message: string }

const port = parentPort
if (!port) throw new Error('replay/telemetry-worker runs as a worker thread')

let state: ReturnType<typeof setUp> | undefined

/** Subjects whose `parseRaw` remembers its answers: a replay sees a few subjects (lane × source) millions of times. */
class ParsedSubjects extends Subjects {
  private readonly parsed = new Map<string, ReturnType<Subjects['parseRaw']>>()
  override parseRaw(subject: string): ReturnType<Subjects['parseRaw']> {
    let r = this.parsed.get(subject)
    if (r === undefined && !this.parsed.has(subject)) {
      r = super.parseRaw(subject)
      if (this.parsed.size >= 100_000) this.parsed.clear()
      this.parsed.set(subject, r)
    }
    return r ?? null
  }
}

function setUp(init: WorkerInit) {
  const codec = new FactCodec()
  const sub = new ParsedSubjects(init.prefix)
  const sources = init.sources ? new Set(init.sources) : null
  const inWindow = (f: Fact) => f.ts >= init.from && f.ts <= init.to && (sources === null || sources.has(f.source))
  let pos = 0
  let nowMs = 0
  let inputFacts = 0
  let outs: WorkerOutput[] = []
  const compare = new Comparator({ codec, inWindow, maxDiffs: init.maxDiffs, at: () => pos })
  const telemetry = new Telemetry(ConfigHistory.fromRevisions(ConfigSpecs.scrub, init.scrub), ConfigHistory.fromRevisions(ConfigSpecs.detect, init.detect), {
    scrubbed: (s) => {
      compare.rebuilt(s)
      if (s.kind === 'alert') outs.push({ pos, nowMs, fact: s as AlertFact })
    },
    anomaly: (a) => outs.push({ pos, nowMs, fact: a }),
  })
  const batch = (m: WorkerBatch) => {
    for (const r of readBatch(m.buffer, m.length)) {
      pos = r.pos
      nowMs = r.nowMs
      const timeMs = r.timeNs / 1e6
      const headers = r.header ? new LazyHeaders(r.header) : undefined
      if (r.kind === RecordKind.Raw) {
        const d = decodeMessage(codec, sub, r.subject, headers, r.data, timeMs)
        if (!d.ok || d.value.ts < init.lookbackStart) continue
        inputFacts++
        telemetry.raw(d.value as RawFact, timeMs)
      } else {
        const peek = peekIdTs(r.data)
        if (!peek || peek.ts < init.lookbackStart) continue
        compare.recorded({ id: peek.id, data: r.data, fingerprint: () => headers?.get(Header.SchemaFp) ?? '' })
      }
    }
    const o = outs
    outs = []
    return o
  }
  return { batch, compare, telemetry, inputFacts: () => inputFacts }
}

const send = (m: FromWorker) => port.postMessage(m)

port.on('message', (m: ToWorker) => {
  try {
    if (m.type === 'init') state = setUp(m)
    else if (!state) throw new Error('replay worker: a batch before init')
    else if (m.type === 'batch') send({ type: 'out', epoch: m.epoch, outs: state.batch(m) })
    else {
      state.compare.finish()
      send({ type: 'done', part: state.compare.part(), stats: state.telemetry.stats, inputFacts: state.inputFacts() })
    }
  } catch (err) {
    const e = err as Error & { code?: string }
    send({ type: 'error', name: e.name, code: e.code, message: e.message })
  }
})
