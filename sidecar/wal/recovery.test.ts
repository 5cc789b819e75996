import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { isWalCorrupt, openWal, type Wal, type WalCorruptError } from './index.js'

const dirs: string[] = []
const opened: Wal[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ben-wal-rec-'))
  dirs.push(d)
  return d
}
async function open(dir: string, recentBytes?: number): Promise<Wal> {
  const w = await openWal({ dir, segmentBytes: 1024, ...(recentBytes !== undefined ? { recentBytes } : {}) })
  opened.push(w)
  return w
}
afterEach(async () => {
  for (const w of opened.splice(0)) await w.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** 76-byte payloads: 100-byte frames, so segment k (1024 bytes) holds seqs 10k-9 .. 10k. */
const FRAME = 100
const rec = (i: number): Uint8Array => Buffer.from(`r${i}`.padEnd(76, '.'))
const label = (d: Uint8Array): string => Buffer.from(d).toString().replace(/\.+$/, '')
const seg = (dir: string, base: number): string => join(dir, `${String(base).padStart(16, '0')}.wal`)

async function seed(dir: string, n: number, ackTo = 0): Promise<void> {
  const wal = await openWal({ dir, segmentBytes: 1024 })
  await wal.append(Array.from({ length: n }, (_, i) => rec(i + 1)))
  if (ackTo > 0) await wal.ack(ackTo)
  await wal.close()
}

async function labels(wal: Wal, from: number): Promise<string[]> {
  return (await wal.read(from, 10_000)).map((r) => label(r.data))
}

describe('Wal restart', () => {
  it('resumes after the acked position and keeps numbering', async () => {
    const dir = tempDir()
    await seed(dir, 35, 15)
    const wal = await open(dir)
    expect(wal.recovery).toEqual({ segments: 3, records: 25, truncatedBytes: 0, removedSegments: 0, ackedSeq: 15, checkpoint: 'ok', lastSeq: 35 })
    expect(wal.ackedSeq).toBe(15)
    const first = await wal.tail(wal.ackedSeq + 1).next()
    expect(first.value).toMatchObject({ seq: 16 })
    expect(label(first.value!.data)).toBe('r16')
    expect(wal.stats()).toMatchObject({ depthRecords: 20, depthBytes: 20 * FRAME, oldestUnackedSeq: 16 })
    expect((await wal.append(rec(36))).firstSeq).toBe(36)
    expect(existsSync(join(dir, 'checkpoint.tmp'))).toBe(false)
    expect(JSON.parse(readFileSync(join(dir, 'checkpoint'), 'utf8'))).toMatchObject({ version: 1, acked: 15 })
  })

  it('keeps numbering after everything was acked and deleted', async () => {
    const dir = tempDir()
    await seed(dir, 12, 12)
    expect(readdirSync(dir).filter((f) => f.endsWith('.wal'))).toEqual([])
    const wal = await open(dir)
    expect(wal.recovery).toMatchObject({ segments: 0, records: 0, ackedSeq: 12, lastSeq: 12 })
    expect((await wal.append(rec(13))).firstSeq).toBe(13)
    expect(await labels(wal, 1)).toEqual(['r13'])
  })

  it('deletes segments a crash left behind after the checkpoint covered them', async () => {
    const dir = tempDir()
    await seed(dir, 25)
    // As if the process died after renaming checkpoint acked=20 into place, before the unlinks,
    // and while writing the next checkpoint.
    const body = '{"version":1,"acked":20}'
    writeFileSync(join(dir, 'checkpoint'), `{"version":1,"acked":20,"crc":${crc32(body)}}\n`)
    writeFileSync(join(dir, 'checkpoint.tmp'), '{"version":1,"ack')
    const wal = await open(dir)
    expect(wal.recovery).toMatchObject({ segments: 1, records: 5, removedSegments: 2, ackedSeq: 20, checkpoint: 'ok' })
    expect(existsSync(seg(dir, 1)) || existsSync(seg(dir, 11))).toBe(false)
    expect(existsSync(join(dir, 'checkpoint.tmp'))).toBe(false)
    expect(await labels(wal, 1)).toEqual(['r21', 'r22', 'r23', 'r24', 'r25'])
  })

  it('an unreadable checkpoint is reported and everything retained is delivered again', async () => {
    const dir = tempDir()
    await seed(dir, 15, 5)
    writeFileSync(join(dir, 'checkpoint'), '{"version":1,"acked":5,"crc":1}')
    const wal = await open(dir)
    expect(wal.recovery).toMatchObject({ checkpoint: 'unreadable', ackedSeq: 0, records: 15 })
    expect(wal.stats()).toMatchObject({ oldestUnackedSeq: 1, depthRecords: 15 })
  })
})

describe('Wal torn tail', () => {
  it('cuts a partial record written by hand off the last segment', async () => {
    const dir = tempDir()
    await seed(dir, 15)
    // A frame header that promises 76 bytes, followed by only 10 of them.
    const torn = Buffer.alloc(34)
    torn.writeUInt32LE(0xdeadbeef, 0)
    torn.writeUInt32LE(76, 4)
    torn.writeUInt32LE(16, 8)
    appendFileSync(seg(dir, 11), torn)
    const wal = await open(dir)
    expect(wal.recovery).toMatchObject({ segments: 2, records: 15, truncatedBytes: 34, lastSeq: 15 })
    expect(statSync(seg(dir, 11)).size).toBe(16 + 5 * FRAME)
    const r = await wal.append(rec(16))
    expect(r.firstSeq).toBe(16)
    expect(await labels(wal, 14)).toEqual(['r14', 'r15', 'r16'])
  })

  it('property: wherever the last write was cut, recovery keeps exactly the records before it', async () => {
    const dir = tempDir()
    await seed(dir, 24) // last segment holds 21..24
    const pristine = readFileSync(seg(dir, 21))
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 * FRAME - 1 }), fc.uint8Array({ maxLength: 40 }), async (cut, garbage) => {
        writeFileSync(seg(dir, 21), pristine.subarray(0, pristine.length - cut))
        if (garbage.length) appendFileSync(seg(dir, 21), garbage)
        const wal = await openWal({ dir, segmentBytes: 1024 })
        try {
          const whole = Math.floor((4 * FRAME - cut) / FRAME)
          // Random garbage can never pass for the next record: CRC, length and seq must all agree.
          expect(wal.recovery.lastSeq).toBe(20 + whole)
          expect(wal.recovery.truncatedBytes).toBe(pristine.length - cut + garbage.length - (16 + whole * FRAME))
          expect(await labels(wal, 1)).toEqual(Array.from({ length: 20 + whole }, (_, i) => `r${i + 1}`))
        } finally {
          await wal.close()
        }
      }),
      { numRuns: 25 },
    )
  })

  it('removes a new segment whose header was cut short', async () => {
    const dir = tempDir()
    await seed(dir, 10)
    writeFileSync(seg(dir, 11), Buffer.from('BWAL\x01'))
    const wal = await open(dir)
    expect(wal.recovery).toMatchObject({ segments: 1, records: 10, truncatedBytes: 5 })
    expect(existsSync(seg(dir, 11))).toBe(false)
    expect((await wal.append(rec(11))).firstSeq).toBe(11)
  })
})

