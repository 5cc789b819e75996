/**
 * bench:publisher-micro — CPU µs per fact of the publisher's own work, without a socket or a
 * server: the fact's Avro encoding, its header block and HPUB frame (into a protocol that keeps
 * nothing), and the PubAck handling (a PubAck per fact fed to the publisher's inbox callback).
 * Splits the acked publisher's client cost into parts; the end-to-end figure against nats.go is
 * bench:ingest's. Not a test: nothing here passes or fails.
 *
 *   npm run build && node --expose-gc dist/bench/publisher-micro.js   (BENCH_N, default 200,000)
 */
import { FactCodec } from '../schemas/index.js'
import { factHeaderBlock, factMsgId, FactPublisher, Subjects, type PublishOutcome } from '../streams/index.js'
import { FrameWriter } from '../streams/frames.js'
import type { NatsConnection } from '@nats-io/nats-core'
import { selfCpu } from './proc-cpu.js'
import { metricFact } from './metric-fact.js'

const N = Number(process.env.BENCH_N ?? 200_000)

const fact = metricFact

/** A connection whose protocol takes frames and drops them; the inbox callback is kept to feed PubAcks. */
function fakeConnection() {
  let sent = 0
  let cb: ((err: unknown, msg: unknown) => void) | undefined
  const nc = {
    options: { inboxPrefix: '_INBOX' },
    info: { max_payload: 1 << 20 },
    protocol: { sendCommand: (b: Uint8Array) => void (sent += b.length) },
    subscribe: (_s: string, o: { callback: typeof cb }) => ((cb = o.callback), { unsubscribe: () => undefined }),
    status: () => ({ [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => undefined) }) }),
    isClosed: () => false,
    publish: () => undefined,
  }
  return { nc: nc as unknown as NatsConnection, ack: (subject: string, data: Uint8Array) => cb!(null, { subject, data, headers: undefined }), bytes: () => sent }
}

function measure(label: string, run: () => void): number {
  global.gc?.()
  const c0 = selfCpu()
  run()
  const us = ((selfCpu() - c0) * 1e6) / N
  process.stdout.write(`${label.padEnd(58)} ${us.toFixed(2)} µs/fact\n`)
  return us
}

async function main(): Promise<void> {
  const codec = new FactCodec()
  const subjects = new Subjects()
  const facts = Array.from({ length: N }, (_, i) => fact('m', i))
  const buf = Buffer.allocUnsafe(64 * 1024)
  for (let k = 0; k < 2; k++) {
    process.stdout.write(`-- pass ${k + 1}\n`)
    measure('Avro encodeInto', () => {
      for (const f of facts) codec.encodeInto(f, buf, 0)
    })
    measure('subject + msg id + header block text', () => {
      for (const f of facts) {
        const w = codec.writer(f.kind)
        subjects.forFact(f)
        factHeaderBlock(factMsgId(f), w.name, w.fingerprint)
      }
    })
    measure('FrameWriter.writeEncoded (encode + header + HPUB frame)', () => {
      const { nc } = fakeConnection()
      const fw = new FrameWriter(nc)
      const reply = Buffer.from('_INBOX.abcdefghijklmnopqrstuv.')
      const head = Buffer.from('NATS/1.0\r\nNats-Msg-Id: ')
      const w = codec.writer('metric')
      const tail = Buffer.from(factHeaderBlock('', w.name, w.fingerprint).slice(head.length), 'latin1')
      let token = 0
      for (const f of facts) fw.writeEncoded(subjects.forFact(f), reply, ++token, head, f.source, f.id, tail, codec, f, 1 << 20)
      fw.flush()
    })
    const { nc, ack } = fakeConnection()
    const W = 4096
    const pub = new FactPublisher(nc, subjects, codec, { window: W })
    const inbox = (pub as unknown as { inbox: string }).inbox
    let stored = 0
    const count = (o: PublishOutcome) => void (o.status === 'stored' && stored++)
    const acks = Array.from({ length: N }, (_, i) => Buffer.from(`{"stream":"FACTS","seq":${i + 1}}`))
    const subjectsOf = Array.from({ length: N }, (_, i) => `${inbox}.${i + 1}`)
    const tokenBase = (pub as unknown as { token: number }).token
    let sendCpu = 0
    let ackCpu = 0
    global.gc?.()
    for (let i = 0; i < N; i += W) {
      const end = Math.min(N, i + W)
      let c0 = selfCpu()
      for (let j = i; j < end; j++) if (!pub.trySend(facts[j], undefined, count)) throw new Error('window full')
      sendCpu += selfCpu() - c0
      c0 = selfCpu()
      for (let j = i; j < end; j++) ack(subjectsOf[tokenBase + j], acks[j])
      ackCpu += selfCpu() - c0
    }
    process.stdout.write(`${'FactPublisher.trySend, windows of 4096 (all above + pending)'.padEnd(58)} ${((sendCpu * 1e6) / N).toFixed(2)} µs/fact\n`)
    process.stdout.write(`${'PubAck handling (parse, settle, outcome)'.padEnd(58)} ${((ackCpu * 1e6) / N).toFixed(2)} µs/fact\n`)
    if (stored !== N) throw new Error(`stored ${stored} of ${N}`)
    await pub.close()
  }
}

main().catch((err) => {
  process.stderr.write(`bench:publisher-micro failed: ${(err as Error).stack}\n`)
  process.exit(1)
})
