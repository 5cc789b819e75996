import type { NatsConnection } from '@nats-io/nats-core'
import type { Hello, SchemaRegistry } from '../schemas/index.js'
import { publishHello, type Subjects } from '../streams/index.js'

/** The hello's component token: announcements go to `ben.hello.sidecar.<id>`. */
export const HELLO_COMPONENT = 'sidecar'

/** Builds the `ben.Hello` record a sidecar announces itself with. `info` values are strings (Avro map). */
export function sidecarHello(id: string, version: string, ts: number, info: Readonly<Record<string, string | number | boolean>>): Hello {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(info)) out[k] = String(v)
  return { component: HELLO_COMPONENT, instance: id, version, ts, info: out }
}

/** Publishes the hello (Avro, with Ben-Schema headers) and waits for JetStream to store it. */
export async function announce(nc: NatsConnection, subjects: Subjects, registry: SchemaRegistry, hello: Hello): Promise<void> {
  await publishHello(nc, subjects, registry, hello)
}
