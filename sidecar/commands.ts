import type { NatsConnection } from '@nats-io/nats-core'
import type { AckFact, CommandFact, FactCodec } from '../schemas/index.js'
import { decodeMessage, ensureDurable, pullDurable, type FactPublisher, type PulledMessage, type Subjects } from '../streams/index.js'
import { AckStatus, parseArgs, replayGuard, signAck, verifyCommand, type KeyPair, type ReplayGuard, type SignerRole, type TrustStore, type VerbRegistry } from '../keys/index.js'
import type { CommandJournal } from './journal.js'
import type { CommandHandler, SidecarLogger } from './types.js'

export interface CommandStats {
  readonly executed: number
  readonly failed: number
  /** Refusals by verify reason (bad_signature, expired, replayed, unknown_verb, …). */
  readonly refused: Readonly<Record<string, number>>
  /** Proposed and rejected command records: not executable, not answered. */
  readonly ignored: number
  /** Messages on ben.cmd.<id> that were not command facts. */
  readonly undecodable: number
  readonly last: { readonly commandId: string; readonly verb: string; readonly status: string; readonly reason: string | null; readonly at: number } | null
}

export interface CommandRunnerOptions {
  readonly id: string
  readonly nc: NatsConnection
  readonly subjects: Subjects
  readonly codec: FactCodec
  readonly stream: string
  readonly keyPair: KeyPair
  readonly trust: () => TrustStore
  /** Only the verbs this sidecar handles: any other is refused `unknown_verb`. */
  readonly verbs: VerbRegistry
  readonly handlers: Readonly<Record<string, CommandHandler>>
  readonly require?: Readonly<Record<string, readonly SignerRole[]>>
  readonly journal: CommandJournal
  readonly publisher: FactPublisher
  readonly now: () => number
  readonly handlerTimeoutMs: number
  readonly log?: SidecarLogger
}

const NOT_EXECUTABLE = new Set(['proposed', 'rejected'])

/**
 * The command side: a durable consumer `sidecar-<id>` on COMMANDS filtered to `ben.cmd.<id>`;
 * each command is verified (signature, trust and revocation from the live ben-keys watch,
 * verb, arguments, target, time, signers, replay), its handler runs, and a signed ack
 * (executed / refused with the reason / failed with the error) is published on `ben.ack.<id>`.
 * The message is acked only after the ack fact is stored, so a crash re-delivers it; the
 * journal turns that re-delivery into the same ack, not a second execution.
 */
export class CommandRunner {
  private readonly seen: ReplayGuard = replayGuard()
  private stopFn: (() => void) | undefined
  private stopped = false
  private loop: Promise<void> = Promise.resolve()
  private executed = 0
  private failed = 0
  private ignored = 0
  private undecodable = 0
  private readonly refused: Record<string, number> = {}
  private last: CommandStats['last'] = null

  constructor(private readonly o: CommandRunnerOptions) {
    const now = o.now()
    for (const e of o.journal.all()) if (e.expiresAt > now) this.seen.remember(e.commandId, e.nonce, e.expiresAt, now)
  }

  get durable(): string {
    return `sidecar-${this.o.id}`
  }

  async start(): Promise<void> {
    const { nc, stream } = this.o
    await ensureDurable(nc, { stream, durable: this.durable, filterSubject: this.o.subjects.cmd(this.o.id), maxAckPending: 64, ackWaitMs: 30_000, deliver: 'all' })
    const messages = await pullDurable(nc, stream, this.durable, { maxMessages: 16 })
    this.stopFn = () => messages.stop()
    if (this.stopped) messages.stop()
    this.loop = (async () => {
      for await (const m of messages) {
        if (this.stopped) break
        await this.onMessage(m).catch((err) => {
          this.o.log?.error({ seq: m.seq, err: (err as Error).message }, 'command handling failed; redelivering')
          m.nak(2000)
        })
      }
    })()
  }

  stats(): CommandStats {
    return { executed: this.executed, failed: this.failed, refused: { ...this.refused }, ignored: this.ignored, undecodable: this.undecodable, last: this.last }
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.stopFn?.()
    await this.loop
  }

