import { describe, expect, it } from 'vitest'
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core'
import { factHeaderBlock, factMsgId, FactPublisher, parsePubAck, replyToken, type ReadyMessage } from './publisher.js'
import { Subjects } from './subjects.js'
import { FactCodec, parseEdgeFact } from '../schemas/index.js'
import { metricFact } from '../test/support/facts.js'

const b = (s: string) => new TextEncoder().encode(s)

describe('parsePubAck', () => {
  it('reads the forms nats-server writes', () => {
    expect(parsePubAck(b('{"stream":"S", "seq":1}'))).toEqual({ seq: 1, duplicate: false })
    expect(parsePubAck(b('{"stream":"S", "seq":12345,"duplicate": true}'))).toEqual({ seq: 12345, duplicate: true })
    expect(parsePubAck(b('{"stream":"S","seq": 7,"duplicate":true}'))).toEqual({ seq: 7, duplicate: true })
    expect(parsePubAck(b('{"stream":"S","seq":7,"duplicate":false}'))).toEqual({ seq: 7, duplicate: false })
    // key order is the server's: the flag may come first, and a view into a larger buffer reads the same
    expect(parsePubAck(b('{"duplicate":true,"stream":"S","seq":42}'))).toEqual({ seq: 42, duplicate: true })
    expect(parsePubAck(b('xx{"stream":"S","seq":9}').subarray(2))).toEqual({ seq: 9, duplicate: false })
    expect(parsePubAck(new Uint8Array(b('{"stream":"S","seq":3,"domain":"d"}')))).toEqual({ seq: 3, duplicate: false })
  })
  it('turns API errors and garbage into errors', () => {
    expect(parsePubAck(b('{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}')).error).toMatch(/maximum messages exceeded/)
    expect(parsePubAck(b('nonsense')).error).toMatch(/unreadable PubAck/)
  })
})

describe('replyToken', () => {
  const inbox = '_INBOX.Zq9'
  const asNatsJs = (subject: string) => ({ subject: 'not read', _msg: { subject: new TextEncoder().encode(subject) } })
  it("reads the token of a PubAck's subject from its bytes as from its text", () => {
    for (const t of [0, 7, 10, 4096, 123456789, Number.MAX_SAFE_INTEGER]) {
      expect(replyToken(asNatsJs(`${inbox}.${t}`), inbox.length + 1)).toBe(t)
      expect(replyToken({ subject: `${inbox}.${t}` }, inbox.length + 1)).toBe(t)
    }
  })
  it('gives NaN for a token that is not digits (no pending publish has it)', () => {
    for (const bad of [`${inbox}.`, `${inbox}.12a`, `${inbox}.-1`, `${inbox}.1.2`]) expect(replyToken(asNatsJs(bad), inbox.length + 1)).toBeNaN()
    expect(replyToken({ subject: `${inbox}.x` }, inbox.length + 1)).toBeNaN()
  })
})

/**
 * The connection's parts the publisher uses: the frames it sends are kept, and no PubAck comes
 * until the test answers a reply subject.
 */
function recordingConnection(): { nc: NatsConnection; frames: Buffer[]; answer(reply: string, body: string): void; status(type: 'disconnect' | 'reconnect'): void } {
  const frames: Buffer[] = []
  let inbox: ((err: unknown, msg: unknown) => void) | undefined
  // the connection's status events, as nats.js gives them: one async iterator
  const events: Array<{ type: string }> = []
  let woken: (() => void) | undefined
  const next = async () => {
    while (events.length === 0) await new Promise<void>((r) => (woken = r))
    return { done: false, value: events.shift()! }
  }
  const nc = {
    options: {},
    info: { max_payload: 1 << 20 },
    protocol: { sendCommand: (b: Uint8Array) => void frames.push(Buffer.from(b)) },
    subscribe: (_s: string, o: { callback: typeof inbox }) => ((inbox = o.callback), { unsubscribe: () => undefined }),
    status: () => ({ [Symbol.asyncIterator]: () => ({ next }) }),
    isClosed: () => false,
    publish: () => undefined,
  } as unknown as NatsConnection
  return {
    nc,
    frames,
    answer: (reply, body) => inbox!(null, { subject: reply, data: new TextEncoder().encode(body), headers: undefined }),
    status: (type) => {
      events.push({ type })
      woken?.()
    },
  }
}

