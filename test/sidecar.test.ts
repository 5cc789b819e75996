/**
 * The sidecar in-process against a real nats-server: intake → scrub → WAL → FACTS exactly
 * once and in order; the NDJSON intake over a Unix socket and loopback HTTP; the hello; the
 * key registration; and the WAL-full policies (refuse with a clear error, or block) with no
 * silent loss.
 */
import { join } from 'node:path'
import { Kvm } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeWith, defaultRegistry, Header, type Hello, type RawFact } from '../schemas/index.js'
import { readKey, generateKeyPair } from '../keys/index.js'
import { AcceptReason, createSidecar, parseListen } from '../sidecar/index.js'
import { serveNdjson } from '../intake/index.js'
import { startTestNats, tempDir, waitFor, type TestNats } from './support/servers.js'
import { httpCall, readStream, streamCount } from './support/sidecar.js'
import { jetstreamManager } from '@nats-io/jetstream'

const TS = 1_763_700_000_000
const metric = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  lane: 'metric',
  ts: TS + i,
  name: 'cpu.load',
  value: i,
  labels: { n: String(i) },
  ...extra,
})

let t: TestNats
const dirs: Array<{ remove(): void }> = []
const temp = () => {
  const d = tempDir('ben-sidecar-')
  dirs.push(d)
  return d.path
}

beforeAll(async () => {
  t = await startTestNats()
})
afterAll(async () => {
  await t?.stop()
  for (const d of dirs) d.remove()
})

