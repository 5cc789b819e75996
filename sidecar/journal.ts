import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import type { AckStatus } from '../keys/index.js'

/** What the sidecar remembers about a command it accepted (verified) for execution. */
export interface JournalEntry {
  readonly commandId: string
  readonly nonce: string
  readonly expiresAt: number
  /** Stream sequence of the message that carried it: a redelivery of that message is not a replay. */
  readonly seq: number
  /** Set once the handler finished; absent = interrupted (the process stopped while it ran). */
  readonly status?: AckStatus
  readonly reason?: string | null
}

/**
 * The command journal: one JSON line per accepted command (`start`, fsynced before the handler
 * runs) and per outcome (`done`, fsynced before the ack is published). It outlives restarts so
 * that (a) the replay guard still refuses a command accepted before the restart, and (b) a
 * command message redelivered after a crash is answered with the ack it already earned instead
 * of running twice; one interrupted mid-handler is acked `failed` (outcome unknown), never re-run.
 * Compacted at open: entries expired for more than `keepMs` are dropped.
 */
export class CommandJournal {
  private readonly entries = new Map<string, JournalEntry>()
  private fd: number | undefined

  constructor(
    readonly file: string,
    now: number,
    keepMs = 3_600_000,
  ) {
    mkdirSync(dirname(file), { recursive: true })
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      /* first start */
    }
    for (const line of text.split('\n')) {
      if (!line) continue
      let v: Partial<JournalEntry> & { t?: string }
      try {
        v = JSON.parse(line) as typeof v
      } catch {
        continue // a line torn by a crash: its command had not run (start is fsynced before)
      }
      if (typeof v.commandId !== 'string') continue
      if (v.t === 'start' && typeof v.nonce === 'string' && typeof v.expiresAt === 'number' && typeof v.seq === 'number') {
        this.entries.set(v.commandId, { commandId: v.commandId, nonce: v.nonce, expiresAt: v.expiresAt, seq: v.seq })
      } else if (v.t === 'done') {
        const e = this.entries.get(v.commandId)
        if (e && typeof v.status === 'string') this.entries.set(v.commandId, { ...e, status: v.status, reason: v.reason ?? null })
      }
    }
    for (const [id, e] of this.entries) if (e.expiresAt + keepMs < now) this.entries.delete(id)
    // Rewrite compacted, atomically, then append from there on.
    const tmp = `${file}.tmp`
    const fd = openSync(tmp, 'w', 0o600)
    for (const e of this.entries.values()) {
      writeSync(fd, JSON.stringify({ t: 'start', commandId: e.commandId, nonce: e.nonce, expiresAt: e.expiresAt, seq: e.seq }) + '\n')
      if (e.status) writeSync(fd, JSON.stringify({ t: 'done', commandId: e.commandId, status: e.status, reason: e.reason ?? null }) + '\n')
    }
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, file)
    this.fd = openSync(file, 'a', 0o600)
  }

  get(commandId: string): JournalEntry | undefined {
    return this.entries.get(commandId)
  }

  /** Every entry (to seed the replay guard). */
  all(): IterableIterator<JournalEntry> {
    return this.entries.values()
  }

  start(e: Omit<JournalEntry, 'status' | 'reason'>): void {
    this.write({ t: 'start', ...e })
    this.entries.set(e.commandId, e)
  }

  done(commandId: string, status: AckStatus, reason: string | null): void {
    this.write({ t: 'done', commandId, status, reason })
    const e = this.entries.get(commandId)
    if (e) this.entries.set(commandId, { ...e, status, reason })
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }

  private write(v: object): void {
    if (this.fd === undefined) throw new Error(`command journal ${this.file} is closed`)
    appendFileSync(this.fd, JSON.stringify(v) + '\n')
    fsyncSync(this.fd)
  }
}
