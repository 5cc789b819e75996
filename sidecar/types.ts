import type { NatsConnection } from '@nats-io/nats-core'
import type { CommandFact } from '../schemas/index.js'
import type { Versioned } from '../processors/stage.js'
import type { CompiledManifest } from '../processors/scrub/index.js'
import type { KeyPair, SignerRole, VerbRegistry } from '../keys/index.js'
import type { FsyncPolicy, WhenFull } from './wal/index.js'
import type { AcceptReason } from './errors.js'
import type { CommandStats } from './commands.js'

/** Runs one verified command. Resolve (or return) = executed; throw = failed (the message goes in the ack). */
export type CommandHandler = (args: unknown, cmd: CommandFact) => Promise<void> | void

/** A structured logger (pino's shape); the sidecar logs refusals, resyncs and start-up. */
export interface SidecarLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  debug(obj: object, msg?: string): void
}

export interface SidecarOptions {
  /** The source this sidecar speaks for (a NATS subject token): facts go to `ben.fact.<kind>.<id>`, commands come on `ben.cmd.<id>`. */
  readonly id: string
  /**
   * The NATS connection, or a promise of one: facts are accepted into the WAL at once and
   * drained once it resolves (connect with `maxReconnectAttempts: -1`). The caller owns it and
   * closes it after `close()`.
   */
  readonly nats: NatsConnection | Promise<NatsConnection>
  /**
   * The redaction manifest: a compiled one (revision 0), a versioned one, or `'kv'` (default):
   * follow KV `ben-redaction` key `manifest` like the spine's scrub, starting from the last
   * revision seen (cached next to the WAL) or the built-in default until NATS answers.
   */
  readonly manifest?: CompiledManifest | Versioned<CompiledManifest> | 'kv'
  /** Verb → handler. Verbs without a handler are refused (`unknown_verb`). */
  readonly handlers?: Readonly<Record<string, CommandHandler>>
  readonly walDir: string
  /** Signs acks. Default: `$BEN_HOME/keys/sidecar-<id>.key.json`, generated on first start. */
  readonly keyPair?: KeyPair
  /** WAL fsync policy (sidecar/wal/README.md). Default `batch`. */
  readonly fsync?: FsyncPolicy
  /** WAL size bound in bytes. Default 1 GiB. */
  readonly maxWalBytes?: number
  /** What accept() does when the WAL is full: `block` (default: wait for the drain) or `refuse` (reject with `wal_full`). */
  readonly whenFull?: WhenFull
  /** With `block`: refuse with `wal_full` after waiting this long. Default: wait. */
  readonly blockTimeoutMs?: number
  /** WAL segment size. Default 64 MiB (maxWalBytes must be ≥ 2 segments). */
  readonly walSegmentBytes?: number
  /** Verb definitions (argument schemas, required signers). Default: the built-in verbs. */
  readonly verbs?: VerbRegistry
  /** Extra signer roles this target requires per verb. */
  readonly require?: Readonly<Record<string, readonly SignerRole[]>>
  /** Subject prefix. Default `ben`. */
  readonly prefix?: string
  /** Stream/bucket name prefix of the topology (TopologyOptions.streamPrefix). Default none. */
  readonly streamPrefix?: string
  /** Command journal and manifest cache. Default: the WAL directory's parent. */
  readonly stateDir?: string
  /** Where the key is generated when `keyPair` is absent. Default `$BEN_HOME/keys`. */
  readonly keyDir?: string
  /** Register the public key in `ben-keys` with owner = id once connected. Default true. */
  readonly registerKey?: boolean
  /** Longest a handler may run before its command is acked `failed`. Default 60 s. */
  readonly handlerTimeoutMs?: number
  readonly drain?: DrainOptions
  /** Clock for command verification, acks and the hello. Default Date.now. */
  readonly now?: () => number
  readonly log?: SidecarLogger
}

export interface AcceptRejection {
  /** Position in the input (0-based for accept(), the 1-based line number for NDJSON). */
  readonly index: number
  readonly reason: AcceptReason
  readonly message: string
}

export interface AcceptResult {
  /** Facts now durable in the WAL (per the fsync policy); they reach JetStream once each. */
  readonly accepted: number
  readonly rejected: readonly AcceptRejection[]
}

