import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isWalError, openWal, WalErrorCode, type Wal, type WalRecord } from './index.js'

const dirs: string[] = []
const opened: Wal[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ben-wal-'))
  dirs.push(d)
  return d
}
async function open(options: Parameters<typeof openWal>[0]): Promise<Wal> {
  const w = await openWal(options)
  opened.push(w)
  return w
}
afterEach(async () => {
  for (const w of opened.splice(0)) await w.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const rec = (i: number, size = 40): Uint8Array => {
  const b = Buffer.alloc(size)
  b.write(`record-${i}|`)
  for (let j = 12; j < size; j++) b[j] = (i + j) & 0xff
  return b
}
const segmentFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort()

async function take(it: AsyncIterator<WalRecord>, n: number): Promise<WalRecord[]> {
  const out: WalRecord[] = []
  while (out.length < n) {
    const r = await it.next()
    if (r.done) break
    out.push(r.value)
  }
  return out
}

describe('Wal round trip', () => {
  it('reads records written lately from memory as the files hold them, whatever the caller does with its buffers after the append', async () => {
    const dir = tempDir()
    const wal = await open({ dir, segmentBytes: 1024, recentBytes: 2000 }) // 2000 bytes: the oldest fall back to the files
    const records = Array.from({ length: 120 }, (_, i) => rec(i, 30 + (i % 7)))
    for (let i = 0; i < records.length; i += 10) await wal.append(records.slice(i, i + 10))
    const copies = records.map((r) => Buffer.from(r).toString('hex'))
    for (const r of records) r.fill(0) // the WAL copied them when written
    const fromMemory = await wal.read(1, 1000)
    expect(fromMemory.map((r) => Buffer.from(r.data).toString('hex'))).toEqual(copies)
    const tail = await wal.read(100, 5)
    expect(tail.map((r) => r.seq)).toEqual([100, 101, 102, 103, 104])
    expect(tail.map((r) => Buffer.from(r.data).toString('hex'))).toEqual(copies.slice(99, 104))
    // acked within a write of ten: the rest of it is still read from memory, across the next writes
    await wal.ack(105)
    expect(wal.stats()).toMatchObject({ oldestUnackedSeq: 106, depthRecords: 15 })
    const across = await wal.read(106, 12)
    expect(across.map((r) => r.seq)).toEqual(Array.from({ length: 12 }, (_, i) => 106 + i))
    expect(across.map((r) => Buffer.from(r.data).toString('hex'))).toEqual(copies.slice(105, 117))
    await wal.ack(110)
    expect((await wal.read(111, 100)).map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 111 + i))
    const times = fromMemory.map((r) => [r.seq, r.appendedAt])
    const depthBytes = wal.stats().depthBytes // where the oldest unacked record is, found in memory
    await wal.close()
    const again = await open({ dir, segmentBytes: 1024, recentBytes: 0 })
    const fromFiles = await again.read(111, 100)
    expect(fromFiles.map((r) => Buffer.from(r.data).toString('hex'))).toEqual(copies.slice(110))
    expect(fromFiles.map((r) => [r.seq, r.appendedAt])).toEqual(times.slice(110))
    expect(again.stats()).toMatchObject({ oldestUnackedSeq: 111, depthRecords: 10, depthBytes })
  })

  it('readInPlace hands over the records read gives from memory (seq, append time, bytes), and -1 for a record not in memory', async () => {
    const dir = tempDir()
    const wal = await open({ dir, segmentBytes: 1024, recentBytes: 2000 }) // the oldest fall back to the files
    const records = Array.from({ length: 120 }, (_, i) => rec(i, 30 + (i % 7)))
    for (let i = 0; i < records.length; i += 7) await wal.append(records.slice(i, i + 7))
    const inPlace = (from: number, max: number) => {
      const got: [number, number, string][] = []
      const n = wal.readInPlace!(from, max, (seq, appendedAt, bytes, at, end) => got.push([seq, appendedAt, bytes.toString('hex', at, end)]))
      return { n, got }
    }
    const plain = async (from: number, max: number) => (await wal.read(from, max)).map((r) => [r.seq, r.appendedAt, Buffer.from(r.data).toString('hex')])
    let inMemory = 0
    // every start and count, across writes of seven and into what is not appended yet
    for (let from = 1; from <= 122; from++)
      for (const max of [1, 2, 6, 7, 8, 15, 1000]) {
        const { n, got } = inPlace(from, max)
        if (n < 0) {
          expect(got).toEqual([]) // not in memory: read reads it
          continue
        }
        inMemory++
        expect(n).toBe(got.length)
        expect(got).toEqual(await plain(from, max))
      }
    expect(inMemory).toBeGreaterThan(100)
    expect(inPlace(1, 10).n).toBe(-1) // the oldest records are held in the files only
    expect(inPlace(121, 10).n).toBe(-1) // nothing appended there yet
    expect(inPlace(110, 0).n).toBe(-1)
    await wal.ack(113)
    expect(inPlace(114, 100).got.map((r) => r[0])).toEqual([114, 115, 116, 117, 118, 119, 120])
    await wal.close()
    expect(inPlace(114, 100).n).toBe(-1) // closed: read answers (with its error)
  })

  it('cuts large writes from memory it wrote before once all of their records are acked, never from memory a record not acked is in', async () => {
    const wal = await open({ dir: tempDir(), segmentBytes: 256 * 1024 * 1024 })
    // writes of 2,024,000 bytes of frames: four to an 8 MiB slab
    const batch = (k: number) => Array.from({ length: 1000 }, (_, i) => Buffer.alloc(2000, (k * 7 + i) % 251))
    const reads: WalRecord[][] = []
    const write = async (k: number) => {
      await wal.append(batch(k))
      reads[k] = await wal.read(k * 1000 + 1, 1000)
    }
    const intact = (k: number) => reads[k].every((r, i) => r.seq === k * 1000 + i + 1 && Buffer.from(r.data).equals(batch(k)[i]))
    for (let k = 0; k < 5; k++) await write(k) // slab A: writes 0-3; B: 4
    // (identity compared as booleans: a failing toBe would print two 8 MiB buffers)
    const inA = (k: number) => reads[k][0].data.buffer === reads[0][0].data.buffer
    expect([inA(3), inA(4)]).toEqual([true, false])
    await wal.ack(3000) // write 3 (in A) is not acked
    for (let k = 5; k < 9; k++) await write(k) // B: 4-7; C: 8
    expect(inA(8)).toBe(false)
    expect([3, 4, 5, 6, 7, 8].every(intact)).toBe(true)
    await wal.ack(4000) // all of A's records
    for (let k = 9; k < 13; k++) await write(k) // C: 8-11; then A again: 12
    expect(inA(12)).toBe(true)
    expect([4, 5, 6, 7, 8, 9, 10, 11, 12].every(intact)).toBe(true)
    await wal.close()
  })

  it('gives back the exact bytes, in order, with consecutive seqs from 1', async () => {
    const wal = await open({ dir: tempDir() })
    const records = [rec(0), new Uint8Array(0), rec(2, 5000), rec(3, 1)]
    const r1 = await wal.append(records.slice(0, 2))
    const r2 = await wal.append(records[2])
    const r3 = await wal.append([records[3]])
    expect([r1, r2, r3]).toEqual([
      { firstSeq: 1, lastSeq: 2, count: 2, durable: true },
      { firstSeq: 3, lastSeq: 3, count: 1, durable: true },
      { firstSeq: 4, lastSeq: 4, count: 1, durable: true },
    ])
    const back = await wal.read(1, 100)
    expect(back.map((r) => r.seq)).toEqual([1, 2, 3, 4])
    expect(back.map((r) => Buffer.from(r.data).toString('hex'))).toEqual(records.map((r) => Buffer.from(r).toString('hex')))
    expect((await wal.read(3, 1)).map((r) => r.seq)).toEqual([3])
    expect(await wal.read(5, 10)).toEqual([])
    expect(wal.stats()).toMatchObject({ depthRecords: 4, lastSeq: 4, ackedSeq: 0, oldestUnackedSeq: 1, segments: 1 })
  })

  it('groups concurrent appends into one write and one fsync (batch policy)', async () => {
    const wal = await open({ dir: tempDir(), fsync: 'batch' })
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => wal.append(rec(i))))
    expect(results.map((r) => r.firstSeq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    const s = wal.stats()
    expect(s.counters.appended).toBe(200)
    expect(s.counters.fsyncs).toBeLessThan(20)
    const back = await wal.read(1, 1000)
    expect(back.map((r) => Buffer.from(r.data).toString())).toEqual(Array.from({ length: 200 }, (_, i) => Buffer.from(rec(i)).toString()))
  })

  it("fsyncs every append call on its own under 'always'", async () => {
    const wal = await open({ dir: tempDir(), fsync: 'always' })
    await Promise.all(Array.from({ length: 10 }, (_, i) => wal.append(rec(i))))
    expect(wal.stats().counters.fsyncs).toBeGreaterThanOrEqual(10)
  })

  it("resolves before the fsync under 'interval', which follows within fsyncIntervalMs", async () => {
    const wal = await open({ dir: tempDir(), fsync: 'interval', fsyncIntervalMs: 20 })
    const r = await wal.append(rec(1))
    expect(r.durable).toBe(false)
    const before = wal.stats().counters.fsyncs
    // The interval's fsync: waited for (a timer can run late on a busy machine), then counted.
    const deadline = Date.now() + 10_000
    while (wal.stats().counters.fsyncs === before && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5))
    expect(wal.stats().counters.fsyncs).toBe(before + 1)
  })

  it('tail yields the backlog, then waits for new appends, and ends on close', async () => {
    const wal = await openWal({ dir: tempDir() })
    await wal.append([rec(1), rec(2)])
    const it = wal.tail(1)
    expect((await take(it, 2)).map((r) => r.seq)).toEqual([1, 2])
    const pending = it.next()
    let settled = false
    void pending.then(() => (settled = true))
    await new Promise((res) => setTimeout(res, 30))
    expect(settled).toBe(false)
    await wal.append(rec(3))
    const third = await pending
    expect(third.done).toBe(false)
    expect(third.value).toMatchObject({ seq: 3 })
    const end = it.next()
    await wal.close()
    expect((await end).done).toBe(true)
  })

  it('tail stops when its signal aborts', async () => {
    const wal = await open({ dir: tempDir() })
    const ac = new AbortController()
    const it = wal.tail(1, { signal: ac.signal })
    const p = it.next()
    ac.abort()
    expect((await p).done).toBe(true)
  })
})

