import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { isLoopback, parseListen } from './listen.js'
import { CommandJournal } from './journal.js'
import { execHandlers } from './exec.js'
import { isSidecarError } from './errors.js'
import type { CommandFact } from '../schemas/index.js'
import { storedPrefix } from './reconcile.js'
import { frameFact, frameRecord, parseRecord, releaseRecords, sendableHeaders, SEQ_HEADER } from './record.js'
import { entryOf } from './window.js'
import { FactCodec, parseEdgeFact, type RawFact } from '../schemas/index.js'

describe('--listen', () => {
  it('takes Unix socket paths and loopback host:port', () => {
    expect(parseListen('/run/ben/s.sock')).toEqual({ kind: 'unix', path: '/run/ben/s.sock' })
    expect(parseListen('unix:rel.sock')).toEqual({ kind: 'unix', path: 'rel.sock' })
    expect(parseListen('127.0.0.1:4590')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 4590 })
    expect(parseListen('localhost:0')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 0 })
    expect(parseListen('[::1]:80')).toEqual({ kind: 'tcp', host: '::1', port: 80 })
    expect(isLoopback('127.9.9.9')).toBe(true)
  })

  it('refuses anything reachable from the network, with the reason', () => {
    for (const bad of ['0.0.0.0:4590', ':4590', '10.0.0.5:1', '[::]:1', 'example.com:80', '192.168.1.1:8080']) {
      let err: unknown
      try {
        parseListen(bad)
      } catch (e) {
        err = e
      }
      expect(isSidecarError(err) && err.code).toBe('sidecar_listen')
      expect((err as Error).message).toMatch(/not a loopback address/)
    }
    expect(() => parseListen('nonsense')).toThrow(/Unix socket path or host:port/)
    expect(() => parseListen('127.0.0.1:99999')).toThrow(/out of range/)
  })
})

describe('command journal', () => {
  const dirs: string[] = []
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })))
  const file = () => {
    const d = mkdtempSync(join(tmpdir(), 'ben-journal-'))
    dirs.push(d)
    return join(d, 'commands.jsonl')
  }

  it('remembers accepted commands and their outcome across reopen; forgets long-expired ones', () => {
    const f = file()
    const j = new CommandJournal(f, 1_000)
    j.start({ commandId: 'c1', nonce: 'n1', expiresAt: 10_000, seq: 5 })
    j.done('c1', 'executed', null)
    j.start({ commandId: 'c2', nonce: 'n2', expiresAt: 2_000, seq: 6 }) // interrupted: no outcome
    j.close()
    const k = new CommandJournal(f, 1_500)
    expect(k.get('c1')).toEqual({ commandId: 'c1', nonce: 'n1', expiresAt: 10_000, seq: 5, status: 'executed', reason: null })
    expect(k.get('c2')).toEqual({ commandId: 'c2', nonce: 'n2', expiresAt: 2_000, seq: 6 })
    k.close()
    const mid = new CommandJournal(f, 2_000 + 3_600_001) // c2 expired over an hour ago, c1 not
    expect(mid.get('c2')).toBeUndefined()
    expect(mid.get('c1')?.status).toBe('executed')
    mid.close()
    const later = new CommandJournal(f, 10_000 + 3_600_001)
    expect(later.get('c2')).toBeUndefined()
    expect(later.get('c1')).toBeUndefined()
    later.close()
    expect(readFileSync(f, 'utf8')).toBe('')
  })

  it('skips a line torn by a crash', () => {
    const f = file()
    const j = new CommandJournal(f, 0)
    j.start({ commandId: 'c1', nonce: 'n1', expiresAt: 10_000, seq: 1 })
    j.close()
    appendFileSync(f, '{"t":"done","commandId":"c1","sta')
    const k = new CommandJournal(f, 0)
    expect(k.get('c1')?.status).toBeUndefined()
    k.close()
    expect(existsSync(`${f}.tmp`)).toBe(false)
  })
})

