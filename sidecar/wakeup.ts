/**
 * A wake-up for one sleeping loop: `sleep()` resolves on the next `wake()` (or after `ms`);
 * a `wake()` while nobody sleeps is remembered, so the next `sleep()` returns at once.
 */
export class Wakeup {
  private fn: (() => void) | undefined
  private pending = false
  private stopped = false

  wake(): void {
    const f = this.fn
    if (f) {
      this.fn = undefined
      f()
    } else this.pending = true
  }

  /** Every sleep from now on returns at once. */
  stop(): void {
    this.stopped = true
    this.wake()
  }

  sleep(ms?: number): Promise<void> {
    if (this.pending || this.stopped) {
      this.pending = false
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => {
      let t: NodeJS.Timeout | undefined
      this.fn = () => {
        if (t) clearTimeout(t)
        resolve()
      }
      if (ms !== undefined) {
        t = setTimeout(() => {
          this.fn = undefined
          resolve()
        }, ms)
      }
    })
  }
}