export interface SidecarStatus {
  readonly id: string
  readonly pid: number
  readonly version: string
  readonly keyId: string
  readonly startedAt: number
  readonly at: number
  readonly connected: boolean
  readonly wal: {
    readonly dir: string
    readonly depthRecords: number
    readonly depthBytes: number
    readonly oldestUnsentSeq: number | null
    /** Epoch ms when the oldest fact not yet acknowledged by JetStream was accepted. */
    readonly oldestUnsentAt: number | null
    readonly lastSeq: number
    readonly ackedSeq: number
    readonly fullness: number
    readonly maxBytes: number
    readonly fsync: FsyncPolicy
    readonly whenFull: WhenFull
    readonly refused: number
    readonly blockedWaits: number
  }
  readonly intake: { readonly accepted: number; readonly rejected: Readonly<Record<string, number>> }
  readonly drain: DrainStats
  readonly commands: CommandStats
  readonly manifestRevision: number
}

export interface Sidecar extends AsyncDisposable {
  readonly id: string
  readonly keyId: string
  /** Validates (edge shape, source = id), scrubs and appends; resolves once the accepted facts are durable. */
  accept(inputs: readonly unknown[]): Promise<AcceptResult>
  /** NDJSON lines; rejections carry `firstLine + i` as their index (line numbers). Blank lines are skipped. */
  acceptLines(lines: readonly string[], firstLine?: number): Promise<AcceptResult>
  status(): SidecarStatus
  /** Resolves once NATS answered and the command consumer, trust watch and hello are up. */
  readonly online: Promise<void>
  /** Stops commands, drains what is in flight (bounded), acks the WAL, closes it. */
  close(): Promise<void>
}

export interface DrainOptions {
  /** Most facts awaiting a PubAck at once. Default 4096. */
  readonly maxInFlight?: number
  /** The WAL is acked every this many delivered records (and at least every ackIntervalMs). Default 4096. */
  readonly ackEvery?: number
  readonly ackIntervalMs?: number
  /** A PubAck not back after this long counts as a failure (then the drain resynchronises). Default 5000. */
  readonly ackTimeoutMs?: number
  /** Records read from the WAL at once. Default 1024. */
  readonly readBatch?: number
  /** Pause after a failed probe, doubling up to retryMaxMs. Defaults 100 and 5000. */
  readonly retryMinMs?: number
  readonly retryMaxMs?: number
  /**
   * Before resending after a start or a disconnect, read the last message of each of this
   * sidecar's subjects to skip facts already stored (reconcile.ts). Needs read access to the
   * stream ($JS.API.STREAM.MSG.GET); without it the duplicate window alone de-duplicates.
   * Default true.
   */
  readonly reconcile?: boolean
  /** Queueing delay (ms) the drain's publishes may cause at the server (PublisherOptions.delayTargetMs). Default DELAY_TARGET_MS. */
  readonly delayTargetMs?: number
}

/** Where the drain looks for what already landed (reconcile.ts): the stream and this sidecar's subjects. */
export interface ReconcileTarget {
  readonly stream: string
  readonly subjects: readonly string[]
}

export interface DrainStats {
  readonly connected: boolean
  /** `flowing`: a window of publishes in flight; `probing`: one fact at a time until JetStream acknowledges again. */
  readonly mode: 'flowing' | 'probing' | 'stopped'
  readonly inFlight: number
  /**
   * Routine facts the drain may have in flight now: its whole window, or less while JetStream's
   * answers come back slowly (BEN_PUBLISH_DELAY_MS): the routine backlog then waits in the WAL.
   */
  readonly routineWindow: number
  /** Facts JetStream stored (first time) since start. */
  readonly stored: number
  /** Facts JetStream already had (a redelivery after a restart or a resync): not stored twice. */
  readonly duplicates: number
  /** Resynchronisations: a disconnect, or a publish that failed or timed out. */
  readonly resyncs: number
  /** Highest WAL seq below which JetStream acknowledged everything. */
  readonly deliveredSeq: number
  /** Highest seq acked (truncated) in the WAL. */
  readonly walAckedSeq: number
  /** Epoch ms of the last PubAck. */
  readonly lastPubAckAt: number | null
  readonly lastError: string | null
  /** Records that were not sidecar records (skipped, logged). */
  readonly undecodable: number
  /** Facts found already stored when resuming (last message per subject), so not sent again. */
  readonly reconciled: number
}
