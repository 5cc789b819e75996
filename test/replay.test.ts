import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { replayIncident, replayWindow } from '../replay/index.js'
import type { ScenarioSpec } from '../simulate/index.js'
import { liveRun, type LiveRun } from './replay-fixture.js'

const MIN = 60_000

/** A small random fleet: 2-3 hosts, a CPU runaway (maybe repeated) once detectors are warm, maybe a secret leak. */
const fleet = fc.record({
  hosts: fc.integer({ min: 2, max: 3 }),
  seed: fc.string({ minLength: 1, maxLength: 8 }),
  rate: fc.integer({ min: 80, max: 110 }),
  runawayHost: fc.integer({ min: 1, max: 2 }),
  repeat: fc.boolean(),
  leak: fc.boolean(),
})

describe('replay: live pipeline, then every incident rebuilt from the recorded facts', () => {
  // A run whose property did not reach its `finally` (the case timed out) is stopped here: its
  // `ben up` and nats-server were left running once.
  const live = new Set<LiveRun>()
  afterAll(async () => {
    for (const run of live) await run.stop().catch(() => undefined)
  })
  // Three `ben up` runs of a 200 s fleet each: 400 s was not enough at load 28-32 on 2 cores.
  // A deadline on a hang, not a wait.
  it('is identical for every incident — same ids, same bytes — over random small fleets', async () => {
    await fc.assert(
      fc.asyncProperty(fleet, async (f) => {
        const scenarios: ScenarioSpec[] = [
          { kind: 'cpu-runaway', host: `web-${f.runawayHost}`, atMs: 100_000, durationMs: 30_000, ...(f.repeat ? { repeat: { afterMs: 60_000 } } : {}) },
        ]
        if (f.leak) scenarios.push({ kind: 'secret-leak', host: `web-${f.hosts}`, atMs: 40_000 })
        const run = await liveRun({ hosts: f.hosts, rate: f.rate, durationMs: 200_000, seed: f.seed, mode: 'backfill', scenarios })
        live.add(run)
        try {
          await run.quiet()
          const incidents = (await run.rows('SELECT DISTINCT incident_id AS id FROM incidents ORDER BY id')).map((r) => String(r.id))
          expect(incidents.length, 'the runaway opens at least one incident').toBeGreaterThan(0)
          const deps = run.deps()
          for (const id of incidents) {
            const r = await replayIncident(deps, id)
            expect(r.diffs.slice(0, 3), `incident ${id}`).toEqual([])
            expect(r.identical).toBe(true)
            expect(r.readFrom).toBe('jetstream')
            expect(r.counts.compared).toBeGreaterThan(0)
            expect(r.byKind.incident?.identical ?? 0, `incident ${id}: its own transitions are compared`).toBeGreaterThan(0)
            expect(r.narrative?.markdown).toContain(id.slice(0, 8))
          }
          // The whole run as one window: every derived fact of every source.
          const all = await replayWindow(deps, { from: 0, to: Date.now() + MIN })
          expect(all.diffs.slice(0, 3)).toEqual([])
          expect(all.identical).toBe(true)
          // every recorded derived fact was rebuilt and compared
          const count = async (sql: string) => Number((await run.rows(sql))[0]?.n ?? -1)
          const ids = (table: string, where = '') => count(`SELECT uniqExact(id) AS n FROM ${table} ${where}`)
          const n = (kind: string) => all.byKind[kind]?.identical ?? 0
          expect(n('metric') + n('event') + n('diag') + n('alert')).toBe(await ids('facts'))
          expect(n('metric')).toBeGreaterThan(1000)
          expect(n('anomaly')).toBe(await ids('anomalies'))
          expect(n('anomaly')).toBeGreaterThan(0)
          expect(n('decision')).toBe(await ids('decisions'))
          expect(n('command')).toBe(await ids('commands'))
          expect(n('incident')).toBe(await ids('incident_events'))
        } finally {
          live.delete(run)
          await run.stop()
        }
      }),
      { numRuns: Number(process.env.REPLAY_RUNS ?? 3), seed: process.env.REPLAY_SEED ? Number(process.env.REPLAY_SEED) : undefined, endOnFailure: true },
    )
  }, 900_000)
})
