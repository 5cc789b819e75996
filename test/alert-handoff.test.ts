import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { replayWindow } from '../replay/index.js'
import { liveRun } from './replay-fixture.js'

/**
 * Issue 8, the alert path's in-thread handoff (processors/runner/handoff.ts, BEN_ALERT_HANDOFF=on): in `ben up`, scrub's
 * alert lane hands each scrubbed alert, once stored, to policy in the same thread. Policy then has
 * every alert twice (handed, and delivered from DERIVED): each must be decided exactly once, the
 * JetStream copies acknowledged (nothing left pending), and the run replayed identical (policy's
 * state — rate limits, blast radius — counted each alert once). The alert trace (BEN_ALERT_TRACE)
 * shows that the handoff, not only JetStream, brought them.
 */
describe('the alert path hands committed alerts to policy in the thread', () => {
  it('decides each alert exactly once, acks the JetStream copies, and replays identical', async () => {
    const traceDir = mkdtempSync(join(tmpdir(), 'ben-handoff-trace-'))
    const trace = join(traceDir, 'alerts.trace')
    // A fleet with nothing to say: the alerts below are the run.
    const run = await liveRun({ hosts: 1, rate: 1, durationMs: 1, mode: 'backfill', scenarios: [], seed: 'handoff' }, { BEN_ALERT_TRACE: trace, BEN_ALERT_HANDOFF: 'on' })
    try {
      const t0 = Date.now() - 60_000
      const sources = ['hand-1', 'hand-2', 'hand-3']
      const alerts = Array.from({ length: 30 }, (_, i) => ({
        lane: 'alert' as const,
        source: sources[i % sources.length],
        ts: t0 + i * 100,
        rule: i % 2 ? 'edr.exec' : 'auth.bruteforce',
        severity: i % 3 ? 'high' : 'critical',
        message: `handoff alert ${i}`,
        attrs: { n: String(i) },
      }))
      // One by one, as an edge would raise them: each is handed over while the lane is caught up.
      for (const a of alerts) expect((await run.ben.publish([a])).stored).toBe(1)
      await run.quiet()

      // Exactly one decision per alert, stored once.
      const decisions = await run.rows('SELECT DISTINCT id, lineage FROM decisions')
      const scrubbed = await run.rows("SELECT DISTINCT id FROM facts WHERE lane = 'alert'")
      expect(scrubbed).toHaveLength(alerts.length)
      const perAlert = new Map<string, number>()
      for (const d of decisions) for (const l of d.lineage as string[]) perAlert.set(l, (perAlert.get(l) ?? 0) + 1)
      for (const s of scrubbed) expect(perAlert.get(String(s.id)), `decisions of scrubbed alert ${String(s.id)}`).toBe(1)
      expect(new Set(decisions.map((d) => d.id)).size).toBe(decisions.length)

      // The JetStream copies of handed alerts were acknowledged (after commit): nothing pending.
      const info = await (await jetstreamManager(run.ben.nc)).consumers.info('DERIVED', 'stage-policy-alert')
      expect(info.num_pending + info.num_ack_pending).toBe(0)
      expect(info.ack_floor.stream_seq).toBe(info.delivered.stream_seq)

      // The handoff carried them: policy took handed alerts (traced in the thread), each applied once.
      const lines = readFileSync(trace, 'utf8').trim().split('\n')
      const handed = lines.filter((l) => l.split(' ')[1] === 'handed')
      expect(handed.length, 'alerts handed to policy in the thread').toBeGreaterThan(alerts.length / 2)
      const decided = lines.filter((l) => l.split(' ')[1] === 'published' && l.split(' ')[2] === 'policy').map((l) => l.split(' ')[3])
      expect(decided).toHaveLength(new Set(decided).size)

      // Replay rebuilds every decision, byte for byte, from the raw alerts.
      const all = await replayWindow(run.deps(), { from: 0, to: Date.now() + 60_000 })
      expect(all.diffs.slice(0, 3)).toEqual([])
      expect(all.identical).toBe(true)
      expect(all.byKind.decision?.identical ?? 0).toBe(new Set(decisions.map((d) => d.id)).size)
    } finally {
      await run.stop()
      rmSync(traceDir, { recursive: true, force: true })
    }
  }, 400_000)
})
