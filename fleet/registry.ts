import type { KV } from '../streams/index.js'

/** One entry of the fleet registry (KV `ben-fleet`, key `worker.<id>` / `sidecar.<id>` / …). */
export interface FleetEntry {
  readonly id: string
  readonly component: string
  readonly version: string
  readonly host: string
  readonly pid: number | null
  /** Units it was given (hello), and those it holds a live lease on now. */
  readonly units: readonly string[]
  readonly holding: readonly string[]
  /** Last hello, and last sign of life (hello or lease renewal), ISO. */
  readonly announced: string
  readonly lastSeen: string
  readonly state: 'up' | 'quiet' | 'restarting'
  readonly restarts: number
}

/** Reads the registry the orchestrator keeps (`ben status`). */
export async function readFleet(kv: KV): Promise<Array<FleetEntry & { orchestrator?: string }>> {
  const out: Array<FleetEntry & { orchestrator?: string }> = []
  for await (const k of await kv.keys('fleet.>')) {
    const e = await kv.get(k)
    if (e && e.operation === 'PUT') out.push(JSON.parse(e.string()) as FleetEntry)
  }
  return out.sort((a, b) => (a.component + a.id < b.component + b.id ? -1 : 1))
}