describe('Wal corruption', () => {
  it('a damaged record in an earlier segment is an error naming file and offset', async () => {
    const dir = tempDir()
    await seed(dir, 30)
    const bytes = readFileSync(seg(dir, 1))
    bytes[16 + 4 * FRAME + 30] ^= 0x40 // payload byte of seq 5
    writeFileSync(seg(dir, 1), bytes)
    const err = await openWal({ dir, segmentBytes: 1024 }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isWalCorrupt(err)).toBe(true)
    const e = err as WalCorruptError
    expect(e.file).toBe(seg(dir, 1))
    expect(e.offset).toBe(16 + 4 * FRAME)
    expect(e.message).toContain(`${seg(dir, 1)} is corrupt at byte ${16 + 4 * FRAME}`)
    expect(e.message).toMatch(/not a torn write.*Restore the file/)
    // Refusing to open left the directory as it was.
    expect(readFileSync(seg(dir, 1))).toEqual(bytes)
    expect(existsSync(join(dir, 'LOCK'))).toBe(false)
  })

  it('a segment missing between others is reported as a gap', async () => {
    const dir = tempDir()
    await seed(dir, 30)
    rmSync(seg(dir, 11))
    await expect(openWal({ dir, segmentBytes: 1024 })).rejects.toThrow(/records 11\.\.20 are missing/)
  })

  it('a damaged record inside the last segment ends it there (counted as truncated)', async () => {
    const dir = tempDir()
    await seed(dir, 25)
    const bytes = readFileSync(seg(dir, 21))
    bytes[16 + 2 * FRAME + 8] ^= 0x01 // seq field of seq 23
    writeFileSync(seg(dir, 21), bytes)
    const wal = await open(dir)
    expect(wal.recovery).toMatchObject({ lastSeq: 22, truncatedBytes: 3 * FRAME })
    expect((await labels(wal, 19)).join(',')).toBe('r19,r20,r21,r22')
  })

  it('damage found later by a reader is an error, not a silent skip', async () => {
    const dir = tempDir()
    const wal = await open(dir, 0) // (records kept in memory would be read from there, as written)
    await wal.append(Array.from({ length: 5 }, (_, i) => rec(i + 1)))
    const bytes = readFileSync(seg(dir, 1))
    bytes[16 + FRAME + 40] ^= 0xff
    writeFileSync(seg(dir, 1), bytes)
    await expect(wal.read(1, 10)).rejects.toSatisfy((e) => isWalCorrupt(e) && (e as WalCorruptError).offset === 16 + FRAME)
  })
})
