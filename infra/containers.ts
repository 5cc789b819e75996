import { connect } from 'node:net'
import { existsSync } from 'node:fs'

/** True when a Docker engine answers on DOCKER_HOST or the default socket. */
export async function dockerAnswers(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const host = env.DOCKER_HOST
  let target: { path: string } | { host: string; port: number }
  if (host?.startsWith('tcp://')) {
    const u = new URL(host.replace(/^tcp:/, 'http:'))
    target = { host: u.hostname, port: Number(u.port || 2375) }
  } else {
    const path = host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock'
    if (!existsSync(path)) return false
    target = { path }
  }
  return new Promise((resolve) => {
    const s = connect(target as never)
    const done = (v: boolean) => {
      s.destroy()
      resolve(v)
    }
    s.setTimeout(1000, () => done(false))
    s.once('error', () => done(false))
    s.once('connect', () => {
      s.write('GET /_ping HTTP/1.0\r\n\r\n')
      s.once('data', (b) => done(b.toString().includes('OK')))
    })
  })
}

export interface ContainerHandle {
  readonly url: string
  stop(): Promise<void>
}

interface StartedLike {
  getHost(): string
  getMappedPort(p: number): number
  stop(): Promise<unknown>
}

/** nats-server with JetStream in a container (testcontainers). */
export async function natsContainer(): Promise<ContainerHandle> {
  const { GenericContainer, Wait } = await import('testcontainers')
  const c: StartedLike = await new GenericContainer('nats:2.10-alpine')
    .withCommand(['-js'])
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start()
  return { url: `nats://${c.getHost()}:${c.getMappedPort(4222)}`, stop: async () => void (await c.stop()) }
}

/** ClickHouse server in a container (testcontainers). */
export async function clickhouseContainer(): Promise<ContainerHandle> {
  const { GenericContainer, Wait } = await import('testcontainers')
  const c: StartedLike = await new GenericContainer('clickhouse/clickhouse-server:24.8-alpine')
    .withExposedPorts(8123)
    .withEnvironment({ CLICKHOUSE_SKIP_USER_SETUP: '1' })
    .withWaitStrategy(Wait.forHttp('/ping', 8123))
    .start()
  return { url: `http://${c.getHost()}:${c.getMappedPort(8123)}`, stop: async () => void (await c.stop()) }
}
