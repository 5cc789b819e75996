import { dirname, join, resolve } from 'node:path'
import type { NatsConnection } from '@nats-io/nats-core'
import { defaultRegistry, FactCodec, isToken, RAW_KINDS } from '../schemas/index.js'
import { Bucket, FactPublisher, kvName, openBucket, StreamName, streamName, Subjects } from '../streams/index.js'
import { homePaths, readEnv, VERSION } from '../infra/index.js'
import { Keyring, registerKey, TrustWatcher, defaultVerbs, verbRegistry, type KeyPair, type VerbRegistry } from '../keys/index.js'
import { isWalClosed, isWalFull, openWal, type Wal } from './wal/index.js'
import { AcceptReason, SidecarError, SidecarErrorCode } from './errors.js'
import { Intake, isRecord, type Prepared } from './intake.js'
import { releaseRecords } from './record.js'
import { Drainer } from './drain.js'
import { CommandRunner, type CommandStats } from './commands.js'
import { CommandJournal } from './journal.js'
import { ManifestFollower } from './manifest.js'
import { announce, sidecarHello } from './hello.js'
import type { AcceptRejection, AcceptResult, Sidecar, SidecarOptions, SidecarStatus } from './types.js'

const NO_COMMANDS: CommandStats = Object.freeze({ executed: 0, failed: 0, refused: {}, ignored: 0, undecodable: 0, last: null })

/**
 * Starts a sidecar: opens (and recovers) the WAL, loads or makes the key, and accepts facts at
 * once; the drain, the command consumer, the trust watch, the key registration and the hello
 * follow as soon as `options.nats` resolves. See README.md.
 */
export async function createSidecar(options: SidecarOptions): Promise<Sidecar> {
  const o = checkOptions(options)
  const now = o.now ?? Date.now
  const keyPair = o.keyPair ?? new Keyring(o.keyDir ?? homePaths(readEnv().home).keys).loadOrGenerate(`sidecar-${o.id}`, 'sidecar')
  if (keyPair.role !== 'sidecar')
    throw new SidecarError(SidecarErrorCode.Config, `sidecar ${o.id}: key ${keyPair.keyId} is a ${keyPair.role} key; acks are signed with a sidecar key`)
  const handled = handledVerbs(o.verbs ?? defaultVerbs(), o.handlers ?? {})
  const stateDir = o.stateDir ?? dirname(resolve(o.walDir))
  const manifest = o.manifest === undefined || o.manifest === 'kv' ? ManifestFollower.cached(join(stateDir, `manifest-${o.id}.json`), o.log) : ManifestFollower.fixed(o.manifest)
  const wal = await openWal({
    dir: o.walDir,
    ...(o.fsync ? { fsync: o.fsync } : {}),
    ...(o.maxWalBytes !== undefined ? { maxBytes: o.maxWalBytes } : {}),
    ...(o.whenFull ? { whenFull: o.whenFull } : {}),
    ...(o.blockTimeoutMs !== undefined ? { blockTimeoutMs: o.blockTimeoutMs } : {}),
    ...(o.walSegmentBytes !== undefined ? { segmentBytes: o.walSegmentBytes } : {}),
  })
  let journal: CommandJournal
  try {
    journal = new CommandJournal(join(stateDir, `commands-${o.id}.jsonl`), now())
  } catch (err) {
    await wal.close()
    throw new SidecarError(SidecarErrorCode.Config, `sidecar ${o.id}: cannot open the command journal in ${stateDir}: ${(err as Error).message}`, { cause: err })
  }
  return new SidecarImpl(o, now, keyPair, handled, manifest, wal, journal)
}

