/** A time-queue entry: an incident (by entity key and id) at an event time `v`. */
export interface QueueEntry {
  readonly v: number
  readonly id: string
  readonly key: string
}

const less = (a: QueueEntry, b: QueueEntry): boolean => a.v < b.v || (a.v === b.v && a.id < b.id)

/** A binary min-heap ordered by (v, id). Deterministic; kept in memory only (rebuilt from open incidents). */
export class TimeQueue {
  private readonly a: QueueEntry[] = []

  get size(): number {
    return this.a.length
  }

  peek(): QueueEntry | undefined {
    return this.a[0]
  }

  push(e: QueueEntry): void {
    const a = this.a
    a.push(e)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(a[i], a[p])) break
      ;[a[i], a[p]] = [a[p], a[i]]
      i = p
    }
  }

  pop(): QueueEntry | undefined {
    const a = this.a
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last !== undefined) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && less(a[l], a[m])) m = l
        if (r < a.length && less(a[r], a[m])) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m], a[i]]
        i = m
      }
    }
    return top
  }
}
