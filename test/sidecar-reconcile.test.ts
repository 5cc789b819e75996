/**
 * Resuming after longer than JetStream's duplicate window: the facts a killed sidecar had
 * delivered but not yet acked in its WAL are found in the stream (last message per subject)
 * and not sent again, so they are not stored twice even though de-duplication by
 * Nats-Msg-Id has expired. The control run (reconcile off) shows the window really expired.
 */
import { cpSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../keys/index.js'
import { defaultManifest } from '../processors/scrub/index.js'
import { createSidecar } from '../sidecar/index.js'
import { duplicateWindowPassed, startTestNats, tempDir, waitFor, type TestNats } from './support/servers.js'
import { readStream } from './support/sidecar.js'

const TS = 1_763_700_000_000
const metric = (i: number) => ({ lane: 'metric', ts: TS + i, name: 'load', value: i, labels: {} })
const dir = tempDir('ben-sidecar-reconcile-')
let t: TestNats | undefined
afterAll(async () => {
  await t?.stop()
  dir.remove()
})

/** A copy of a WAL directory as a SIGKILL would leave it (no LOCK owner alive to matter). */
function snapshot(from: string, to: string): void {
  for (const f of readdirSync(from)) if (f !== 'LOCK') cpSync(join(from, f), join(to, f))
}

describe('sidecar resuming after the duplicate window', () => {
  it('skips what JetStream already stored instead of storing it twice', async () => {
    t = await startTestNats({ duplicateWindowMs: 1000 })
    const common = { id: 'rc', nats: t.nc, manifest: defaultManifest(), registerKey: false, keyPair: generateKeyPair('sidecar') }
    // The counts below hold when every PubAck comes back within the drain's ack timeout. At the
    // default 5 s a busy machine can miss it: the drain resends (past the 1 s window: stored
    // twice, or reconciled), and the counts are off though nothing was wrong.
    const ackTimeoutMs = 120_000
    const first = await createSidecar({ ...common, walDir: join(dir.path, 'a', 'wal'), drain: { ackEvery: 1e9, ackIntervalMs: 2 ** 30, ackTimeoutMs } })
    expect((await first.accept(Array.from({ length: 500 }, (_, i) => metric(i)))).accepted).toBe(500)
    await waitFor('500 stored', () => first.status().drain.stored === 500 || undefined, 120_000)
    expect(first.status().wal.ackedSeq).toBe(0) // delivered, but the WAL does not know yet
    snapshot(join(dir.path, 'a', 'wal'), join(dir.path, 'b', 'wal'))
    snapshot(join(dir.path, 'a', 'wal'), join(dir.path, 'c', 'wal'))
    await first.close()
    await duplicateWindowPassed(t.nc)

    const resumed = await createSidecar({ ...common, walDir: join(dir.path, 'b', 'wal'), drain: { ackTimeoutMs } })
    expect((await resumed.accept(Array.from({ length: 10 }, (_, i) => metric(500 + i)))).accepted).toBe(10)
    await waitFor('the resumed sidecar to deliver', () => resumed.status().drain.deliveredSeq === 510 || undefined, 120_000)
    expect(resumed.status().drain).toMatchObject({ reconciled: 500, stored: 10 })
    expect((await readStream(t.nc, 'FACTS', 'ben.fact.*.rc')).length).toBe(510)
    await resumed.close()

    // control: the same snapshot without reconciling stores the 500 again (the window expired)
    const control = await createSidecar({ ...common, walDir: join(dir.path, 'c', 'wal'), drain: { reconcile: false, ackTimeoutMs } })
    await waitFor('the control to deliver', () => control.status().drain.deliveredSeq === 500 || undefined, 120_000)
    expect(control.status().drain).toMatchObject({ reconciled: 0, stored: 500 })
    expect((await readStream(t.nc, 'FACTS', 'ben.fact.*.rc')).length).toBe(1010)
    await control.close()
  })
})
