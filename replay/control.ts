import type { CommandFact, DecisionFact, Fact, IncidentFact } from '../schemas/index.js'
import type { CompiledPack, PolicyInput, PolicyState } from '../processors/policy/index.js'
import type { ActState } from '../processors/act/index.js'
import type { IncidentConfig, IncidentInput, IncidentState } from '../processors/incident/index.js'
import { stepSafely } from '../processors/stage.js'
import { PIPELINE } from '../processors/pipeline.js'
import type { ActConfigs, ConfigHistory } from './configs.js'

const {
  policy: { stage: policyStage },
  act: { stage: actStage },
  incident: { stage: incidentStage },
} = PIPELINE

/** Where the control layer's rebuilt facts go. */
export interface ControlOut {
  decision(f: DecisionFact): void
  command(f: CommandFact): void
  incident(f: IncidentFact): void
}

export interface ControlStats {
  policyInputs: number
  decisions: number
  commands: number
  incidentInputs: number
  incidents: number
  /** Inputs a recorded output points at that the rebuild does not have. */
  unresolved: number
}

type Lane = 'alert' | 'anomaly'
const laneOf = (f: Fact): Lane => (f.kind === 'alert' ? 'alert' : 'anomaly')

/** A FIFO of ids with O(1) shift. */
class Fifo {
  private items: string[] = []
  private head = 0
  get size(): number {
    return this.items.length - this.head
  }
  push(id: string): void {
    this.items.push(id)
  }
  peek(): string | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined
  }
  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined
    const v = this.items[this.head++]
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return v
  }
}

const MAX_STORE = 250_000
const MAX_LANE = 100_000
const MAX_UNANNOUNCED = 20_000

/**
 * The control layer: policy, act and incident — the stage objects `ben up` runs — fed in the
 * order the live stages processed their inputs, which the recorded outputs reveal:
 *
 * - **policy** reads two lanes (alerts before anomalies when both are queued). Each recorded
 *   decision names its input (lineage[0]) and the pack revision; the input is processed then,
 *   after every earlier input of the same lane (those made no decision live, or theirs would
 *   have come first). Inputs that never got a decision change no limit, so their place across
 *   lanes does not matter.
 * - **act** takes each rebuilt decision as it is made (one lane, decision order).
 * - **incident** reads five lanes; every input it accepts yields at least one incident fact
 *   whose lineage[0] is that input, so the recorded incident facts give its exact order and
 *   revision.
 *
 * Inputs are the rebuilt facts where the replay rebuilds them (sources in scope, every
 * decision, act's commands) and the recorded ones otherwise (other sources' anomalies and
 * alerts, acks, operator approvals). They wait in a bounded store until both consumers took them.
 */
export class Control {
  readonly stats: ControlStats = { policyInputs: 0, decisions: 0, commands: 0, incidentInputs: 0, incidents: 0, unresolved: 0 }
  private readonly store = new Map<string, { fact: Fact; uses: number }>()
  private readonly lanes: Record<Lane, Fifo> = { alert: new Fifo(), anomaly: new Fifo() }
  private readonly queued = new Map<string, Lane>()
  private readonly unannounced = new Map<string, Lane>()
  /** Inputs policy has taken (bounded, oldest forgotten first): a late twin is not evaluated twice. */
  private readonly evaluated = new Set<string>()
  private policyState: PolicyState = policyStage.initialState()
  private actState: ActState = actStage.initialState()
  private incidentState: IncidentState = incidentStage.initialState()
  private policyRev = -1
  private lastIncidentInput: string | undefined

  constructor(
    private readonly packs: ConfigHistory<CompiledPack>,
    private readonly acts: ActConfigs | undefined,
    private readonly incidents: ConfigHistory<IncidentConfig>,
    private readonly out: ControlOut,
    /** Revision of the pack for an input no recorded decision names (what was active then). */
    private readonly packRevisionNow: () => number,
  ) {}

  /** Whether act runs (it needs the issuer key); otherwise recorded commands stand in. */
  get acting(): boolean {
    return this.acts !== undefined
  }

  /** A rebuilt anomaly or scrubbed alert of a source in scope; its recorded twin announces it. */
  rebuiltInput(f: PolicyInput): void {
    this.put(f, 2)
    this.unannounced.set(f.id, laneOf(f))
    if (this.unannounced.size > MAX_UNANNOUNCED) {
      const [id, lane] = this.unannounced.entries().next().value as [string, Lane]
      this.unannounced.delete(id)
      this.enqueue(lane, id)
    }
  }

