import { describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { startTestNats, tempDir, waitFor } from './support/servers.js'
import { createSidecar } from '../sidecar/index.js'
import { generateKeyPair } from '../processors/act/index.js'

describe('smoke', () => {
  it('accepts and drains', async () => {
    const t = await startTestNats()
    const dir = tempDir()
    const sc = await createSidecar({ id: 's1', nats: t.nc, walDir: dir.path + '/wal', keyPair: generateKeyPair('sidecar'), log: { info: console.log, warn: console.log, error: console.log, debug: () => {} } })
    const facts = Array.from({ length: 1000 }, (_, i) => ({ lane: 'metric', ts: 1_763_700_000_000 + i, name: 'cpu', value: i, labels: {} }))
    const r = await sc.accept(facts)
    console.log(r.accepted, r.rejected.slice(0, 3))
    const jsm = await jetstreamManager(t.nc)
    await waitFor('facts', async () => (await jsm.streams.info('FACTS')).state.messages === 1000 || undefined, 10000)
    await sc.online
    console.log(JSON.stringify(sc.status(), null, 1))
    await sc.close()
    await t.stop()
    dir.remove()
  })
})
