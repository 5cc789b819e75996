import { Counter } from 'prom-client'
import { metricsRegistry, type KV, type Logger } from '../../streams/index.js'
import type { Result } from '../../schemas/index.js'
import type { Versioned } from '../stage.js'

const configRejected = new Counter({
  name: 'ben_config_rejected_total',
  help: 'Config revisions (redaction manifests, detector configs, policy packs) refused at load, by bucket',
  labelNames: ['bucket'] as const,
  registers: [metricsRegistry],
})

export interface ConfigSourceOptions<C> {
  readonly bucket: string
  /** KV key holding the active config. */
  readonly key: string
  /** Parses and validates a revision's text (zod at the edge, then frozen). */
  load(text: string): Result<C, { message: string }>
  /** The built-in default, used (as revision 0) while the key is empty. */
  fallback(): C
  readonly log?: Logger
}

/**
 * The active config of a stage: the latest valid revision of one KV key, hot-reloaded through
 * a KV watch. A revision that does not validate is refused with its reason (logged, counted)
 * and the previous config stays active: a bad file never stops a stage.
 */
export class ConfigSource<C> {
  private cur: Versioned<C> | undefined
  private stopWatch: (() => void) | undefined
  private readonly listeners: Array<(v: Versioned<C>) => void> = []

  // The built-in default is compiled only when it is used (no valid revision in KV; then at
  // open): compiling the redaction manifest is a large part of a worker's start.
  private constructor(private readonly opts: ConfigSourceOptions<C>) {}

  private get current(): Versioned<C> {
    return (this.cur ??= Object.freeze({ bucket: this.opts.bucket, revision: 0, value: this.opts.fallback() }))
  }

  private set current(v: Versioned<C>) {
    this.cur = v
  }

  /** Reads the current revision and starts watching (kv: the bucket, opened by the caller). */
  static async open<C>(kv: KV, opts: ConfigSourceOptions<C>): Promise<ConfigSource<C>> {
    const src = new ConfigSource(opts)
    const entry = await kv.get(opts.key)
    if (entry && entry.operation === 'PUT') src.accept(entry.revision, entry.string())
    // No valid revision in KV: the default is what the first fact meets, so it is compiled now,
    // at start, not on that fact's path (a first alert waited ~100-200 ms for the manifest).
    if (src.cur === undefined) src.get()
    const w = await kv.watch({ key: opts.key, include: 'updates' as never })
    src.stopWatch = () => w.stop()
    void (async () => {
      for await (const e of w) {
        if (e.operation !== 'PUT') continue
        if (e.revision <= (src.cur?.revision ?? 0)) continue
        src.accept(e.revision, e.string())
      }
    })().catch((err) => opts.log?.error({ bucket: opts.bucket, err: (err as Error).message }, 'config watch ended'))
    return src
  }

  /** A fixed config (tests, offline tools, replay under a recorded revision). */
  static fixed<C>(bucket: string, revision: number, value: C): ConfigSource<C> {
    const src = new ConfigSource<C>({ bucket, key: '', load: () => ({ ok: true, value }), fallback: () => value })
    src.current = Object.freeze({ bucket, revision, value })
    return src
  }

  get(): Versioned<C> {
    return this.current
  }

  /** Replaces the active value (a derived config that follows another source). */
  set(revision: number, value: C): void {
    this.current = Object.freeze({ bucket: this.opts.bucket, revision, value })
    for (const l of this.listeners) l(this.current)
  }

  onChange(fn: (v: Versioned<C>) => void): void {
    this.listeners.push(fn)
  }

  close(): void {
    this.stopWatch?.()
  }

  private accept(revision: number, text: string): void {
    const r = this.opts.load(text)
    if (!r.ok) {
      configRejected.inc({ bucket: this.opts.bucket })
      this.opts.log?.error({ bucket: this.opts.bucket, key: this.opts.key, revision, reason: r.error.message }, 'config revision refused; the previous one stays active')
      return
    }
    this.current = Object.freeze({ bucket: this.opts.bucket, revision, value: r.value })
    this.opts.log?.info({ bucket: this.opts.bucket, revision }, 'config revision active')
    for (const l of this.listeners) l(this.current)
  }
}