function checkOptions(o: SidecarOptions): SidecarOptions {
  const bad = (msg: string): never => {
    throw new SidecarError(SidecarErrorCode.Config, `createSidecar: ${msg}`)
  }
  if (typeof o?.id !== 'string' || !isToken(o.id)) bad(`id must be a NATS subject token (1-128 characters, no '.', '*', '>' or spaces), got ${JSON.stringify(o?.id)}`)
  if (typeof o.walDir !== 'string' || o.walDir.length === 0) bad('walDir must be a directory path for the write-ahead log')
  if (!o.nats || (typeof (o.nats as Promise<unknown>).then !== 'function' && typeof (o.nats as NatsConnection).publish !== 'function'))
    bad('nats must be a NatsConnection or a promise of one')
  for (const [verb, h] of Object.entries(o.handlers ?? {})) if (typeof h !== 'function') bad(`handlers.${verb} must be a function (args, cmd) => void | Promise<void>`)
  if (o.handlerTimeoutMs !== undefined && !(o.handlerTimeoutMs > 0)) bad(`handlerTimeoutMs must be a positive number of milliseconds, got ${String(o.handlerTimeoutMs)}`)
  return Object.freeze({ ...o })
}

/** The verbs this sidecar executes: those with a handler. A handler for an undefined verb is a start-up error. */
function handledVerbs(registry: VerbRegistry, handlers: Readonly<Record<string, unknown>>): VerbRegistry {
  const specs = []
  for (const verb of Object.keys(handlers)) {
    const spec = registry.get(verb)
    if (!spec)
      throw new SidecarError(
        SidecarErrorCode.UnknownVerb,
        `createSidecar: handler for '${verb}', a verb the registry does not define (known: ${[...registry.keys()].sort().join(', ')}); define it with defineVerb and pass verbs`,
      )
    specs.push(spec)
  }
  return verbRegistry(specs)
}

class SidecarImpl implements Sidecar {
  readonly id: string
  readonly online: Promise<void>
  private readonly subjects: Subjects
  private readonly codec = new FactCodec(defaultRegistry())
  private readonly intake: Intake
  private readonly startedAt: number
  private drainer: Drainer | undefined
  private runner: CommandRunner | undefined
  private trust: TrustWatcher | undefined
  private ackPublisher: FactPublisher | undefined
  private closed = false
  private closing: Promise<void> | undefined
  private accepted = 0
  private readonly rejected: Record<string, number> = {}

  constructor(
    private readonly o: SidecarOptions,
    private readonly now: () => number,
    private readonly keyPair: KeyPair,
    private readonly verbs: VerbRegistry,
    private readonly manifest: ManifestFollower,
    private readonly wal: Wal,
    private readonly journal: CommandJournal,
  ) {
    this.id = o.id
    this.startedAt = now()
    this.subjects = new Subjects(o.prefix ?? 'ben')
    this.intake = new Intake(o.id, this.subjects, this.codec, manifest.get)
    this.online = Promise.resolve(o.nats).then((nc) => this.goOnline(nc))
    this.online.catch((err) => o.log?.error({ err: (err as Error).message }, 'sidecar could not go online'))
  }

  get keyId(): string {
    return this.keyPair.keyId
  }

  accept(inputs: readonly unknown[]): Promise<AcceptResult> {
    if (this.closed) return Promise.reject(this.closedError('accept'))
    if (!Array.isArray(inputs))
      return Promise.reject(new SidecarError(SidecarErrorCode.Config, `sidecar ${this.id}: accept() takes an array of facts in the edge shape, got ${typeof inputs}`))
    const prepared = new Array<Prepared>(inputs.length)
    // the batch arrived at once: one reading of the clock for its future-skew checks
    const arrivedAt = Date.now()
    for (let i = 0; i < inputs.length; i++) prepared[i] = this.intake.prepare(inputs[i], arrivedAt)
    return this.commit(prepared, 0)
  }

  acceptLines(lines: readonly string[], firstLine = 1): Promise<AcceptResult> {
    if (this.closed) return Promise.reject(this.closedError('accept'))
    if (!Array.isArray(lines))
      return Promise.reject(new SidecarError(SidecarErrorCode.Config, `sidecar ${this.id}: acceptLines() takes an array of NDJSON lines, got ${typeof lines}`))
    const prepared = new Array<Prepared | null>(lines.length)
    const arrivedAt = Date.now()
    for (let i = 0; i < lines.length; i++) prepared[i] = typeof lines[i] !== 'string' || lines[i].trim() === '' ? null : this.intake.prepareLine(lines[i], arrivedAt)
    return this.commit(prepared, firstLine)
  }

