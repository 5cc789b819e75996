import { asapScheduler, Observable, Subscription, type SchedulerLike } from 'rxjs'

/** A FIFO with O(1) push and shift (arrays shift in O(n)). */
class Queue<T> {
  private items: T[] = []
  private head = 0
  get size(): number {
    return this.items.length - this.head
  }
  push(v: T): void {
    this.items.push(v)
  }
  shift(): T {
    const v = this.items[this.head++]
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return v
  }
}

/**
 * Merges the alert lane and the anomaly lane with priority to alerts (DESIGN: alert > anomaly).
 * Items are buffered and drained on `scheduler` (asap by default: after the current
 * synchronous burst): whenever both lanes have items waiting, every alert goes before any
 * anomaly; within a lane the order is kept. Items that arrive while a drain is running
 * (re-entrantly) join the same drain, again alerts first.
 *
 * Priority applies to what is buffered at drain time, so the lanes should be fed by pull
 * consumers that deliver batches (the runner's JetStream adapter). An error from either lane
 * errors the result at once; it completes when both lanes have completed and the buffers are
 * empty; unsubscribing unsubscribes both lanes and cancels a pending drain.
 */
export function mergeLanes<A, B>(alert$: Observable<A>, anomaly$: Observable<B>, scheduler: SchedulerLike = asapScheduler): Observable<A | B> {
  return new Observable<A | B>((subscriber) => {
    const high = new Queue<A>()
    const low = new Queue<B>()
    let highDone = false
    let lowDone = false
    let pending: Subscription | null = null
    let draining = false
    let drains = 0
    const subscription = new Subscription()

    const drain = (): void => {
      drains++
      pending = null
      draining = true
      while (!subscriber.closed && (high.size > 0 || low.size > 0)) {
        subscriber.next(high.size > 0 ? high.shift() : low.shift())
      }
      draining = false
      if (highDone && lowDone && !subscriber.closed) subscriber.complete()
    }
    const schedule = (): void => {
      if (pending === null && !draining) {
        const before = drains
        const action = scheduler.schedule(drain)
        // A synchronous scheduler (queueScheduler outside an action) has drained already.
        if (drains === before) pending = action
      }
    }

    subscription.add(
      alert$.subscribe({
        next: (v) => {
          high.push(v)
          schedule()
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          highDone = true
          schedule()
        },
      }),
    )
    subscription.add(
      anomaly$.subscribe({
        next: (v) => {
          low.push(v)
          schedule()
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          lowDone = true
          schedule()
        },
      }),
    )
    return () => {
      subscription.unsubscribe()
      pending?.unsubscribe()
      pending = null
    }
  })
}
