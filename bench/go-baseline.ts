/**
 * The nats.go baseline for bench:ingest and bench:otlp: `bench/go/jspub.go` (PublishMsgAsync with Nats-Msg-Id)
 * compiled at run time into a temp dir against Debian's golang-github-nats-io-go-nats-dev
 * (GOPATH mode, /usr/share/gocode; BENCH_GOPATH to point elsewhere). When `go` or nats.go is
 * missing, the baseline is skipped with the reason.
 */
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { childResult } from './child-result.js'

export interface GoRecord {
  readonly subject: string
  readonly id: string
  /** More header lines (`Name: value\r\n`), besides Nats-Msg-Id and the schema's two. */
  readonly headers?: string
  readonly data: Uint8Array
}

export interface GoOutcome {
  readonly published: number
  readonly stored: number
  readonly duplicate: number
  readonly failed: number
  readonly secs: number
  /** CPU seconds (user + system) the nats.go process spent publishing. */
  readonly cpuSecs: number
  /** Write system calls the nats.go process made publishing (0 when /proc is not readable). */
  readonly writes?: number
}

export type GoBaseline =
  | {
      readonly ok: true
      /** Publishes `records`; `schema` and `fingerprint`, when not empty, set Ben-Schema and Ben-Schema-Fp on every message. */
      run(url: string, records: readonly GoRecord[], window: number, schema: string, fingerprint: string): Promise<GoOutcome>
      close(): void
    }
  | { readonly ok: false; readonly reason: string }

/** A Go program of bench/go compiled into a temp dir, or why it cannot be built here. */
export type GoProgram = { readonly ok: true; readonly bin: string; readonly dir: string } | { readonly ok: false; readonly reason: string }

/** Compiles `bench/go/<file>`, with what the programs share (bench/go/common.go), against nats.go (GOPATH mode) into a fresh temp dir. */
export function compileGo(file: string): GoProgram {
  const version = spawnSync('go', ['version'], { encoding: 'utf8' })
  if (version.error || version.status !== 0)
    return { ok: false, reason: `\`go\` is not on PATH (${version.error?.message ?? version.stderr.trim()}); apt-get install golang-go golang-github-nats-io-go-nats-dev` }
  const gopath = process.env.BENCH_GOPATH ?? '/usr/share/gocode'
  if (!existsSync(join(gopath, 'src/github.com/nats-io/nats.go')))
    return { ok: false, reason: `nats.go is not under ${gopath}/src/github.com/nats-io (apt-get install golang-github-nats-io-go-nats-dev, or BENCH_GOPATH)` }
  const source = fileURLToPath(new URL(`../../bench/go/${file}`, import.meta.url))
  if (!existsSync(source)) return { ok: false, reason: `${source} is missing (run the bench from the repository)` }
  const dir = mkdtempSync(join(tmpdir(), 'ben-bench-go-'))
  copyFileSync(source, join(dir, file))
  copyFileSync(fileURLToPath(new URL('../../bench/go/common.go', import.meta.url)), join(dir, 'common.go'))
  const bin = join(dir, file.replace(/\.go$/, ''))
  const env = { ...process.env, GOPATH: gopath, GO111MODULE: 'off', GOFLAGS: '', GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'ben-bench-gocache') }
  const built = spawnSync('go', ['build', '-o', bin, file, 'common.go'], { cwd: dir, env, encoding: 'utf8' })
  if (built.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    return { ok: false, reason: `${file} does not compile here (${version.stdout.trim()}): ${built.stderr.trim().split('\n').slice(0, 3).join(' | ')}` }
  }
  return { ok: true, bin, dir }
}

/** Runs a compiled Go program; resolves with the JSON of its last stdout line. */
export function runGo<T>(bin: string, args: readonly string[], onStart?: (pid: number) => void): Promise<T> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  if (child.pid) onStart?.(child.pid)
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
  return childResult<T>(child, bin, () => stderr)
}

/** Compiles the baseline; `{ ok: false, reason }` when it cannot be built here. */
export function buildGoBaseline(): GoBaseline {
  const prog = compileGo('jspub.go')
  if (!prog.ok) return prog
  const { bin, dir } = prog
  let runs = 0
  return {
    ok: true,
    async run(url, records, window, schema, fingerprint) {
      const file = join(dir, `records-${runs++}.bin`)
      writeFileSync(file, encodeRecords(records))
      const out = await runGo<GoOutcome>(bin, [url, file, String(window), schema, fingerprint])
      rmSync(file, { force: true })
      return out
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** [u32 len][subject][u32 len][id][u32 len][header lines][u32 len][data]… little-endian, as jspub.go reads them. */
function encodeRecords(records: readonly GoRecord[]): Buffer {
  const parts: Buffer[] = []
  const field = (b: Uint8Array) => {
    const n = Buffer.alloc(4)
    n.writeUInt32LE(b.length)
    parts.push(n, Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  }
  for (const r of records) {
    field(Buffer.from(r.subject))
    field(Buffer.from(r.id))
    field(Buffer.from(r.headers ?? '', 'latin1'))
    field(r.data)
  }
  return Buffer.concat(parts)
}