describe('FactPublisher retries', () => {
  it('sends a fact again with the same header block and Avro bytes under a fresh reply token', async () => {
    const { nc, frames, answer } = recordingConnection()
    const codec = new FactCodec()
    const publisher = new FactPublisher(nc, new Subjects(), codec, { ackTimeoutMs: 200, retries: 3 })
    const fact = metricFact(1)
    const outcome = publisher.publish(fact)
    const deadline = Date.now() + 30_000
    while (frames.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(frames.length).toBeGreaterThanOrEqual(2)
    const split = (b: Buffer) => {
      const eol = b.indexOf('\r\n')
      const [, subject, reply, hlen, total] = b.toString('latin1', 0, eol).split(' ')
      const body = b.subarray(eol + 2, eol + 2 + Number(total))
      return { subject, reply, headers: body.subarray(0, Number(hlen)).toString('latin1'), data: body.subarray(Number(hlen)) }
    }
    const [first, again] = [split(frames[0]), split(frames[1])]
    const w = codec.writer(fact.kind)
    expect(first.subject).toBe(`ben.fact.metric.${fact.source}`)
    expect(first.headers).toBe(factHeaderBlock(factMsgId(fact), w.name, w.fingerprint))
    expect(Buffer.from(first.data).equals(Buffer.from(codec.encode(fact).data))).toBe(true)
    expect(again.subject).toBe(first.subject)
    expect(again.headers).toBe(first.headers)
    expect(Buffer.from(again.data).equals(Buffer.from(first.data))).toBe(true)
    expect(again.reply).not.toBe(first.reply)
    // the PubAck to the retry settles it: a duplicate answer after a retry counts as stored
    answer(again.reply, '{"stream":"FACTS","seq":1,"duplicate":true}')
    expect(await outcome).toMatchObject({ status: 'stored', seq: 1 })
    await publisher.close()
  })
})

const SEQ_HEAD = Buffer.from('Ben-Sidecar-Seq: ', 'latin1')

/**
 * A message stored ready to send, as the sidecar's WAL holds one: some bytes before it, its header
 * block, one byte of payload, and the next record's bytes after it (not part of the message).
 */
function ready(id: string, payload: number): ReadyMessage {
  const block = `NATS/1.0\r\nNats-Msg-Id: ${id}\r\n\r\n`
  const bytes = Buffer.concat([Buffer.from('xyz'), Buffer.from(block, 'latin1'), Buffer.from([payload]), Buffer.from('next')])
  const dataAt = 3 + block.length
  return { subject: 'ben.fact.event.s', bytes, blockAt: 3, blockEnd: dataAt, dataAt, end: dataAt + 1, id }
}

describe('FactPublisher.trySendStored', () => {
  it("gives each outcome back with its send's context and tag, the stored header block and lines in the frame", async () => {
    const { nc, frames, answer } = recordingConnection()
    const publisher = new FactPublisher(nc, new Subjects(), new FactCodec(), { retries: 0 })
    const got: Array<{ id: string; status: string; seq?: number; ctx: ReadyMessage; tag: number }> = []
    const cb = (o: { id: string; status: string; seq?: number }, ctx: ReadyMessage, tag: number) => void got.push({ id: o.id, status: o.status, seq: o.seq, ctx, tag })
    const ctxs = [0, 1, 2].map((i) => ready(`s:f${i}`, i))
    for (let i = 0; i < ctxs.length; i++) expect(publisher.trySendStored(ctxs[i], SEQ_HEAD, i + 1, cb, 10 + i)).toBe(true)
    const deadline = Date.now() + 30_000
    while (frames.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    const all = Buffer.concat(frames).toString('latin1')
    const replies = [...all.matchAll(/^HPUB ben\.fact\.event\.s (\S+) /gm)].map((m) => m[1])
    expect(replies).toHaveLength(3)
    expect(all).toContain('NATS/1.0\r\nNats-Msg-Id: s:f1\r\nBen-Sidecar-Seq: 2\r\n\r\n\u0001\r\n')
    // answered out of order: each outcome comes with the context and tag of its own send
    answer(replies[2], '{"stream":"FACTS","seq":9}')
    answer(replies[0], '{"stream":"FACTS","seq":7,"duplicate":true}')
    answer(replies[1], '{"error":{"code":400,"description":"bad"}}')
    expect(got).toEqual([
      { id: 's:f2', status: 'stored', seq: 9, ctx: ctxs[2], tag: 12 },
      { id: 's:f0', status: 'duplicate', seq: 7, ctx: ctxs[0], tag: 10 },
      { id: 's:f1', status: 'failed', seq: undefined, ctx: ctxs[1], tag: 11 },
    ])
    expect(got[0].ctx).toBe(ctxs[2])
    await publisher.close()
  })
})

describe('FactPublisher.forgetPending', () => {
  it('forgets what is in flight: no outcome, not sent again on the reconnect, a late PubAck ignored', async () => {
    const { nc, frames, answer, status } = recordingConnection()
    const publisher = new FactPublisher(nc, new Subjects(), new FactCodec(), { retries: 0 })
    const got: string[] = []
    for (let i = 0; i < 3; i++) publisher.trySendStored(ready(`s:f${i}`, i), SEQ_HEAD, -1, (o) => void got.push(o.status), i)
    const sent = async (n: number) => {
      const deadline = Date.now() + 30_000
      while (
        [
          ...Buffer.concat(frames)
            .toString('latin1')
            .matchAll(/^HPUB /gm),
        ].length < n &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 10))
      return [
        ...Buffer.concat(frames)
          .toString('latin1')
          .matchAll(/^HPUB \S+ (\S+) /gm),
      ].map((m) => m[1])
    }
    const replies = await sent(3)
    expect(replies).toHaveLength(3)
    const turn = () => new Promise((r) => setImmediate(r))
    status('disconnect')
    await turn()
    publisher.forgetPending()
    expect(publisher.inFlight).toBe(0)
    // a fact sent after the reconnect is the only one sent again: what was forgotten stays forgotten
    status('reconnect')
    await turn()
    publisher.trySendStored(ready('s:f9', 9), SEQ_HEAD, -1, (o) => void got.push(`f9 ${o.status}`), 9)
    const after = await sent(4)
    await turn()
    expect(after).toHaveLength(4)
    answer(replies[0], '{"stream":"FACTS","seq":1}')
    answer(after[3], '{"stream":"FACTS","seq":2}')
    expect(got).toEqual(['f9 stored'])
    await publisher.close()
  })

  it("forgets one owner's sends only (a stage runner that failed, beside others on the same publisher)", async () => {
    const { nc, frames, answer, status } = recordingConnection()
    const publisher = new FactPublisher(nc, new Subjects(), new FactCodec(), { retries: 0 })
    const failed = {}
    const neighbour = {}
    const got: string[] = []
    const outcome = (who: string) => (o: { status: string; id: string }) => void got.push(`${who} ${o.id} ${o.status}`)
    const facts = [0, 1, 2].map((i) => metricFact(i))
    publisher.trySend(facts[0], undefined, outcome('failed'), failed)
    publisher.trySend(facts[1], undefined, outcome('neighbour'), neighbour)
    publisher.trySend(facts[2], undefined, outcome('failed'), failed)
    const replies = () =>
      [
        ...Buffer.concat(frames)
          .toString('latin1')
          .matchAll(/^HPUB \S+ (\S+) /gm),
      ].map((m) => m[1])
    const sent = async (n: number) => {
      const deadline = Date.now() + 30_000
      while (replies().length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      return replies()
    }
    expect(await sent(3)).toHaveLength(3)
    publisher.forgetPending(failed)
    expect(publisher.inFlight).toBe(1)
    // on the reconnect, only the neighbour's send goes out again
    status('disconnect')
    await new Promise((r) => setImmediate(r))
    status('reconnect')
    const after = await sent(4)
    await new Promise((r) => setImmediate(r))
    expect(after).toHaveLength(4)
    const resent = Buffer.concat(frames).toString('latin1').split('HPUB ').pop()!
    expect(resent).toContain(factMsgId(facts[1]))
    // late answers to the forgotten sends are ignored; the neighbour's outcome comes as usual
    answer(after[0], '{"stream":"FACTS","seq":1}')
    answer(after[2], '{"stream":"FACTS","seq":3}')
    answer(after[3], '{"stream":"FACTS","seq":2}')
    expect(got).toEqual([`neighbour ${facts[1].id} stored`])
    await publisher.close()
  })
})

describe('FactPublisher under a slow server', () => {
  it("holds the routine lanes to a window that follows the PubAcks' delay; alerts and other subjects keep the whole window", async () => {
    const { nc, frames, answer } = recordingConnection()
    // a target far above what a quick answer takes on a busy machine, far below the slow answers
    const publisher = new FactPublisher(nc, new Subjects(), new FactCodec(), { window: 64, delayTargetMs: 50, retries: 0, ackTimeoutMs: 600_000 })
    const outcomes: string[] = []
    const cb = (o: { status: string }) => void outcomes.push(o.status)
    let sent = 0
    let answered = 0
    /** Answers, in order, every publish sent so far (once its frame is written). */
    const answerAll = async () => {
      const deadline = Date.now() + 30_000
      let replies: string[] = []
      while (Date.now() < deadline) {
        replies = [
          ...Buffer.concat(frames)
            .toString('latin1')
            .matchAll(/^HPUB \S+ (\S+) /gm),
        ].map((m) => m[1])
        if (replies.length >= sent) break
        await new Promise((r) => setTimeout(r, 5))
      }
      expect(replies).toHaveLength(sent)
      for (; answered < sent; answered++) answer(replies[answered], `{"stream":"FACTS","seq":${answered + 1}}`)
    }
    /** Routine facts until the window refuses one: how many went. */
    const fill = () => {
      let n = 0
      for (; publisher.trySend(metricFact(sent), undefined, cb); n++) sent++
      return n
    }
    const alert = (i: number) => {
      const r = parseEdgeFact({ lane: 'alert', source: 'web-1', ts: 1_763_700_000_000 + i, rule: 'r', severity: 'high', message: 'm', attrs: {} })
      if (!r.ok) throw new Error(r.error.message)
      return r.value
    }

    // a quick answer first (the least round trip), then the whole window at once
    expect(publisher.trySend(metricFact(sent), undefined, cb)).toBe(true)
    sent++
    await answerAll()
    expect(fill()).toBe(64)
    // the server answers each window 300 ms late or more: far over the target, so the window shrinks
    const windows: number[] = []
    for (let round = 0; round < 6; round++) {
      const slowUntil = performance.now() + 300
      while (performance.now() < slowUntil) await new Promise((r) => setTimeout(r, 5))
      await answerAll()
      windows.push(fill())
    }
    expect(windows[0]).toBeLessThan(64)
    expect(windows.at(-1)).toBeLessThan(windows[0])
    const held = windows.at(-1)!
    // routine facts are refused now, on any routine subject…
    expect(publisher.trySend(metricFact(sent), undefined, cb)).toBe(false)
    expect(publisher.trySendRaw('ben.fact.event.web-1', new Uint8Array(1), headers(), 'raw-1', cb)).toBe(false)
    expect(publisher.trySendRaw('ben.scrubbed.diag.web-1', new Uint8Array(1), headers(), 'raw-2', cb)).toBe(false)
    // …but an alert (edge or scrubbed), an anomaly's subject or a dead letter still goes, up to the whole window
    expect(publisher.trySend(alert(0), undefined, cb)).toBe(true)
    expect(publisher.trySendRaw('ben.scrubbed.alert.web-1', new Uint8Array(1), headers(), 'raw-3', cb)).toBe(true)
    expect(publisher.trySendRaw('ben.anomaly.high.web-1', new Uint8Array(1), headers(), 'raw-4', cb)).toBe(true)
    expect(publisher.trySendRaw('ben.dlq.scrub', new Uint8Array(1), headers(), 'raw-5', cb)).toBe(true)
    sent += 4
    let alerts = 0
    while (publisher.trySend(alert(++alerts), undefined, cb)) sent++
    expect(held + 4 + alerts - 1).toBe(64)
    // quick answers again: the routine window grows back to the whole window
    let grown = 0
    for (let round = 0; round < 40 && grown < 64; round++) {
      await answerAll()
      grown = fill()
    }
    expect(grown).toBe(64)
    await answerAll()
    expect(outcomes.filter((s) => s === 'stored')).toHaveLength(sent)
    await publisher.close()
  })

  it('sends what waits for the routine window in the order it came, while the window shrinks', async () => {
    const { nc, frames, answer } = recordingConnection()
    const publisher = new FactPublisher(nc, new Subjects(), new FactCodec(), { window: 64, delayTargetMs: 5, retries: 0, ackTimeoutMs: 600_000 })
    const ids = (from: number) =>
      [
        ...Buffer.concat(frames)
          .toString('latin1')
          .matchAll(/^HPUB \S+ (\S+) .*\r\nNATS\/1\.0\r\nNats-Msg-Id: (\S+)\r\n/gm),
      ].slice(from)
    let answered = 0
    const answerSent = (late: boolean) => {
      const sent = ids(answered)
      const answerNow = () => {
        for (const [, reply] of sent) answer(reply, `{"stream":"FACTS","seq":${++answered}}`)
      }
      return late ? new Promise<void>((r) => setTimeout(() => (answerNow(), r()), 30)) : (answerNow(), Promise.resolve())
    }
    const stored: string[] = []
    const cb = (o: { id: string; status: string }) => void stored.push(o.status)
    // the base, then 300 facts sent through the window: most wait for it
    await publisher.send(metricFact(0), undefined, cb)
    await waitFrames(() => ids(0).length === 1)
    await answerSent(false)
    const facts = Array.from({ length: 300 }, (_, i) => metricFact(i + 1))
    const sending = facts.map((f) => publisher.send(f, undefined, cb))
    // the server is slow at first (the window shrinks under waiting senders), then quick
    let least = publisher.routineWindow
    for (let round = 0; answered < 301 && round < 200; round++) {
      await waitFrames(() => ids(answered).length > 0)
      await answerSent(round < 4)
      least = Math.min(least, publisher.routineWindow)
    }
    expect(least).toBeLessThan(64)
    await Promise.all(sending)
    await waitFrames(() => ids(answered).length === 0 && answered === 301)
    const order = ids(1).map((m) => m[2])
    expect(order).toEqual(facts.map((f) => factMsgId(f)))
    expect(stored.filter((s) => s === 'stored')).toHaveLength(301)
    await publisher.close()
  })
})

/** Polls `cond` (the frames written so far) with a generous deadline. */
async function waitFrames(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('the frames awaited were not written in 30 s')
    await new Promise((r) => setTimeout(r, 2))
  }
}

function headers(): MsgHdrs {
  const h = natsHeaders()
  h.set('Nats-Msg-Id', 'x')
  return h
}
