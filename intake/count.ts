import { intakeAccepted, intakeDropped, intakeReceived } from './metrics.js'
import type { SinkResult } from './sink.js'

/** Counts what a door received, what the sink accepted (by lane) and what it refused (by reason). */
export function countOutcome(door: string, received: number, inputs: readonly unknown[], r: SinkResult | undefined, dropped: ReadonlyArray<{ reason: string }> = []): void {
  if (received > 0) intakeReceived.inc({ door }, received)
  for (const d of dropped) intakeDropped.inc({ door, reason: d.reason })
  if (!r) return
  for (const x of r.rejected) intakeDropped.inc({ door, reason: x.reason })
  if (r.accepted === 0) return
  const refused = r.rejected.length ? new Set(r.rejected.map((x) => x.index)) : undefined
  const byLane: Record<string, number> = {}
  for (let i = 0; i < inputs.length; i++) {
    if (refused?.has(i)) continue
    const lane = String((inputs[i] as { lane?: unknown })?.lane ?? 'unknown')
    byLane[lane] = (byLane[lane] ?? 0) + 1
  }
  for (const [lane, n] of Object.entries(byLane)) intakeAccepted.inc({ door, lane }, n)
}

/** A refusal of a whole request or connection. */
export function countRefusal(door: string, reason: string): void {
  intakeDropped.inc({ door, reason })
}
