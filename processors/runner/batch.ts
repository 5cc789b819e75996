import type { Envelope } from '../../streams/index.js'

/**
 * The inputs of one lane waiting to be stepped, in stream order. Taking is O(1) per input:
 * `Array#shift` on a long queue (a lane's backlog reaches max-ack-pending, 20,000) copies the
 * rest of the array every time once its backing store is in large-object space, which cost the
 * runner more than the stages' own work.
 */
export class LaneQueue {
  private items: Envelope[] = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(e: Envelope): void {
    this.items.push(e)
  }

  /** The oldest input waiting (undefined when empty). */
  peek(): Envelope | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined
  }

  /** Takes up to `max` inputs, oldest first. */
  take(max: number): Envelope[] {
    const end = Math.min(this.items.length, this.head + max)
    const out = this.items.slice(this.head, end)
    this.head = end
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      // compact: what was taken is no longer held
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return out
  }
}

/**
 * The inputs of an epoch to acknowledge once it is committed, per lane: only the highest of
 * each lane is kept (the lanes' consumers are ack-all and deliver in order, so its ack covers
 * the others, which are released locally as soon as a later one arrives — an epoch does not
 * hold thousands of messages alive until its checkpoint).
 */
export class AckRun {
  private readonly top = new Map<string, Envelope>()

  add(lane: string, env: Envelope): void {
    const prev = this.top.get(lane)
    if (prev && prev.seq > env.seq) {
      env.release()
      return
    }
    prev?.release()
    this.top.set(lane, env)
  }

  /** One ack per lane. */
  ack(): void {
    for (const e of this.top.values()) e.ack()
  }
}

/** Inputs taken from a lane at once (one step of the loop); the loop still yields between batches. */
export const BATCH_MAX = 256
