import { it } from 'vitest'
import { replayIncident, replayWindow } from '../replay/index.js'
import { liveRun } from './replay-fixture.js'
it('debug', async () => {
  const run = await liveRun({ hosts: 3, rate: 80, durationMs: 180_000, seed: 'x', mode: 'backfill', scenarios: [{ kind: 'cpu-runaway', host: 'web-1', atMs: 50_000, durationMs: 30_000, repeat: { afterMs: 70_000 } }, { kind: 'secret-leak', host: 'web-3', atMs: 40_000 }] })
  try {
    await run.quiet()
    const inc = await run.rows('SELECT incident_id, title, source FROM incidents')
    console.log(inc)
    const deps = run.deps()
    for (const i of inc) {
      const r = await replayIncident(deps, String(i.incident_id))
      console.log(JSON.stringify({ id: i.incident_id, identical: r.identical, counts: r.counts, byKind: r.byKind, notes: r.notes, stats: r.stats, diffs: r.diffs.slice(0, 3).map((d) => ({ ...d, recorded: undefined, rebuilt: undefined })) }, null, 1))
    }
    const all = await replayWindow(deps, { from: 0, to: Date.now() + 60000 })
    console.log(JSON.stringify({ identical: all.identical, counts: all.counts, byKind: all.byKind, notes: all.notes, stats: all.stats, diffs: all.diffs.slice(0, 3).map((d) => ({ ...d, recorded: undefined, rebuilt: undefined })) }, null, 1))
  } finally {
    await run.stop()
  }
}, 300_000)
