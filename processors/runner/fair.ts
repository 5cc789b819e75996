import type { Envelope } from '../../streams/index.js'
import type { LaneQueue } from './batch.js'

/**
 * A round of one lane's inputs served fairly by source (issue 8: a probe of a quiet source does not
 * queue behind another source's burst). Per-source order is all the design promises (stages whose
 * state is per source, partitioned by source), so inside a round the inputs are taken one per
 * source in turn, each source's own in stream order.
 *
 * A round takes inputs from the head of the lane's queue, in order, until it has accepted
 * `max` (it stays open to arrivals until then: an input that arrives while a burst is being worked
 * through joins the round and is served at its source's next turn). Once every input it accepted
 * is applied, the applied inputs are again exactly a prefix of the lane's stream order: only then
 * may the runner seal an epoch (its checkpoint position, and the ack-all ack of its highest input,
 * cover nothing that was not applied). The runner never seals inside a round.
 */
export class FairRound {
  private readonly bySource = new Map<string, SourceQueue>()
  /** Sources with inputs waiting, in the order they are served. */
  private ring: SourceQueue[] = []
  private at = 0
  /** Inputs accepted since the round began (its bound). */
  private accepted = 0
  /** Inputs accepted and not taken yet. */
  pending = 0
  /** Highest stream sequence accepted (0: none yet); anything at or below it arriving again is a redelivery. */
  top = 0

  constructor(private readonly max: number) {}

  /**
   * Moves inputs from the head of `q` into the round while it is open. An input at or below
   * `floor` (the lane's position) or the round's highest is a redelivery of one already applied or
   * accepted: handed to `again` instead.
   */
  fill(q: LaneQueue, floor: number, again: (env: Envelope) => void): void {
    if (this.top < floor) this.top = floor
    if (this.accepted >= this.max || !q.length) return
    for (const env of q.take(this.max - this.accepted)) {
      if (env.seq <= this.top) {
        again(env)
        continue
      }
      this.top = env.seq
      this.accepted++
      this.pending++
      const key = sourceOf(env.subject)
      let s = this.bySource.get(key)
      if (!s) {
        s = new SourceQueue(key)
        this.bySource.set(key, s)
      }
      if (s.length === 0) this.ring.push(s)
      s.push(env)
    }
  }

  /** Up to `n` inputs, one per source per turn. */
  take(n: number): Envelope[] {
    const out: Envelope[] = []
    while (out.length < n && this.pending > 0) {
      if (this.at >= this.ring.length) this.at = 0
      const s = this.ring[this.at]
      out.push(s.shift()!)
      this.pending--
      if (s.length === 0) {
        this.ring.splice(this.at, 1)
        this.bySource.delete(s.key)
      } else this.at++
    }
    if (this.pending === 0) {
      // Every accepted input is taken: the next round starts with the next arrivals.
      this.accepted = 0
      this.ring = []
      this.at = 0
    }
    return out
  }

  /** Storage time of the oldest input waiting in the round (Infinity when none). */
  oldest(): number {
    let t = Infinity
    for (const s of this.ring) t = Math.min(t, s.peek()!.storedAt)
    return t
  }
}

/** The source of an input: the last token of its subject (as partitions see it). */
function sourceOf(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1)
}

class SourceQueue {
  private items: Envelope[] = []
  private head = 0
  constructor(readonly key: string) {}
  get length(): number {
    return this.items.length - this.head
  }
  push(e: Envelope): void {
    this.items.push(e)
  }
  peek(): Envelope | undefined {
    return this.items[this.head]
  }
  shift(): Envelope | undefined {
    const e = this.items[this.head++]
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    }
    return e
  }
}