describe('Wal segments and acks', () => {
  it('rolls over to a new segment file named after its first seq', async () => {
    const dir = tempDir()
    const wal = await open({ dir, segmentBytes: 1024 })
    for (let i = 0; i < 10; i++) await wal.append(Array.from({ length: 10 }, (_, j) => rec(i * 10 + j, 76)))
    // 100-byte frames, 16-byte header: 10 records per 1024-byte segment.
    const files = segmentFiles(dir)
    expect(files.length).toBe(10)
    expect(files[0]).toBe('0000000000000001.wal')
    expect(files[1]).toBe('0000000000000011.wal')
    const back = await wal.read(1, 1000)
    expect(back.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    expect(Buffer.from(back[57].data).subarray(0, 10).toString()).toBe('record-57|')
  })

  it('a record bigger than a segment gets a segment of its own', async () => {
    const dir = tempDir()
    const wal = await open({ dir, segmentBytes: 512 })
    await wal.append([rec(1, 100), rec(2, 2000), rec(3, 100)])
    expect(segmentFiles(dir)).toEqual(['0000000000000001.wal', '0000000000000002.wal', '0000000000000003.wal'])
    expect((await wal.read(1, 10)).map((r) => r.data.length)).toEqual([100, 2000, 100])
  })

  it('ack deletes only segments whose records are all acked', async () => {
    const dir = tempDir()
    const wal = await open({ dir, segmentBytes: 1024 })
    await wal.append(Array.from({ length: 35 }, (_, i) => rec(i + 1, 76))) // segments 1-10, 11-20, 21-30, 31-35
    await wal.ack(15)
    expect(segmentFiles(dir)).toEqual(['0000000000000011.wal', '0000000000000021.wal', '0000000000000031.wal'])
    expect(wal.stats()).toMatchObject({ ackedSeq: 15, depthRecords: 20, depthBytes: 2000, oldestUnackedSeq: 16 })
    expect((await wal.read(16, 1))[0].seq).toBe(16)
    await wal.ack(30)
    expect(segmentFiles(dir)).toEqual(['0000000000000031.wal'])
    expect(wal.stats()).toMatchObject({ depthRecords: 5, depthBytes: 500, oldestUnackedSeq: 31, segments: 1 })
    // Acking everything retires the active segment too; the next append starts a fresh one.
    await wal.ack(35)
    expect(segmentFiles(dir)).toEqual([])
    expect(wal.stats()).toMatchObject({ depthRecords: 0, depthBytes: 0, oldestUnackedSeq: undefined, diskBytes: 0 })
    expect((await wal.append(rec(36))).firstSeq).toBe(36)
    expect(segmentFiles(dir)).toEqual(['0000000000000036.wal'])
    await expect(wal.ack(99)).rejects.toSatisfy((e) => isWalError(e) && e.code === WalErrorCode.AckBeyondEnd)
  })

  it('a tail that fell behind skips records acked and deleted meanwhile', async () => {
    const wal = await open({ dir: tempDir(), segmentBytes: 1024 })
    await wal.append(Array.from({ length: 30 }, (_, i) => rec(i + 1, 76)))
    await wal.ack(20)
    const first = await wal.tail(1).next()
    expect(first.value).toMatchObject({ seq: 21 })
  })

  it('a drainer acking while producers append sees every record once, in order, and ends with no segments', async () => {
    const dir = tempDir()
    const wal = await open({ dir, segmentBytes: 600, maxBytes: 3000, whenFull: 'block' })
    const total = 2000
    const producers = Array.from({ length: 4 }, async (_, p) => {
      for (let i = p; i < total; i += 4) await wal.append(rec(i, 20 + (i % 50)))
    })
    const seen: number[] = []
    const lengths: number[] = []
    for await (const r of wal.tail(1)) {
      seen.push(r.seq)
      lengths.push(r.data.length)
      if (r.seq % 7 === 0 || seen.length === total) await wal.ack(r.seq)
      if (seen.length === total) break
    }
    await Promise.all(producers)
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(Array.from({ length: total }, (_, i) => 20 + (i % 50)).reduce((a, b) => a + b, 0))
    expect(segmentFiles(dir)).toEqual([])
    const s = wal.stats()
    expect(s).toMatchObject({ depthRecords: 0, diskBytes: 0, ackedSeq: total })
    expect(s.counters.blockedWaits).toBeGreaterThan(0) // the bound was hit and held
    expect(s.counters.refused).toBe(0)
  })

  it('stats report the oldest unacked append time', async () => {
    let t = 1_000
    const wal = await open({ dir: tempDir(), segmentBytes: 1024, now: () => t })
    for (let i = 1; i <= 25; i++) {
      t = 1_000 + i
      await wal.append(rec(i, 76))
    }
    expect(wal.stats().oldestUnackedAppendedAt).toBe(1_001)
    await wal.ack(17)
    expect(wal.stats()).toMatchObject({ oldestUnackedSeq: 18, oldestUnackedAppendedAt: 1_018 })
    expect((await wal.read(18, 1))[0].appendedAt).toBe(1_018)
  })
})

describe('Wal options and lifecycle', () => {
  it('refuses bad options naming the field', async () => {
    const dir = tempDir()
    await expect(openWal({ dir, segmentBytes: 4096, maxBytes: 5000 })).rejects.toThrow(/maxBytes must be an integer ≥ 2 × segmentBytes/)
    await expect(openWal({ dir, fsync: 'sometimes' as never })).rejects.toThrow(/fsync must be one of always, batch, interval/)
    await expect(openWal({ dir: '' })).rejects.toSatisfy((e) => isWalError(e) && e.code === WalErrorCode.Config)
  })

  it('one writer per directory; closing releases it; a closed WAL refuses appends', async () => {
    const dir = tempDir()
    const wal = await openWal({ dir })
    await expect(openWal({ dir })).rejects.toSatisfy((e) => isWalError(e) && e.code === WalErrorCode.Locked)
    await wal.close()
    expect(existsSync(join(dir, 'LOCK'))).toBe(false)
    await expect(wal.append(rec(1))).rejects.toSatisfy((e) => isWalError(e) && e.code === WalErrorCode.Closed)
    {
      await using again = await openWal({ dir })
      expect(again.lastSeq).toBe(0)
    }
    expect(existsSync(join(dir, 'LOCK'))).toBe(false)
  })
})
