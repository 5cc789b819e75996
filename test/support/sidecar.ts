import { request } from 'node:http'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { FactCodec, Header, type Fact } from '../../schemas/index.js'
import { waitFor } from './servers.js'

export interface StoredMessage {
  readonly seq: number
  readonly subject: string
  readonly msgId: string | undefined
  readonly fact: Fact
}

/** How long `readStream` may take before it fails. */
const READ_MS = 120_000

/** Waits (generous deadline) until at least `n` messages are stored under `filter`; returns them all. */
export function storedAtLeast(nc: NatsConnection, stream: string, filter: string, n: number): Promise<StoredMessage[]> {
  return waitFor(
    `${n} messages on ${filter}`,
    async () => {
      const m = await readStream(nc, stream, filter)
      return m.length >= n ? m : undefined
    },
    READ_MS,
  )
}

/** Messages stored in a stream (optionally filtered), in stream order, decoded. */
export async function readStream(nc: NatsConnection, stream: string, filter?: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(stream, filter ? { subjects_filter: filter } : undefined)
  const total = filter ? Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0) : info.state.messages
  if (total === 0) return []
  const codec = new FactCodec()
  const c = await jetstream(nc).consumers.get(stream, filter ? { filter_subjects: filter } : {})
  const out: StoredMessage[] = []
  const it = await c.consume({ max_messages: 4096 })
  // Only against a hang: reading 50,000 facts takes seconds quietly and can take a minute on a busy
  // machine. Stopped by it, the read fails; it never returns part of the stream as if it were all.
  let timedOut = false
  const guard = setTimeout(() => {
    timedOut = true
    it.stop()
  }, READ_MS)
  let complete = false
  try {
    for await (const m of it) {
      const r = codec.decode(m.data, m.headers?.get(Header.SchemaFp))
      if (!r.ok) throw new Error(`message ${m.seq} on ${m.subject} does not decode: ${r.error.message}`)
      out.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get(Header.MsgId) || undefined, fact: r.value })
      if (m.info.pending === 0) {
        complete = true
        break
      }
    }
  } finally {
    clearTimeout(guard)
    it.stop()
  }
  if (!complete)
    throw new Error(`read ${out.length} of ${total} messages of ${stream}${filter ? ` (${filter})` : ''}${timedOut ? ` in ${READ_MS / 1000} s` : ''}, then the read stopped`)
  return out
}

export async function streamCount(nc: NatsConnection, stream: string): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages
}

export interface HttpAnswer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  json<T = Record<string, unknown>>(): T
}

/** An HTTP request to the sidecar's intake: `socketPath` for a Unix socket, else host/port. */
export function httpCall(to: { socketPath: string } | { host: string; port: number }, method: string, path: string, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { ...to, method, path, headers: body !== undefined ? { 'Content-Type': 'application/x-ndjson', 'Content-Length': Buffer.byteLength(body) } : {} },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (text += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: <T>() => JSON.parse(text) as T }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}