  private async onMessage(m: PulledMessage): Promise<void> {
    const r = decodeMessage(this.o.codec, this.o.subjects, m.subject, m.headers, m.data)
    if (!r.ok || r.value.kind !== 'command') {
      this.undecodable++
      this.o.log?.warn({ seq: m.seq, subject: m.subject, reason: r.ok ? `a ${r.value.kind} fact` : r.error.message }, 'not a command fact; skipped')
      m.term()
      return
    }
    const cmd = r.value
    if (NOT_EXECUTABLE.has(cmd.payload.status)) {
      this.ignored++ // a proposal or a rejection is a record, not an instruction
      m.ack()
      return
    }
    const ack = await this.decide(cmd, m)
    const out = await this.o.publisher.publish(ack, this.o.subjects.ack(this.o.id))
    if (out.status === 'failed') {
      this.o.log?.warn({ commandId: cmd.payload.commandId, err: out.error }, 'ack not stored; the command will be redelivered and answered again')
      m.nak(2000)
      return
    }
    const p = ack.payload
    this.last = { commandId: p.commandId, verb: p.verb, status: p.status, reason: p.reason, at: ack.ts }
    await m.ackAck().catch(() => m.ack())
  }

  /** Verify, run, journal: the ack this command earns. */
  private async decide(cmd: CommandFact, m: PulledMessage): Promise<AckFact> {
    const c = cmd.payload
    const { journal, keyPair } = this.o
    const now = this.o.now()
    const prior = journal.get(c.commandId)
    if (prior && prior.seq === m.seq) {
      // The same message again (we stopped before acking it): answer as before, never run twice.
      if (prior.status) return signAck(cmd, prior.status, prior.reason ?? null, keyPair, now)
      const reason = 'interrupted: the sidecar stopped while the handler ran; whether it took effect is unknown, so it is not run again'
      journal.done(c.commandId, AckStatus.Failed, reason)
      this.failed++
      return signAck(cmd, AckStatus.Failed, reason, keyPair, now)
    }
    const v = verifyCommand(c, this.o.trust(), { target: this.o.id, now, seen: this.seen, verbs: this.o.verbs, ...(this.o.require ? { require: this.o.require } : {}) })
    if (!v.ok) {
      const { reason, message } = v.error
      this.refused[reason] = (this.refused[reason] ?? 0) + 1
      this.o.log?.warn({ commandId: c.commandId, verb: c.verb, keyId: c.keyId, reason }, `command refused: ${message}`)
      // signAck names the command's target as the one answering; a misdirected command is
      // answered by this sidecar as itself (its key is bound to its own id, and it speaks only for itself)
      const answered = c.target === this.o.id ? cmd : { ...cmd, payload: { ...c, target: this.o.id } }
      return signAck(answered, AckStatus.Refused, `${reason}: ${message}`, keyPair, now)
    }
    journal.start({ commandId: c.commandId, nonce: c.nonce, expiresAt: c.expiresAt, seq: m.seq })
    let status: AckStatus = AckStatus.Executed
    let reason: string | null = null
    try {
      const parsed = parseArgs(this.o.verbs, c.verb, c.args)
      if (!parsed.ok) throw new Error(parsed.error.message)
      await this.run(c.verb, parsed.value, cmd, m)
      this.executed++
      this.o.log?.info({ commandId: c.commandId, verb: c.verb }, 'command executed')
    } catch (err) {
      const e = err as { name?: unknown; message?: unknown }
      status = AckStatus.Failed
      reason = `${String(e?.name ?? 'Error')}: ${String(e?.message ?? err)}`
      this.failed++
      this.o.log?.warn({ commandId: c.commandId, verb: c.verb, reason }, 'command failed')
    }
    journal.done(c.commandId, status, reason)
    return signAck(cmd, status, reason, keyPair, this.o.now())
  }

  private async run(verb: string, args: unknown, cmd: CommandFact, m: PulledMessage): Promise<void> {
    const handler = this.o.handlers[verb]
    if (!handler) throw new Error(`no handler for ${verb}`) // verify refuses unhandled verbs first
    const heartbeat = setInterval(() => m.working(), 10_000)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        Promise.resolve().then(() => handler(args, cmd)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(Object.assign(new Error(`handler for ${verb} did not finish within ${this.o.handlerTimeoutMs} ms`), { name: 'Timeout' })),
            this.o.handlerTimeoutMs,
          )
        }),
      ])
    } finally {
      clearInterval(heartbeat)
      if (timer) clearTimeout(timer)
    }
  }
}