  /** The recorded twin of a rebuilt input (or a recorded input the rebuild lacks) went by. */
  announce(id: string, kind: string): void {
    const lane: Lane = kind === 'alert' ? 'alert' : 'anomaly'
    this.unannounced.delete(id)
    this.enqueue(lane, id)
  }

  /** A recorded anomaly or scrubbed alert of another source: taken as it is. */
  recordedInput(f: PolicyInput): void {
    this.put(f, 2)
    this.enqueue(laneOf(f), f.id)
  }

  /** A recorded fact the replay does not rebuild (acks, operator commands): incident input only. */
  recordedOther(f: Fact): void {
    this.put(f, 1)
  }

  /**
   * A recorded decision: its input is processed now, under its pack revision, after the inputs
   * queued before it in its lane. An input whose recorded twin has not gone by in lane order
   * (deleted from DERIVED, or not recorded) is processed at once, without touching the lanes.
   */
  decided(inputId: string, revision: number): void {
    const lane = this.queued.get(inputId)
    if (lane === undefined) {
      this.unannounced.delete(inputId)
      if (this.evaluated.has(inputId)) return
      this.evaluate(inputId, revision)
      return
    }
    const q = this.lanes[lane]
    for (let id = q.shift(); id !== undefined; id = q.shift()) {
      this.queued.delete(id)
      if (id === inputId) {
        this.evaluate(id, revision)
        return
      }
      this.evaluate(id, this.currentRevision())
    }
  }

  /** A recorded incident fact: its input (lineage[0]) is processed now, under its revision. */
  incident(inputId: string, revision: number): void {
    if (inputId === this.lastIncidentInput) return
    this.lastIncidentInput = inputId
    const f = this.take(inputId)
    if (!f) {
      this.stats.unresolved++
      return
    }
    this.stats.incidentInputs++
    const r = stepSafely(incidentStage, this.incidentState, f as IncidentInput, this.incidents.at(revision))
    this.incidentState = r.state
    for (const o of r.out as IncidentFact[]) {
      this.stats.incidents++
      this.out.incident(o)
    }
  }

  /** End of input: inputs still waiting are evaluated (they made no decision live). */
  finish(): void {
    for (const [id, lane] of this.unannounced) this.enqueue(lane, id)
    this.unannounced.clear()
    for (const lane of ['alert', 'anomaly'] as const) {
      const q = this.lanes[lane]
      for (let id = q.shift(); id !== undefined; id = q.shift()) {
        this.queued.delete(id)
        this.evaluate(id, this.currentRevision())
      }
    }
  }

  private currentRevision(): number {
    return this.policyRev >= 0 ? this.policyRev : this.packRevisionNow()
  }

  private enqueue(lane: Lane, id: string): void {
    if (this.queued.has(id) || this.evaluated.has(id)) return
    this.queued.set(id, lane)
    const q = this.lanes[lane]
    q.push(id)
    if (q.size > MAX_LANE) {
      // far older than any decision still to come: it made none
      const old = q.shift()!
      this.queued.delete(old)
      this.evaluate(old, this.currentRevision())
    }
  }

  private put(f: Fact, uses: number): void {
    if (this.store.has(f.id)) return
    this.store.set(f.id, { fact: f, uses })
    if (this.store.size > MAX_STORE) this.store.delete(this.store.keys().next().value as string)
  }

  private take(id: string): Fact | undefined {
    const e = this.store.get(id)
    if (!e) return undefined
    if (--e.uses <= 0) this.store.delete(id)
    return e.fact
  }

  private evaluate(id: string, revision: number): void {
    if (this.evaluated.has(id)) return
    this.evaluated.add(id)
    if (this.evaluated.size > MAX_STORE) this.evaluated.delete(this.evaluated.values().next().value as string)
    const f = this.take(id)
    if (!f) {
      this.stats.unresolved++
      return
    }
    this.stats.policyInputs++
    this.policyRev = revision
    const r = stepSafely(policyStage, this.policyState, f as PolicyInput, this.packs.at(revision))
    this.policyState = r.state
    for (const d of r.out as DecisionFact[]) {
      this.stats.decisions++
      this.put(d, 1)
      this.out.decision(d)
      this.act(d)
    }
  }

  private act(d: DecisionFact): void {
    if (!this.acts) return
    const r = stepSafely(actStage, this.actState, d, this.acts.at(d.payload.packRevision))
    this.actState = r.state
    for (const c of r.out as CommandFact[]) {
      this.stats.commands++
      this.put(c, 1)
      this.out.command(c)
    }
  }
}
