import { describe, expect, it, vi } from 'vitest'
import type { MetricFact } from '../../schemas/index.js'
import type { DetectState } from './state.js'
import { DETECT_HEAP_BOUND_SERIES } from './heap.js'

// Fresh modules for each case: the bound is once per process, and other unit files share this
// worker's modules (isolate: false).
async function fresh(): Promise<{ heap: typeof import('./heap.js'); detect: typeof import('./index.js'); runner: typeof import('../runner/index.js') }> {
  vi.resetModules()
  return { heap: await import('./heap.js'), detect: await import('./index.js'), runner: await import('../runner/index.js') }
}

function point(i: number): MetricFact {
  const payload = { name: 'cpu.load', value: 0.5, labels: { core: String(i % 100) } }
  return {
    id: `id-${i}`,
    ts: 1_763_700_000_000,
    source: `host-${Math.floor(i / 100)}`,
    lane: 'routine',
    kind: 'metric',
    payload,
    lineage: [],
    producer: 'edge',
    config: {},
    explain: null,
    redactions: [],
  }
}

async function stateOf(
  series: number,
): Promise<{ heap: typeof import('./heap.js'); state: DetectState; runner: typeof import('../runner/index.js'); detect: typeof import('./index.js') }> {
  const m = await fresh()
  const cfg = m.detect.defaultDetectorConfig()
  let state = m.detect.detectStage.initialState()
  for (let i = 0; i < series; i++) state = m.detect.detectStage.step(state, point(i), cfg).state
  expect(state.series.size).toBe(series)
  return { ...m, state }
}

describe("detect's heap-growth bound", () => {
  it("keeps V8's default growth for a small state and bounds it once the live series reach the threshold", async () => {
    const { heap, detect, state } = await stateOf(DETECT_HEAP_BOUND_SERIES - 1)
    expect(heap.heapGrowthBounded()).toBe(false)
    const next = detect.detectStage.step(state, point(heap.DETECT_HEAP_BOUND_SERIES - 1), detect.defaultDetectorConfig()).state
    expect(next.series.size).toBe(heap.DETECT_HEAP_BOUND_SERIES)
    expect(heap.heapGrowthBounded()).toBe(true)
  })

  it('bounds it in a process that restores a checkpoint already holding that many series', async () => {
    const built = await stateOf(DETECT_HEAP_BOUND_SERIES)
    const w = new built.runner.ChunkWriter(65536)
    built.detect.detectStage.journal!.write(built.state, 1, w)
    const chunks = w.finish()

    // another process: fresh modules, nothing stepped, only the restore
    const { heap, detect, runner } = await fresh()
    expect(heap.heapGrowthBounded()).toBe(false)
    const rs = detect.detectStage.journal!.restore()
    const frames = new runner.FrameReader((f) => rs.frame(1, f))
    for (const c of chunks) frames.push(c)
    const restored = rs.finish()
    expect(restored.series.size).toBe(heap.DETECT_HEAP_BOUND_SERIES)
    expect(heap.heapGrowthBounded()).toBe(true)
  })
})