describe('sidecar (in-process, real nats-server)', () => {
  it('accepts, scrubs and delivers every accepted fact to FACTS once, in order; announces itself; registers its key', async () => {
    const key = generateKeyPair('sidecar')
    const sc = await createSidecar({ id: 's1', nats: t.nc, walDir: join(temp(), 'wal'), keyPair: key, handlers: { set_mode: () => undefined } })
    try {
      // 20 concurrent batches of 100 (group commit), with refusals mixed in
      const batches = Array.from({ length: 20 }, (_, b) => Array.from({ length: 100 }, (_, j) => metric(b * 100 + j)))
      batches[3][7] = { ...metric(307), source: 's2' }
      batches[5][0] = { lane: 'metric', ts: TS }
      batches[9][50] = { lane: 'event', ts: TS + 950, type: 'auth.login', message: 'login ok for alice@example.org', attrs: { user: 'alice' } }
      const results = await Promise.all(batches.map((b) => sc.accept(b)))
      expect(results.reduce((n, r) => n + r.accepted, 0)).toBe(1998)
      expect(results[3].rejected).toEqual([{ index: 7, reason: AcceptReason.WrongSource, message: expect.stringContaining("not this sidecar's id 's1'") }])
      expect(results[5].rejected).toEqual([{ index: 0, reason: AcceptReason.Invalid, message: expect.stringContaining('name') }])

      await waitFor('1998 facts in FACTS', async () => (await streamCount(t.nc, 'FACTS')) === 1998 || undefined, 120_000)
      const stored = await readStream(t.nc, 'FACTS', 'ben.fact.*.s1')
      expect(stored.length).toBe(1998)
      expect(new Set(stored.map((m) => m.fact.id)).size).toBe(1998)
      // in WAL order: concurrent batches may interleave, but each batch's facts keep their order
      const at = new Map(stored.map((m, k) => [m.fact.ts, k]))
      for (const batch of batches) {
        const ks = batch.map((f) => at.get(f.ts as number)).filter((k): k is number => k !== undefined)
        expect(ks).toEqual([...ks].sort((x, y) => x - y))
      }
      for (const m of stored) {
        expect(m.msgId).toBe(`s1:${m.fact.id}`) // bound to the source
        expect(m.subject).toBe(`ben.fact.${m.fact.kind}.s1`)
        expect(m.fact).toMatchObject({ source: 's1', producer: 's1', config: { 'ben-redaction': 0 } })
      }
      const event = stored.find((m) => m.fact.kind === 'event')!.fact as RawFact & { kind: 'event' }
      expect(event.payload.message).not.toContain('alice@example.org')
      expect(event.redactions.length).toBeGreaterThan(0)

      await sc.online
      const msg = await (await jetstreamManager(t.nc)).streams.getMessage('HELLO', { last_by_subj: 'ben.hello.sidecar.s1' })
      const h = decodeWith(defaultRegistry(), msg!.data, msg!.header.get(Header.SchemaFp))
      expect(h.ok).toBe(true)
      expect((h as { value: Hello }).value).toMatchObject({ component: 'sidecar', instance: 's1', info: { verbs: 'set_mode', keyId: key.keyId, walFsync: 'batch' } })

      const kv = await new Kvm(t.nc).open('ben-keys')
      expect(await readKey(kv, key.keyId)).toMatchObject({ role: 'sidecar', owner: 's1' })

      const s = sc.status()
      expect(s.wal).toMatchObject({ depthRecords: 0, oldestUnsentSeq: null, lastSeq: 1998 })
      expect(s.drain).toMatchObject({ stored: 1998, duplicates: 0, deliveredSeq: 1998, connected: true })
      expect(s.intake).toEqual({ accepted: 1998, rejected: { wrong_source: 1, invalid: 1 } })
    } finally {
      await sc.close()
    }
  })

  it('takes NDJSON over a Unix socket and loopback HTTP and answers with counts and line numbers', async () => {
    const dir = temp()
    // The counts below (5 stored, 1 duplicate) hold when every PubAck comes back within the drain's
    // ack timeout. At the default 5 s a busy machine can miss it: the drain then resends (or
    // reconciles) facts that were stored, and counts them as duplicates or reconciled instead.
    const sc = await createSidecar({
      id: 's-http',
      nats: t.nc,
      walDir: join(dir, 'wal'),
      keyPair: generateKeyPair('sidecar'),
      registerKey: false,
      drain: { ackTimeoutMs: 120_000 },
    })
    const sock = join(dir, 'in.sock')
    const unix = await serveNdjson(sc, parseListen(sock), { maxLineBytes: 4096, batchLines: 3 })
    const tcp = await serveNdjson(sc, parseListen('127.0.0.1:0'))
    try {
      const lines = [
        JSON.stringify(metric(1)),
        JSON.stringify(metric(2)) + '\r',
        '',
        'not json',
        JSON.stringify(metric(3, { source: 'elsewhere' })),
        JSON.stringify({ ...metric(4), message: 'x'.repeat(5000) }),
        JSON.stringify(metric(5)),
        JSON.stringify(metric(6)),
      ]
      const a = await httpCall({ socketPath: sock }, 'POST', '/facts', lines.join('\n'))
      expect(a.status).toBe(200)
      expect(a.json()).toEqual({
        accepted: 4,
        rejected: 3,
        truncated: false,
        rejections: [
          { line: 4, reason: 'not_json', message: expect.stringContaining('not JSON') },
          { line: 5, reason: 'wrong_source', message: expect.stringContaining("'elsewhere'") },
          { line: 6, reason: 'line_too_long', message: expect.stringContaining('4096') },
        ],
      })
      const port = Number(/:(\d+)$/.exec(tcp.address)![1])
      const b = await httpCall({ host: '127.0.0.1', port }, 'POST', '/facts', JSON.stringify(metric(7)) + '\n' + JSON.stringify(metric(1)) + '\n')
      expect(b.json()).toMatchObject({ accepted: 2, rejected: 0 })
      expect((await httpCall({ host: '127.0.0.1', port }, 'GET', '/status')).json()).toMatchObject({ id: 's-http', intake: { accepted: 6 } })
      expect((await httpCall({ socketPath: sock }, 'GET', '/nope')).status).toBe(404)
      expect((await httpCall({ socketPath: sock }, 'GET', '/facts')).status).toBe(405)
      // metric(1) was sent twice: one fact (same content id), de-duplicated by JetStream
      await waitFor('6 distinct facts of s-http', async () => (await readStream(t.nc, 'FACTS', 'ben.fact.*.s-http')).length === 5 || undefined, 120_000)
      await waitFor('the sidecar to see the duplicate', () => sc.status().drain.duplicates === 1 || undefined, 120_000)
      expect(sc.status().drain.stored).toBe(5)
    } finally {
      await unix.close()
      await tcp.close()
      await sc.close()
    }
  })

  it('WAL full, policy refuse: whole batches refused with wal_full and a clear message (HTTP 503 + Retry-After); nothing lost or invented', async () => {
    const dir = temp()
    let connect: (nc: NatsConnection) => void = () => undefined
    const nats = new Promise<NatsConnection>((r) => (connect = r))
    const sc = await createSidecar({
      id: 's-full',
      nats,
      walDir: join(dir, 'wal'),
      keyPair: generateKeyPair('sidecar'),
      walSegmentBytes: 16 * 1024,
      maxWalBytes: 32 * 1024,
      whenFull: 'refuse',
      registerKey: false,
    })
    const tcp = await serveNdjson(sc, parseListen('127.0.0.1:0'))
    try {
      const accepted = new Set<string>()
      let refusedBatches = 0
      for (let b = 0; b < 40 && refusedBatches < 3; b++) {
        const batch = Array.from({ length: 10 }, (_, j) => metric(b * 10 + j, { id: `full-${b * 10 + j}` }))
        const r = await sc.accept(batch)
        if (r.accepted === 10) batch.forEach((f) => accepted.add(f.id as string))
        else {
          expect(r.accepted).toBe(0) // all or nothing
          expect(r.rejected.map((x) => x.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
          expect(r.rejected[0]).toMatchObject({ reason: 'wal_full', message: expect.stringMatching(/WAL .* is full: .*Nothing was written.*send it again/) })
          refusedBatches++
        }
      }
      expect(refusedBatches).toBe(3)
      expect(accepted.size).toBeGreaterThan(0)
      const port = Number(/:(\d+)$/.exec(tcp.address)![1])
      const body = Array.from({ length: 10 }, (_, j) => JSON.stringify(metric(900 + j, { id: `full-http-${j}` }))).join('\n')
      const h = await httpCall({ host: '127.0.0.1', port }, 'POST', '/facts', body)
      expect(h.status).toBe(503)
      expect(h.headers['retry-after']).toBe('1')
      expect(h.json()).toMatchObject({ accepted: 0, rejected: 10, rejections: Array.from({ length: 10 }, (_, j) => ({ line: j + 1, reason: 'wal_full' })) })
      expect(sc.status().wal.refused).toBe(40)

      connect(t.nc) // the bus comes back: exactly the accepted facts arrive
      await waitFor('the accepted facts in FACTS', async () => (await readStream(t.nc, 'FACTS', 'ben.fact.*.s-full')).length === accepted.size || undefined, 120_000)
      const ids = (await readStream(t.nc, 'FACTS', 'ben.fact.*.s-full')).map((m) => m.fact.id)
      expect(new Set(ids)).toEqual(accepted)
      await waitFor('space to come back', async () => (await sc.accept([metric(5000, { id: 'after' })])).accepted === 1 || undefined, 120_000)
    } finally {
      await tcp.close()
      await sc.close()
    }
  })

  it('WAL full, policy block: the producer waits until the drain frees space, then everything arrives', async () => {
    const dir = temp()
    let connect: (nc: NatsConnection) => void = () => undefined
    const nats = new Promise<NatsConnection>((r) => (connect = r))
    const sc = await createSidecar({
      id: 's-block',
      nats,
      walDir: join(dir, 'wal'),
      keyPair: generateKeyPair('sidecar'),
      walSegmentBytes: 16 * 1024,
      maxWalBytes: 32 * 1024,
      whenFull: 'block',
      registerKey: false,
    })
    try {
      const pending: Array<Promise<{ accepted: number }>> = []
      let blocked = false
      let b = 0
      while (!blocked && b < 60) {
        const p = sc.accept(Array.from({ length: 10 }, (_, j) => metric(b * 10 + j, { id: `block-${b * 10 + j}` })))
        b++
        pending.push(p)
        // Either the batch is taken, or the WAL reports a wait for room (this batch's or one before it).
        let taken = false
        void p.then(() => (taken = true))
        blocked =
          (await waitFor('the batch to be taken or the WAL to wait for room', () => (sc.status().wal.blockedWaits > 0 ? 'blocked' : taken ? 'taken' : undefined), 60_000, 5)) ===
          'blocked'
      }
      expect(blocked).toBe(true)
      expect(sc.status().wal.blockedWaits).toBeGreaterThanOrEqual(1)
      connect(t.nc)
      const results = await Promise.all(pending)
      expect(results.every((r) => r.accepted === 10)).toBe(true)
      await waitFor('every fact of s-block', async () => (await readStream(t.nc, 'FACTS', 'ben.fact.*.s-block')).length === b * 10 || undefined, 120_000)
      const ids = (await readStream(t.nc, 'FACTS', 'ben.fact.*.s-block')).map((m) => m.fact.id)
      expect(ids).toEqual(Array.from({ length: b * 10 }, (_, i) => `block-${i}`))
    } finally {
      await sc.close()
    }
  })
})
