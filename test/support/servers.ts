import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/nats-core'
import { jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream'
import { startNatsServer, openClickHouse, type NatsServerHandle, type Warehouse } from '../../infra/index.js'
import { Subjects, type TopologyOptions, StreamAdmin } from '../../streams/index.js'

export function tempDir(prefix = 'ben-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export interface TestNats {
  server: NatsServerHandle
  nc: NatsConnection
  subjects: Subjects
  topo: TopologyOptions
  dir: string
  stop(): Promise<void>
}

/** A real nats-server with JetStream on a free 127.0.0.1 port, in a temp dir, with Ben's topology. */
export async function startTestNats(topo: Partial<TopologyOptions> = {}): Promise<TestNats> {
  const dir = tempDir()
  const server = await startNatsServer({ storeDir: join(dir.path, 'nats') })
  const nc = await connect({ servers: server.url })
  const subjects = new Subjects()
  const t: TopologyOptions = { subjects, ...topo }
  await (await StreamAdmin.open(nc)).ensureTopology(t)
  return {
    server,
    nc,
    subjects,
    topo: t,
    dir: dir.path,
    async stop() {
      await nc.close().catch(() => undefined)
      await server.stop()
      dir.remove()
    },
  }
}

/** ClickHouse for tests: BEN_CLICKHOUSE_URL when set, else chDB in a temp dir. */
export async function openTestClickHouse(): Promise<Warehouse & { removeDir(): void }> {
  const dir = tempDir('ben-ch-')
  const wh = await openClickHouse(process.env.BEN_CLICKHOUSE_URL ? { url: process.env.BEN_CLICKHOUSE_URL } : { path: dir.path })
  return Object.assign(wh, { removeDir: () => dir.remove() })
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v as T
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/**
 * Reads `want` messages from `consumer`, handing each to `take`. A fetch ends at its expiry with
 * what arrived by then (on a busy machine, not always all of it), so it fetches again until `want`
 * have been read; fails after `timeoutMs`. `want` may be a function (e.g. "six of a kind read").
 */
export async function fetchCounted(
  what: string,
  consumer: Consumer,
  want: number | (() => boolean),
  take: (m: JsMsg) => void,
  timeoutMs = 120_000,
  expiresMs = 5000,
): Promise<void> {
  let n = 0
  const done = typeof want === 'number' ? () => n >= want : want
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms reading ${what}: ${n} read`)
    const max = typeof want === 'number' ? want - n : 1000
    for await (const m of await consumer.fetch({ max_messages: max, expires: expiresMs })) {
      n++
      take(m)
      if (done()) break
    }
  }
}

/**
 * Waits until JetStream's duplicate window has passed for everything stored before the call: a
 * probe stored with one message id is stored again. `subject` is on a stream nothing follows.
 */
export async function duplicateWindowPassed(nc: NatsConnection, subject = 'ben.dlq.window-probe', timeoutMs = 120_000): Promise<void> {
  const js = jetstream(nc)
  const id = `window-probe-${Date.now()}-${Math.random()}`
  await js.publish(subject, '{}', { msgID: id })
  await waitFor('the duplicate window to pass', async () => ((await js.publish(subject, '{}', { msgID: id })).duplicate ? undefined : true), timeoutMs, 100)
}

/** True when the consumer has nothing left to deliver nor waiting for an ack (nothing can be redelivered). */
export async function consumerSettled(nc: NatsConnection, stream: string, consumer: string): Promise<boolean> {
  const i = await (await jetstreamManager(nc)).consumers.info(stream, consumer)
  return i.num_pending === 0 && i.num_ack_pending === 0
}
