/**
 * `ben keys revoke` reaches the act stage of a running `ben up` through its ben-keys watch: it
 * stops signing with the revoked issuer key, says so, and holds decisions as rejected commands
 * with reason revoked_key until `ben keys rotate --name issuer` gives it a new key.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/nats-core'
import { FactCodec, Header, type CommandFact } from '../schemas/index.js'
import { FactPublisher, Subjects } from '../streams/index.js'
import { decision } from './fixtures/act.js'
import { ben, benUp, type Background } from './support/cli.js'
import { tempDir, waitFor } from './support/servers.js'

describe('act and a revoked issuer key', () => {
  const home = tempDir('ben-act-revoke-')
  const env = { BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' }
  const codec = new FactCodec()
  const commands: CommandFact[] = []
  let up: Background
  let nc: NatsConnection
  let publisher: FactPublisher

  beforeAll(async () => {
    up = await benUp(env)
    nc = await connect({ servers: up.endpoints().natsUrl })
    nc.subscribe('ben.cmd.web-3', {
      callback: (_e, m) => {
        const r = codec.decode(m.data, m.headers?.get(Header.SchemaFp))
        if (r.ok && r.value.kind === 'command') commands.push(r.value)
      },
    })
    publisher = new FactPublisher(nc, new Subjects(), codec)
  })
  afterAll(async () => {
    await publisher?.close()
    await nc?.close()
    await up?.stop('SIGINT')
    home.remove()
  })

  const decide = async (id: string) => {
    const d = decision(id, Date.now())
    expect((await publisher.publish(d)).status).toBe('stored')
    return waitFor(`the command for ${id}`, () => commands.find((c) => c.payload.decisionId === d.id), 120_000)
  }

  it('signs, stops signing after `ben keys revoke` (log + rejected commands with the reason), and signs again with a rotated key', async () => {
    const list = await ben(['keys', 'list', '--format', 'json'], env)
    expect(list.code, list.stderr).toBe(0)
    const issuer = (JSON.parse(list.stdout) as Array<{ keyId: string; localFile: string | null }>).find((k) => k.localFile === 'issuer')!
    expect(issuer).toBeDefined()

    const first = await decide('rev-d1')
    expect(first.payload).toMatchObject({ status: 'issued', keyId: issuer.keyId })
    expect(first.payload.signatures.length).toBe(1)

    const rev = await ben(['keys', 'revoke', issuer.keyId], env)
    expect(rev.code, rev.stderr).toBe(0)
    await waitFor('act to say it holds decisions', () => up.output().includes(`issuer key ${issuer.keyId} is revoked`) || undefined, 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${up.output()}\n${readFileSync(join(home.path, 'ben.log'), 'utf8').slice(-3000)}`)
    })
    const held = await decide('rev-d2')
    expect(held.payload).toMatchObject({ status: 'rejected', signatures: [] })
    expect(held.payload.reason).toMatch(new RegExp(`^revoked_key: issuer key ${issuer.keyId} is revoked`))

    const rot = await ben(['keys', 'rotate', '--name', 'issuer', '--grace', '0'], env)
    expect(rot.code, rot.stderr).toBe(0)
    const fresh = /new ([0-9a-f]{16})/.exec(rot.stdout)![1]
    await waitFor(
      'act to pick up the rotated key',
      () => readFileSync(join(home.path, 'ben.log'), 'utf8').includes('act now signs with the rotated issuer key') || undefined,
      120_000,
    )
    const again = await decide('rev-d3')
    expect(again.payload).toMatchObject({ status: 'issued', keyId: fresh })
  })
})
