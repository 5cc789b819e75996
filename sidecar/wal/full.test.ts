import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isWalClosed, isWalError, isWalFull, openWal, WalErrorCode, type Wal, type WalOptions } from './index.js'

const dirs: string[] = []
const opened: Wal[] = []
async function open(o: Omit<WalOptions, 'dir'>): Promise<Wal> {
  const dir = mkdtempSync(join(tmpdir(), 'ben-wal-full-'))
  dirs.push(dir)
  const w = await openWal({ dir, segmentBytes: 1024, maxBytes: 2048, ...o })
  opened.push(w)
  return w
}
afterEach(async () => {
  for (const w of opened.splice(0)) await w.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** 76-byte payloads: 100-byte frames, 10 per 1024-byte segment. */
const rec = (i: number): Uint8Array => Buffer.from(`r${i}`.padEnd(76, '.'))
const settledWithin = async (p: Promise<unknown>, ms: number): Promise<boolean> => {
  let settled = false
  p.then(
    () => (settled = true),
    () => (settled = true),
  )
  await new Promise((r) => setTimeout(r, ms))
  return settled
}

/** Appends one record at a time until the WAL says no; returns how many fit. */
async function fill(wal: Wal): Promise<{ fitted: number; error: unknown }> {
  for (let i = 1; i <= 1000; i++) {
    try {
      await wal.append(rec(i))
    } catch (error) {
      return { fitted: i - 1, error }
    }
  }
  throw new Error('the WAL never filled up')
}

describe('Wal when full: refuse', () => {
  it('rejects with a WalFullError that says how full and what to do, and writes nothing', async () => {
    const wal = await open({ whenFull: 'refuse' })
    const { fitted, error } = await fill(wal)
    expect(fitted).toBeGreaterThanOrEqual(15)
    expect(isWalFull(error)).toBe(true)
    const e = error as import('./index.js').WalFullError
    expect(e.code).toBe(WalErrorCode.Full)
    expect(e.maxBytes).toBe(2048)
    expect(e.usedBytes).toBeLessThanOrEqual(2048)
    expect(e.usedBytes + e.requestedBytes).toBeGreaterThan(2048)
    expect(e.message).toMatch(/is full: \d+ of 2048 bytes \(\d+\.\d%\).*not acked.*Nothing was written.*raise maxBytes/)
    const s = wal.stats()
    expect(s).toMatchObject({ lastSeq: fitted, depthRecords: fitted })
    expect(s.counters).toMatchObject({ refused: 1, blockedWaits: 0, appended: fitted })
    expect(s.diskBytes).toBeLessThanOrEqual(2048)
    expect(s.fullness).toBeGreaterThan(0.9)
    // Acking frees whole segments, and appends fit again.
    await wal.ack(10)
    expect((await wal.append(rec(99))).firstSeq).toBe(fitted + 1)
  })

  it('refuses a record that could never fit, whatever is acked', async () => {
    const wal = await open({ whenFull: 'refuse' })
    await expect(wal.append(new Uint8Array(3000))).rejects.toSatisfy((e) => isWalError(e) && e.code === WalErrorCode.TooLarge)
    expect(wal.stats().counters.refused).toBe(1)
  })
})

describe('Wal when full: block', () => {
  /** 'done' when `p` settles, 'blocked' as soon as `blocked()` says so: no timing involved. */
  async function blockedOrDone(p: Promise<unknown>, blocked: () => boolean): Promise<'blocked' | 'done'> {
    let settled = false
    void p.then(
      () => (settled = true),
      () => (settled = true),
    )
    for (;;) {
      await new Promise((r) => setTimeout(r, 2))
      if (settled) return 'done'
      if (blocked()) return 'blocked'
    }
  }

  it('holds the append until an ack frees a segment, then resolves it in order', async () => {
    const wal = await open({ whenFull: 'block' })
    let fitted = 0
    // Fill without awaiting the one that blocks.
    for (;;) {
      const before = wal.stats().counters.blockedWaits
      const p = wal.append(rec(fitted + 1))
      // Blocked or written: decided by the WAL's own counter, not by how long an fsync takes.
      if ((await blockedOrDone(p, () => wal.stats().counters.blockedWaits > before)) === 'blocked') {
        const second = wal.append(rec(fitted + 2))
        await blockedOrDone(second, () => wal.stats().counters.blockedWaits > before + 1)
        expect(wal.stats().counters.blockedWaits).toBe(2)
        expect(await settledWithin(second, 30)).toBe(false)
        expect(wal.stats().lastSeq).toBe(fitted)
        await wal.ack(10) // frees segment 1..10
        const [a, b] = await Promise.all([p, second])
        expect(a.firstSeq).toBe(fitted + 1)
        expect(b.firstSeq).toBe(fitted + 2)
        break
      }
      fitted++
      expect(fitted).toBeLessThan(100)
    }
    const back = await wal.read(fitted + 1, 10)
    expect(back.map((r) => Buffer.from(r.data).toString().replace(/\.+$/, ''))).toEqual([`r${fitted + 1}`, `r${fitted + 2}`])
    expect(wal.stats().counters.refused).toBe(0)
  })

  it('refuses after blockTimeoutMs and counts the timeout', async () => {
    const wal = await open({ whenFull: 'block', blockTimeoutMs: 40 })
    const { fitted, error } = await fill(wal)
    expect(isWalFull(error)).toBe(true)
    expect((error as Error).message).toMatch(/waited blockTimeoutMs \(40 ms\)/)
    expect(wal.stats().counters).toMatchObject({ blockedWaits: 1, blockTimeouts: 1, refused: 1, appended: fitted })
  })

  it('close rejects blocked appends instead of leaving them hanging', async () => {
    const wal = await open({ whenFull: 'block' })
    let blocked: Promise<unknown> | undefined
    for (let i = 1; i < 100 && !blocked; i++) {
      const before = wal.stats().counters.blockedWaits
      const p = wal.append(rec(i))
      if ((await blockedOrDone(p, () => wal.stats().counters.blockedWaits > before)) === 'blocked') blocked = p
    }
    expect(blocked).toBeDefined()
    await wal.close()
    await expect(blocked).rejects.toSatisfy(isWalClosed)
  })
})
