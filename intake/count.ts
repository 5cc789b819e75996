import { intakeAccepted, intakeDropped, intakeReceived } from './metrics.js'
import type { SinkResult } from './sink.js'

/**
 * Counts what a door received, what the sink accepted (by lane: `lanes[i]` is the lane of the
 * i-th input given to the sink, `lanesOf`) and what it refused (by reason).
 */
export function countOutcome(door: string, received: number, lanes: readonly string[], r: SinkResult | undefined, dropped: ReadonlyArray<{ reason: string }> = []): void {
  if (received > 0) intakeReceived.inc({ door }, received)
  for (const d of dropped) intakeDropped.inc({ door, reason: d.reason })
  if (!r) return
  for (const x of r.rejected) intakeDropped.inc({ door, reason: x.reason })
  if (r.accepted === 0) return
  const refused = r.rejected.length ? new Set(r.rejected.map((x) => x.index)) : undefined
  const byLane: Record<string, number> = {}
  for (let i = 0; i < lanes.length; i++) {
    if (refused?.has(i)) continue
    byLane[lanes[i]] = (byLane[lanes[i]] ?? 0) + 1
  }
  for (const [lane, n] of Object.entries(byLane)) intakeAccepted.inc({ door, lane }, n)
}

/** The lane of each input (`unknown` where it has none): what countOutcome needs of them once they are let go. */
export function lanesOf(inputs: readonly unknown[]): string[] {
  const out = new Array<string>(inputs.length)
  for (let i = 0; i < inputs.length; i++) out[i] = String((inputs[i] as { lane?: unknown })?.lane ?? 'unknown')
  return out
}

/** A refusal of a whole request or connection. */
export function countRefusal(door: string, reason: string): void {
  intakeDropped.inc({ door, reason })
}
