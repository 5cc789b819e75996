import type { NatsConnection } from '@nats-io/nats-core'
import { createBucket, notifyBucketName, type KV, type TopologyOptions } from '../streams/index.js'
import { parseNotifier, type NotifierConfig } from './config.js'

/** The KV bucket of notifier configs: key = notifier name, value = its JSON (validated on write and on read). */
export { NOTIFY_BUCKET, notifyBucketName } from '../streams/index.js'

export async function openNotifyBucket(nc: NatsConnection, topo: Pick<TopologyOptions, 'streamPrefix'> = {}): Promise<KV> {
  return createBucket(nc, notifyBucketName(topo), { history: 16 })
}

export interface StoredNotifier {
  readonly config: NotifierConfig
  readonly revision: number
}

export type LoadProblem = { key: string; message: string }

/** Every valid notifier; invalid values (written around the CLI) are reported, never used. */
export async function listNotifiers(kv: KV): Promise<{ notifiers: StoredNotifier[]; problems: LoadProblem[] }> {
  const notifiers: StoredNotifier[] = []
  const problems: LoadProblem[] = []
  for await (const key of await kv.keys()) {
    const e = await kv.get(key)
    if (!e || e.operation !== 'PUT') continue
    let value: unknown
    try {
      value = e.json()
    } catch (err) {
      problems.push({ key, message: `not JSON: ${(err as Error).message}` })
      continue
    }
    const r = parseNotifier(value)
    if (r.ok) notifiers.push({ config: r.value, revision: e.revision })
    else problems.push({ key, message: r.message })
  }
  notifiers.sort((a, b) => a.config.name.localeCompare(b.config.name))
  return { notifiers, problems }
}

export async function putNotifier(kv: KV, c: NotifierConfig): Promise<number> {
  return kv.put(c.name, JSON.stringify(c))
}

export async function removeNotifier(kv: KV, name: string): Promise<boolean> {
  const e = await kv.get(name)
  if (!e || e.operation !== 'PUT') return false
  await kv.delete(name)
  return true
}
