import type { AckFact, CommandFact } from '../schemas/index.js'
import {
  AckStatus,
  defaultVerbs,
  parseArgs,
  replayGuard,
  signAck,
  verifyCommand,
  type KeyPair,
  type ReplayGuard,
  type SignerRole,
  type TrustStore,
  type VerbRegistry,
} from '../keys/index.js'
import { SimulateError, SimulateErrorCode } from './errors.js'
import type { FleetEffect } from './fleet.js'

/** What a simulated target holds after the commands it executed (JSON-serialisable). */
export interface SimTargetState {
  readonly mode: string
  /** Throttled jobs and their CPU-share factor. */
  readonly throttled: Readonly<Record<string, number>>
  /** Quarantined artifacts (path, else sha256), in order. */
  readonly quarantined: readonly string[]
  readonly executed: number
  readonly failed: number
  /** Refusals by verify reason (bad_signature, expired, replayed, …). */
  readonly refused: Readonly<Record<string, number>>
}

/** Executes one verified command: the new state and the effect on the host, or throws (→ `failed`). */
export type VerbHandler = (
  args: unknown,
  state: SimTargetState,
  ctx: { readonly target: string; readonly at: number; readonly commandId: string },
) => { state: SimTargetState; effect: FleetEffect | null }

export interface SimTargetOptions {
  /** The target id = the host's source (`web-3`); commands for another target are refused. */
  readonly id: string
  /** The target's sidecar key: signs its acks. Register it in ben-keys with owner = id. */
  readonly keyPair: KeyPair
  readonly trust: TrustStore
  /** The target's clock (epoch ms); the caller's, the core never reads one. */
  readonly now: () => number
  /** Jobs that run here: throttling another one fails. Omit to accept any job name. */
  readonly jobs?: readonly string[]
  readonly verbs?: VerbRegistry
  readonly require?: Readonly<Record<string, readonly SignerRole[]>>
  /** Handlers for verbs beyond the built-in set_mode, throttle_job, quarantine_artifact. */
  readonly handlers?: Readonly<Record<string, VerbHandler>>
  /** Called with each executed command's effect (e.g. `fleet.applyEffect`); a throw makes the ack `failed`. */
  readonly onEffect?: (effect: FleetEffect) => void
  readonly replayCapacity?: number
}

export interface SimTarget {
  readonly id: string
  readonly keyId: string
  /** Verifies, executes and acknowledges one command. Never throws for a well-typed command fact. */
  handle(cmd: CommandFact): AckFact
  /** Swaps in a new trust store (a ben-keys update). */
  setTrust(trust: TrustStore): void
  state(): SimTargetState
}

export const INITIAL_TARGET_STATE: SimTargetState = Object.freeze({
  mode: 'normal',
  throttled: Object.freeze({}),
  quarantined: Object.freeze([]),
  executed: 0,
  failed: 0,
  refused: Object.freeze({}),
})

const record = (args: unknown): Record<string, unknown> => args as Record<string, unknown>

function builtins(jobs: readonly string[] | undefined): Record<string, VerbHandler> {
  return {
    set_mode: (args, state, c) => {
      const mode = String(record(args).mode)
      return { state: { ...state, mode }, effect: { verb: 'set_mode', source: c.target, at: c.at, commandId: c.commandId, mode } }
    },
    throttle_job: (args, state, c) => {
      const job = String(record(args).job)
      const factor = Number(record(args).factor)
      if (jobs && !jobs.includes(job)) throw new SimulateError(SimulateErrorCode.NoSuchThing, `job ${job} does not run on ${c.target} (jobs: ${jobs.join(', ')})`)
      return {
        state: { ...state, throttled: { ...state.throttled, [job]: factor } },
        effect: { verb: 'throttle_job', source: c.target, at: c.at, commandId: c.commandId, job, factor },
      }
    },
    quarantine_artifact: (args, state, c) => {
      const a = record(args) as { path?: string; sha256?: string }
      const name = a.path ?? a.sha256 ?? ''
      const effect: FleetEffect = {
        verb: 'quarantine_artifact',
        source: c.target,
        at: c.at,
        commandId: c.commandId,
        ...(a.path !== undefined ? { path: a.path } : {}),
        ...(a.sha256 !== undefined ? { sha256: a.sha256 } : {}),
      }
      return { state: { ...state, quarantined: [...state.quarantined, name] }, effect }
    },
  }
}

class SimTargetImpl implements SimTarget {
  private trust: TrustStore
  private current: SimTargetState = INITIAL_TARGET_STATE
  private readonly seen: ReplayGuard
  private readonly verbs: VerbRegistry
  private readonly handlers: Readonly<Record<string, VerbHandler>>

  constructor(private readonly o: SimTargetOptions) {
    if (o.keyPair.role !== 'sidecar')
      throw new SimulateError(SimulateErrorCode.BadOptions, `simulated target ${o.id}: its key ${o.keyPair.keyId} is a ${o.keyPair.role} key; acks are signed with a sidecar key`)
    this.trust = o.trust
    this.seen = replayGuard({ capacity: o.replayCapacity ?? 100_000 })
    this.verbs = o.verbs ?? defaultVerbs()
    this.handlers = { ...builtins(o.jobs), ...o.handlers }
  }

  get id(): string {
    return this.o.id
  }
  get keyId(): string {
    return this.o.keyPair.keyId
  }

  setTrust(trust: TrustStore): void {
    this.trust = trust
  }

  state(): SimTargetState {
    return this.current
  }

  handle(cmd: CommandFact): AckFact {
    const now = this.o.now()
    const c = cmd.payload
    const v = verifyCommand(c, this.trust, { target: this.o.id, now, seen: this.seen, verbs: this.verbs, ...(this.o.require ? { require: this.o.require } : {}) })
    if (!v.ok) {
      const r = v.error.reason
      this.current = { ...this.current, refused: { ...this.current.refused, [r]: (this.current.refused[r] ?? 0) + 1 } }
      return signAck(cmd, AckStatus.Refused, `${r}: ${v.error.message}`, this.o.keyPair, now)
    }
    try {
      const handler = this.handlers[c.verb]
      if (!handler) throw new SimulateError(SimulateErrorCode.NoHandler, `${this.o.id} accepts verb ${c.verb} but has no handler for it`)
      const parsed = parseArgs(this.verbs, c.verb, c.args)
      if (!parsed.ok) throw new SimulateError(SimulateErrorCode.NoHandler, parsed.error.message)
      const done = handler(parsed.value, this.current, { target: this.o.id, at: now, commandId: c.commandId })
      if (done.effect && this.o.onEffect) this.o.onEffect(done.effect)
      this.current = { ...done.state, executed: this.current.executed + 1 }
      return signAck(cmd, AckStatus.Executed, null, this.o.keyPair, now)
    } catch (err) {
      this.current = { ...this.current, failed: this.current.failed + 1 }
      const e = err as { name?: unknown; message?: unknown }
      return signAck(cmd, AckStatus.Failed, `${String(e?.name ?? 'Error')}: ${String(e?.message ?? err)}`, this.o.keyPair, now)
    }
  }
}

/** A simulated target (the sidecar's command side): verify → execute → signed ack. */
export function createSimTarget(options: SimTargetOptions): SimTarget {
  return new SimTargetImpl(options)
}
