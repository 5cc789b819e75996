import type { NatsConnection } from '@nats-io/nats-core'
import type { SchemaRegistry } from '../schemas/index.js'
import { publishHello, type Subjects } from '../streams/index.js'

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
  const send = () => publishHello(nc, subjects, registry, { component, instance, version, ts: Date.now(), info: info() })
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
