import { jetstream } from '@nats-io/jetstream'
import { headers, type NatsConnection } from '@nats-io/nats-core'
import { encodeRecord, hashId, Header, type Hello, type SchemaRegistry } from '../schemas/index.js'
import type { Subjects } from './subjects.js'

/**
 * Publishes a `ben.Hello` on `ben.hello.<component>.<instance>` (Avro, with Ben-Schema headers)
 * and waits for JetStream to store it in HELLO. The message id is the hello's component,
 * instance and time: the same hello sent twice is stored once.
 */
export async function publishHello(nc: NatsConnection, subjects: Subjects, registry: SchemaRegistry, hello: Hello): Promise<void> {
  const enc = encodeRecord(registry, 'ben.Hello', hello)
  const h = headers()
  h.set(Header.Schema, enc.schema)
  h.set(Header.SchemaFp, enc.fingerprint)
  await jetstream(nc).publish(subjects.hello(`${hello.component}.${hello.instance}`), enc.data, {
    headers: h,
    msgID: hashId('hello', hello.component, hello.instance, String(hello.ts)),
    timeout: 10_000,
  })
}