describe('--exec handlers', () => {
  const cmd = { payload: { verb: 'set_mode', target: 'web-3', commandId: 'c1' } } as unknown as CommandFact

  it('runs the program with the arguments on stdin; exit 0 resolves, anything else rejects with stderr', async () => {
    const h = execHandlers(['set_mode=read line; test "$line" = \'{"mode":"degraded"}\' && test "$BEN_COMMAND_ID" = c1', 'throttle_job=echo nope >&2; exit 3'])
    await expect(Promise.resolve(h.set_mode({ mode: 'degraded' }, cmd))).resolves.toBeUndefined()
    await expect(Promise.resolve(h.set_mode({ mode: 'normal' }, cmd))).rejects.toThrow(/exited with 1/)
    await expect(Promise.resolve(h.throttle_job({}, cmd))).rejects.toThrow(/exited with 3: nope/)
    expect(() => execHandlers(['no-equals'])).toThrow(/<verb>=<command>/)
  })
})

describe('reconcile: what already landed', () => {
  const fake = (last: Record<string, { seq: number; id: string } | undefined>) => ({
    lastHeaders: async (_stream: string, subject: string) => {
      const v = last[subject]
      if (!v) return null
      return { get: (k: string) => (k === SEQ_HEADER ? String(v.seq) : k === 'Nats-Msg-Id' ? v.id : '') }
    },
  })
  const pending = ['y', 'z', 'a', 'b', 'x', 'c'].map((id, i) => ({ seq: 15 + i, id, refused: false }))
  const subjects = ['m', 'e']

  it('ends the prefix at the furthest last-stored message that is exactly a held fact', async () => {
    expect(await storedPrefix(fake({ e: { seq: 17, id: 'a' } }), 'FACTS', subjects, pending)).toBe(3)
    expect(await storedPrefix(fake({ e: { seq: 17, id: 'a' }, m: { seq: 19, id: 'x' } }), 'FACTS', subjects, pending)).toBe(5)
    expect(await storedPrefix(fake({}), 'FACTS', subjects, pending)).toBe(0)
  })

  it('is not fooled by an older copy of a held fact, a foreign seq, or a refused fact', async () => {
    // x was stored long ago (seq 3) and accepted again at 19: y..b are not stored
    expect(await storedPrefix(fake({ m: { seq: 3, id: 'x' } }), 'FACTS', subjects, pending)).toBe(0)
    expect(await storedPrefix(fake({ m: { seq: 19, id: 'other' } }), 'FACTS', subjects, pending)).toBe(0)
    const refused = pending.map((p, i) => (i === 1 ? { ...p, refused: true } : p))
    expect(await storedPrefix(fake({ e: { seq: 17, id: 'a' } }), 'FACTS', subjects, refused)).toBe(0)
    expect(await storedPrefix(fake({ e: { seq: 15, id: 'y' } }), 'FACTS', subjects, refused)).toBe(1)
  })

  it('reads records of alternating subjects each with its own subject, and refuses a record cut anywhere in its fields', () => {
    const enc = (id: string) => ({ data: new Uint8Array([1, 2, 3]), id, schema: 'ben.Event', fingerprint: 'fp' })
    const subjects = ['ben.fact.event.a', 'ben.fact.event.b', 'ben.fact.metric.a', 'ben.fact.event.é', 'ben.fact.event.a']
    for (let i = 0; i < 20; i++) {
      const subject = subjects[i % subjects.length]
      const rec = parseRecord(frameRecord(subject, enc(`f${i}`)))!
      expect(rec.subject).toBe(subject)
      expect(rec.id).toBe(`${subject.slice(subject.lastIndexOf('.') + 1)}:f${i}`)
      expect(Buffer.from(rec.data)).toEqual(Buffer.from([1, 2, 3]))
      expect(Buffer.from(rec.headers).toString('latin1')).toBe(`NATS/1.0\r\nNats-Msg-Id: ${rec.id}\r\nBen-Schema: ben.Event\r\nBen-Schema-Fp: fp\r\n\r\n`)
    }
    const whole = frameRecord('ben.fact.event.a', enc('f1'))
    const dataAt = whole.length - 3
    for (let cut = 0; cut < dataAt; cut++) expect(parseRecord(whole.subarray(0, cut))).toBeNull()
    // the Avro bytes are what follows the header block: a record cut in them reads with fewer bytes
    expect(Buffer.from(parseRecord(whole.subarray(0, dataAt + 1))!.data)).toEqual(Buffer.from([1]))
  })

  it('adds the seq header before the end of the header block', () => {
    const rec = entryOf(42, 0, frameRecord('ben.fact.metric.s', { data: new Uint8Array([7]), id: 'f1', schema: 'ben.Metric', fingerprint: 'ab' }))
    expect(rec.undecodable).toBe(false)
    const h = (sendableHeaders(rec, rec.seq) as unknown as { encode(): Uint8Array }).encode()
    expect(Buffer.from(h).toString('latin1')).toBe('NATS/1.0\r\nNats-Msg-Id: s:f1\r\nBen-Schema: ben.Metric\r\nBen-Schema-Fp: ab\r\nBen-Sidecar-Seq: 42\r\n\r\n')
  })
  it('reads a record in place among the others written with it (a view of the buffer the WAL wrote)', () => {
    const one = frameRecord('ben.fact.metric.s', { data: new Uint8Array([7, 8]), id: 'f1', schema: 'ben.Metric', fingerprint: 'ab' })
    const two = frameRecord('ben.fact.event.s', { data: new Uint8Array([9]), id: 'f2', schema: 'ben.Event', fingerprint: 'cd' })
    const written = Buffer.concat([Buffer.from('head'), one, two, Buffer.from('tail')])
    const a = entryOf(1, 0, written.subarray(4, 4 + one.length))
    const b = entryOf(2, 0, written.subarray(4 + one.length, 4 + one.length + two.length))
    expect([a.undecodable, b.undecodable]).toEqual([false, false])
    expect([a.subject, a.id, b.subject, b.id]).toEqual(['ben.fact.metric.s', 's:f1', 'ben.fact.event.s', 's:f2'])
    expect([...a.bytes.subarray(a.dataAt, a.end)]).toEqual([7, 8])
    expect([...b.bytes.subarray(b.dataAt, b.end)]).toEqual([9])
    expect(b.bytes.subarray(b.blockAt, b.blockEnd).toString('latin1')).toBe('NATS/1.0\r\nNats-Msg-Id: s:f2\r\nBen-Schema: ben.Event\r\nBen-Schema-Fp: cd\r\n\r\n')
    // a record cut short is not read past its end: its header block is cut
    const cut = entryOf(3, 0, written.subarray(4, 4 + one.length - 3))
    expect([cut.undecodable, cut.end - cut.at]).toEqual([true, one.length - 3])
    expect(entryOf(4, 0, written.subarray(4, 10)).undecodable).toBe(true)
  })
  it('cuts records from a chunk again once all of its records were given back, and never from one with a record still out', () => {
    const codec = new FactCodec()
    const fact = (i: number) =>
      (parseEdgeFact({ lane: 'event', source: 's', ts: i, type: 'log', message: `line ${i} ${'x'.repeat(200)}`, attrs: {} }) as { ok: true; value: RawFact }).value
    const subject = 'ben.fact.event.s'
    // the chunk of the first record: one of its records is kept, the others given back
    const kept = frameFact(subject, codec, fact(0))
    const keptBytes = Buffer.from(kept)
    const memoryA = kept.buffer
    const fromA: Buffer[] = []
    let i = 1
    for (; ; i++) {
      const r = frameFact(subject, codec, fact(i))
      if (r.buffer !== memoryA) {
        releaseRecords([r])
        break
      }
      fromA.push(r)
    }
    releaseRecords(fromA)
    // the next chunks' records all come back: their memory is cut from again, never A's
    const seen = new Set<ArrayBufferLike>()
    let last = { memory: memoryA, at: 0 }
    let reused = false
    for (let n = 0; n < 30_000; n++, i++) {
      const r = frameFact(subject, codec, fact(i))
      expect(r.buffer).not.toBe(memoryA)
      expect(parseRecord(r)!.id).toBe(`s:${fact(i).id}`)
      // memory cut from again: a chunk seen before, or the same one from its start
      if (r.buffer === last.memory ? r.byteOffset < last.at : seen.has(r.buffer)) reused = true
      seen.add(r.buffer)
      last = { memory: r.buffer, at: r.byteOffset }
      releaseRecords([r])
    }
    expect(reused).toBe(true)
    expect(seen.size).toBeLessThan(6)
    expect(Buffer.from(kept).equals(keptBytes)).toBe(true)
    releaseRecords([kept])
  })
  it('frames runs of facts exactly as frameRecord does whatever their subjects, sources, kinds and ids (latin1 and beyond)', () => {
    const codec = new FactCodec()
    const edge = [
      { lane: 'metric', source: 's', ts: 1, name: 'cpu', value: 0.5, labels: { job: 'j' } },
      { lane: 'event', source: 's', ts: 2, type: 'log', message: 'm', attrs: { a: 'b' } },
      { lane: 'diag', source: 's', ts: 3, component: 'disk', message: 'x', attrs: {} },
      { lane: 'alert', source: 's', ts: 4, rule: 'r', severity: 'high', message: 'm', attrs: { p: '/tmp/x' } },
    ].map((e) => (parseEdgeFact(e) as { ok: true; value: RawFact }).value)
    const id = fc.oneof(
      fc.string({ minLength: 1, maxLength: 70 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
      fc.constantFrom('0123456789abcdef0123456789abcdef', 'é', 'ÿ€'),
    )
    const source = fc.constantFrom('s', 'web-3', 'ÿ-latin1', 'a'.repeat(100))
    const one = fc.record({ kind: fc.integer({ min: 0, max: 3 }), source, id })
    fc.assert(
      fc.property(fc.array(one, { minLength: 1, maxLength: 12 }), (run) => {
        for (const { kind, source, id } of run) {
          const f = { ...edge[kind], source, id } as RawFact
          const subject = `ben.fact.${f.kind}.${source}`
          const framed = frameFact(subject, codec, f)
          expect(framed.equals(frameRecord(subject, codec.encode(f)))).toBe(true)
          expect(parseRecord(framed)!.id).toBe(Buffer.from(`${source}:${id}`, 'latin1').toString('latin1'))
          releaseRecords([framed])
        }
      }),
      { numRuns: 300 },
    )
  })

  it('frames a fact in one pass exactly as frameRecord frames its Avro bytes, across chunk boundaries and for facts larger than a chunk', () => {
    const codec = new FactCodec()
    const edge = [
      { lane: 'metric', source: 's', ts: 1, name: 'cpu', value: 0.5, labels: { job: 'j' } },
      { lane: 'event', source: 's', ts: 2, type: 'log', message: 'é'.repeat(60_000), attrs: { a: 'b'.repeat(400_000) } },
      { lane: 'diag', source: 's', ts: 3, component: 'disk', message: 'x', attrs: { big: 'x'.repeat(1_500_000) } },
      { lane: 'alert', source: 's', ts: 4, rule: 'r', severity: 'high', message: 'm', attrs: { p: '/tmp/x' } },
    ]
    const facts = edge.map((e) => (parseEdgeFact(e) as { ok: true; value: RawFact }).value)
    expect(facts.every((f) => f !== undefined)).toBe(true)
    for (let round = 0; round < 12; round++)
      for (const f of facts) {
        const subject = `ben.fact.${f.kind}.s`
        expect(frameFact(subject, codec, f).equals(frameRecord(subject, codec.encode(f)))).toBe(true)
      }
  })
})
