import { jetstream } from '@nats-io/jetstream'
import { headers, type NatsConnection } from '@nats-io/nats-core'
import { encodeRecord, hashId, Header, type SchemaRegistry } from '../schemas/index.js'
import type { Subjects } from '../streams/index.js'

/**
 * Announces a part of Ben on `ben.hello.<component>.<instance>` (kept in HELLO for an
 * orchestrator that comes up late), on start and after every reconnect: returns the function
 * that stops re-announcing.
 */
export function announceOnConnect(
  nc: NatsConnection,
  subjects: Subjects,
  registry: SchemaRegistry,
  component: string,
  instance: string,
  version: string,
  info: () => Record<string, string>,
  onError: (err: Error) => void,
): () => void {
  const send = async () => {
    const ts = Date.now()
    const enc = encodeRecord(registry, 'ben.Hello', { component, instance, version, ts, info: info() })
    const h = headers()
    h.set(Header.Schema, enc.schema)
    h.set(Header.SchemaFp, enc.fingerprint)
    await jetstream(nc).publish(subjects.hello(`${component}.${instance}`), enc.data, { headers: h, msgID: hashId('hello', component, instance, String(ts)), timeout: 10_000 })
  }
  let stopped = false
  void send().catch(onError)
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) break
      if (s.type === 'reconnect') void send().catch(onError)
    }
  })().catch(() => undefined)
  return () => {
    stopped = true
  }
}
