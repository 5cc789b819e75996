import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { replayIncident } from '../replay/index.js'
import { ben } from './support/cli.js'
import { liveRun, type LiveRun } from './replay-fixture.js'

const MIN = 60_000

describe('replay after JetStream retention dropped the raw facts', () => {
  let run: LiveRun
  const keep = 1500

  beforeAll(async () => {
    // The run publishes several thousand facts; once the pipeline has processed them all, FACTS
    // is limited to its last 1,500 messages (as retention would drop them later). Limiting it
    // from the start would race the backfill against scrub: what scrub had not read yet would
    // be dropped before it was ever processed.
    run = await liveRun({
      hosts: 2,
      rate: 50,
      durationMs: 3 * MIN,
      seed: 'retention',
      mode: 'backfill',
      scenarios: [{ kind: 'cpu-runaway', host: 'web-2', atMs: 60_000, durationMs: 30_000 }],
    })
    await run.quiet()
    const jsm = await jetstreamManager(run.ben.nc)
    await jsm.streams.update('FACTS', { max_msgs: keep })
  }, 180_000)

  afterAll(async () => {
    await run?.stop()
  })

  it('rebuilds every incident from ClickHouse scrubbed facts, identical, and says the rebuild started after scrub', async () => {
    const jsm = await jetstreamManager(run.ben.nc)
    const facts = await jsm.streams.info('FACTS')
    expect(facts.state.messages).toBeLessThanOrEqual(keep)
    expect(facts.state.first_seq, 'FACTS dropped its oldest messages').toBeGreaterThan(1)

    const incidents = (await run.rows('SELECT DISTINCT incident_id AS id FROM incidents ORDER BY id')).map((r) => String(r.id))
    expect(incidents.length).toBeGreaterThan(0)
    const deps = run.deps()
    for (const id of incidents) {
      const r = await replayIncident(deps, id)
      expect(r.diffs.slice(0, 3), `incident ${id}`).toEqual([])
      expect(r.identical).toBe(true)
      expect(r.readFrom).toBe('clickhouse')
      expect(r.startedAfterScrub).toBe(true)
      expect(r.notes.join('\n')).toMatch(/the rebuild started after scrub/)
      // scrub was not re-run: no scrubbed fact is compared, the derived ones are
      expect(r.byKind.metric).toBeUndefined()
      expect(r.byKind.incident?.identical ?? 0).toBeGreaterThan(0)
      expect(r.stats.telemetry.scrubbed).toBe(0)
      expect(r.stats.telemetry.detected).toBeGreaterThan(keep)
    }

    const t = await ben(['replay', incidents[0]], { BEN_HOME: run.home })
    expect(t.code).toBe(0)
    expect(t.stdout).toMatch(/^identical \(\d+ facts\)$/m)
    expect(t.stdout).toMatch(/the rebuild started after scrub/)
  })
})