  private async commit(prepared: ReadonlyArray<Prepared | null>, base: number): Promise<AcceptResult> {
    const records: Buffer[] = []
    let rejected: AcceptRejection[] = []
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i]
      if (p === null) continue
      if (isRecord(p)) records.push(p)
      else rejected.push({ index: base + i, reason: p.reason, message: p.message })
    }
    if (records.length > 0) {
      try {
        await this.wal.append(records)
        releaseRecords(records) // copied into the WAL's own buffer when written
        this.drainer?.notify()
      } catch (err) {
        releaseRecords(records) // settled: not written, or copied already
        if (!isWalFull(err))
          throw isWalClosed(err)
            ? this.closedError('accept')
            : new SidecarError(SidecarErrorCode.Wal, `sidecar ${this.id}: the WAL refused the append: ${(err as Error).message}`, { cause: err })
        const message = `${(err as Error).message} (sidecar ${this.id}: nothing of this batch was written; send it again once the bus drains the backlog)`
        for (let i = 0; i < prepared.length; i++) if (prepared[i] !== null && isRecord(prepared[i]!)) rejected.push({ index: base + i, reason: AcceptReason.WalFull, message })
        rejected = rejected.sort((a, b) => a.index - b.index)
        records.length = 0
      }
    }
    this.accepted += records.length
    for (const r of rejected) this.rejected[r.reason] = (this.rejected[r.reason] ?? 0) + 1
    return { accepted: records.length, rejected }
  }

  status(): SidecarStatus {
    const w = this.wal.stats()
    const d = this.drainer
    // With a drain running, "unsent" means not yet acknowledged by JetStream (the WAL's own
    // ack trails it by up to ackIntervalMs); before that, what the WAL holds.
    const oldest = d ? d.oldestPending() : w.oldestUnackedSeq !== undefined ? { seq: w.oldestUnackedSeq, appendedAt: w.oldestUnackedAppendedAt } : null
    // (a fact not read from the WAL yet is dated by the WAL's oldest unacked record: at most that old)
    const oldestAt = oldest ? (oldest.appendedAt ?? w.oldestUnackedAppendedAt) : undefined
    const drain = d?.stats() ?? {
      connected: false,
      mode: this.closed ? 'stopped' : 'probing',
      inFlight: 0,
      routineWindow: 0,
      stored: 0,
      duplicates: 0,
      resyncs: 0,
      deliveredSeq: w.ackedSeq,
      walAckedSeq: w.ackedSeq,
      lastPubAckAt: null,
      lastError: 'not connected to NATS yet',
      undecodable: 0,
      reconciled: 0,
    }
    return {
      id: this.id,
      pid: process.pid,
      version: VERSION,
      keyId: this.keyPair.keyId,
      startedAt: this.startedAt,
      at: Date.now(),
      connected: drain.connected,
      wal: {
        dir: this.o.walDir,
        depthRecords: w.lastSeq - drain.deliveredSeq,
        depthBytes: w.depthBytes,
        oldestUnsentSeq: oldest?.seq ?? null,
        oldestUnsentAt: oldestAt ?? null,
        lastSeq: w.lastSeq,
        ackedSeq: w.ackedSeq,
        fullness: w.fullness,
        maxBytes: w.maxBytes,
        fsync: w.fsync,
        whenFull: w.whenFull,
        refused: w.counters.refused,
        blockedWaits: w.counters.blockedWaits,
      },
      intake: { accepted: this.accepted, rejected: { ...this.rejected } },
      drain,
      commands: this.runner?.stats() ?? NO_COMMANDS,
      manifestRevision: this.manifest.get().revision,
    }
  }

  close(): Promise<void> {
    this.closing ??= this.doClose()
    return this.closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  private async doClose(): Promise<void> {
    this.closed = true
    await this.runner?.stop().catch(() => undefined)
    this.trust?.close()
    this.manifest.close()
    await this.drainer?.close()
    if (this.ackPublisher) await Promise.race([this.ackPublisher.close(), new Promise((r) => setTimeout(r, 2000).unref())])
    this.journal.close()
    await this.wal.close()
  }

  private closedError(what: string): SidecarError {
    return new SidecarError(SidecarErrorCode.Closed, `sidecar ${this.id} is closed (or closing): ${what} refused`)
  }

  /** Drain at once; then the manifest watch, trust, key registration, commands and the hello, retried until they work. */
  private async goOnline(nc: NatsConnection): Promise<void> {
    if (this.closed) return
    this.drainer = new Drainer(this.wal, nc, this.subjects, this.codec, this.o.log, this.o.drain, {
      stream: streamName({ streamPrefix: this.o.streamPrefix }, StreamName.Facts),
      subjects: RAW_KINDS.map((k) => this.subjects.fact(k, this.id)),
    })
    let delay = 500
    for (;;) {
      if (this.closed) return
      try {
        await this.startCommandSide(nc)
        return
      } catch (err) {
        this.o.log?.warn({ err: (err as Error).message, retryInMs: delay }, 'sidecar command side not up yet (is the topology there? is ben up running?); facts still drain')
        await new Promise((r) => setTimeout(r, delay).unref())
        delay = Math.min(delay * 2, 10_000)
      }
    }
  }

  private async startCommandSide(nc: NatsConnection): Promise<void> {
    const o = this.o
    const prefix = { streamPrefix: o.streamPrefix }
    // Both of these may be refused to a sidecar's NATS user: the sidecar carries on without them.
    await this.manifest
      .follow(nc, o.streamPrefix)
      .catch((err: Error) =>
        o.log?.warn(
          { err: err.message, revision: this.manifest.get().revision },
          'cannot follow ben-redaction (read access to the bucket?); scrubbing with the cached or built-in manifest',
        ),
      )
    if (this.closed) return this.manifest.close()
    if (!this.trust) {
      const trust = await TrustWatcher.open(nc, kvName(prefix, Bucket.Keys))
      if (this.closed) return trust.close()
      this.trust = trust
    }
    if (o.registerKey !== false) {
      await registerKey(await openBucket(nc, kvName(prefix, Bucket.Keys)), this.keyPair, { owner: this.id }).catch((err: Error) =>
        o.log?.warn(
          { err: err.message, keyId: this.keyPair.keyId },
          `cannot register the sidecar key in ben-keys; register it as an operator: ben keys register --name sidecar-${this.id} --owner ${this.id}`,
        ),
      )
    }
    if (this.closed) return
    this.ackPublisher ??= new FactPublisher(nc, this.subjects, this.codec)
    const trust = this.trust
    const runner = new CommandRunner({
      id: this.id,
      nc,
      subjects: this.subjects,
      codec: this.codec,
      stream: streamName(prefix, StreamName.Commands),
      keyPair: this.keyPair,
      trust: () => trust.get(),
      verbs: this.verbs,
      handlers: o.handlers ?? {},
      ...(o.require ? { require: o.require } : {}),
      journal: this.journal,
      publisher: this.ackPublisher,
      now: this.now,
      handlerTimeoutMs: o.handlerTimeoutMs ?? 60_000,
      ...(o.log ? { log: o.log } : {}),
    })
    await runner.start()
    if (this.closed) {
      await runner.stop()
      return
    }
    this.runner = runner
    const w = this.wal.stats()
    const r = this.wal.recovery
    await announce(
      nc,
      this.subjects,
      this.codec.registry,
      sidecarHello(this.id, VERSION, this.now(), {
        verbs: [...this.verbs.keys()].sort().join(','),
        keyId: this.keyPair.keyId,
        walDepth: w.depthRecords,
        walLastSeq: w.lastSeq,
        walAckedSeq: w.ackedSeq,
        walFsync: w.fsync,
        walWhenFull: w.whenFull,
        walMaxBytes: w.maxBytes,
        walRecoveredRecords: r.records,
        walTruncatedBytes: r.truncatedBytes,
        manifestRevision: this.manifest.get().revision,
        pid: process.pid,
      }),
    ).catch((err) => o.log?.warn({ err: (err as Error).message }, 'sidecar hello not stored'))
    o.log?.info({ id: this.id, keyId: this.keyPair.keyId, verbs: [...this.verbs.keys()] }, 'sidecar online')
  }
}
