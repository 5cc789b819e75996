/**
 * The crash property: a child process appends numbered records and prints each one only
 * after its append resolved; we SIGKILL it at a random moment. Reopening must give back
 * every reported record, in order, exactly once, and nothing that was never appended.
 * The child is plain JS on the compiled WAL (dist/), built here first when stale.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { openWal } from './index.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const distDir = join(root, 'dist', 'sidecar', 'wal')
const child = join(here, 'crash-child.mjs')

/** Compiles just this folder into dist/ when any compiled file is missing or older than its source. */
function ensureBuilt(): void {
  const sources = readdirSync(here).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  const stale = sources.some((f) => {
    const out = join(distDir, f.replace(/\.ts$/, '.js'))
    return !existsSync(out) || statSync(out).mtimeMs < statSync(join(here, f)).mtimeMs
  })
  if (!stale) return
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  // Same compiler options as tsconfig.json, limited to this folder (other folders may be mid-edit).
  execFileSync(
    process.execPath,
    [
      tsc,
      '--target',
      'ES2022',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--lib',
      'ES2023,ESNext.Disposable',
      '--types',
      'node',
      '--strict',
      '--skipLibCheck',
      '--declaration',
      '--sourceMap',
      '--rootDir',
      root,
      '--outDir',
      join(root, 'dist'),
      join(here, 'index.ts'),
    ],
    { cwd: root, stdio: 'pipe' },
  )
}

/** Must match payload() in crash-child.mjs. */
function payload(i: number, size: number): Buffer {
  const head = Buffer.from(`rec:${i}:`)
  const out = Buffer.alloc(Math.max(size, head.length))
  head.copy(out, 0)
  for (let j = head.length; j < out.length; j++) out[j] = (i * 31 + j * 7) & 0xff
  return out
}

interface Round {
  readonly fsync: 'always' | 'batch'
  readonly count: number
  readonly size: number
  readonly inFlight: number
  readonly perCall: number
  readonly ackEvery: number
  readonly killAfterMs: number
}

interface ChildRun {
  readonly lines: string[]
  readonly signal: NodeJS.Signals | null
}

/** Runs the child until `killAfterMs` after it is ready, then SIGKILLs it. */
function runChild(dir: string, start: number, r: Round): Promise<ChildRun> {
  return new Promise((resolvePromise, reject) => {
    const args = [child, dir, r.fsync, String(start), String(r.count), String(r.size), String(r.inFlight), String(r.perCall), String(r.ackEvery)]
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let timer: NodeJS.Timeout | undefined
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if (timer === undefined && out.includes('ready ')) timer = setTimeout(() => p.kill('SIGKILL'), r.killAfterMs)
    })
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
    // Only a child that never gets ready is stopped by this guard: a fixed 10 s killed children that
    // were still starting at load 25 ("never got ready"); once ready, `timer` kills it on time.
    const guard = setTimeout(() => p.kill('SIGKILL'), 120_000)
    p.on('error', reject)
    p.on('close', (_code, signal) => {
      clearTimeout(timer)
      clearTimeout(guard)
      const lines = out.split('\n').filter(Boolean)
      if (!lines.some((l) => l.startsWith('ready '))) reject(new Error(`crash child never got ready: ${err || out}`))
      else resolvePromise({ lines, signal })
    })
  })
}

const round: fc.Arbitrary<Round> = fc.record({
  fsync: fc.constantFrom('always' as const, 'batch' as const),
  count: fc.integer({ min: 20, max: 3000 }),
  size: fc.integer({ min: 0, max: 300 }),
  inFlight: fc.integer({ min: 1, max: 32 }),
  perCall: fc.integer({ min: 1, max: 20 }),
  ackEvery: fc.constantFrom(0, 0, 30, 200),
  killAfterMs: fc.integer({ min: 0, max: 200 }),
})

describe('Wal crash safety', () => {
  beforeAll(() => ensureBuilt(), 120_000)

  it('property: after SIGKILL, every reported append is recovered in order exactly once', { timeout: 900_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(round, { minLength: 1, maxLength: 2 }), async (rounds) => {
        const dir = mkdtempSync(join(tmpdir(), 'ben-wal-crash-'))
        try {
          let issued = 0 // records handed to append() in earlier rounds that are on disk (= lastSeq)
          let maxAck = 0
          for (const r of rounds) {
            const run = await runChild(dir, issued, r)
            expect(run.lines.filter((l) => l.startsWith('error'))).toEqual([])
            expect(run.signal).toBe('SIGKILL')
            const [, readyLast, readyAck] = run.lines[0].split(' ').map(Number)
            expect(readyLast).toBe(issued)
            expect(readyAck).toBe(maxAck)
            let reportedLast = issued
            for (const l of run.lines) {
              const [tag, a, b, c] = l.split(' ')
              if (tag === 'ok') {
                expect(Number(a)).toBe(Number(c) + 1) // seq = index + 1, always
                reportedLast = Math.max(reportedLast, Number(b))
              } else if (tag === 'ack') maxAck = Math.max(maxAck, Number(a))
            }

            const wal = await openWal({ dir, segmentBytes: 4096 })
            try {
              const rec = wal.recovery
              // Acks and appends that were reported survived.
              expect(wal.ackedSeq).toBeGreaterThanOrEqual(maxAck)
              expect(wal.lastSeq).toBeGreaterThanOrEqual(reportedLast)
              // Nothing beyond what was handed to append().
              expect(wal.lastSeq).toBeLessThanOrEqual(issued + r.count)
              const records = await wal.read(1, 1_000_000)
              // No unacked record is missing at the front, and the rest are contiguous up to lastSeq.
              const first = records.length ? records[0].seq : wal.lastSeq + 1
              expect(first).toBeLessThanOrEqual(wal.ackedSeq + 1)
              expect(records.length).toBe(wal.lastSeq - first + 1)
              records.forEach((x, k) => {
                expect(x.seq).toBe(first + k)
                // Content is a function of the index (and length, which the round chose): seq = index + 1.
                expect(Buffer.from(x.data).equals(payload(x.seq - 1, x.data.length))).toBe(true)
              })
              expect(rec.records).toBeGreaterThanOrEqual(records.length)
              issued = wal.lastSeq
              maxAck = wal.ackedSeq
            } finally {
              await wal.close()
            }
          }
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }),
      { numRuns: 24, endOnFailure: true },
    )
  })
})
