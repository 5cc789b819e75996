import { Reader, readRetrying, type ReadSource } from './reader.js'
import type { TailOptions, WalRecord } from './types.js'

/** Wakes every waiter when new records become visible (or the WAL closes). */
export class AppendSignal {
  private waiters: (() => void)[] = []

  /** Resolves on the next notify(), or at once / on abort when `signal` is (or gets) aborted. */
  wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      const done = (): void => {
        signal?.removeEventListener('abort', done)
        resolve()
      }
      this.waiters.push(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  notify(): void {
    for (const w of this.waiters.splice(0)) w()
  }
}

export interface TailHost extends ReadSource {
  isClosed(): boolean
  readonly appended: AppendSignal
  /** Readers still open when the WAL closes are closed by it. */
  readonly readers: Set<Reader>
}

/** Every record from `fromSeq` on, in order, waiting for appends; returns when the WAL closes or `signal` aborts. */
export async function* tailRecords(host: TailHost, fromSeq: number, options: TailOptions = {}): AsyncIterableIterator<WalRecord> {
  const reader = new Reader(host)
  host.readers.add(reader)
  const batch = options.batch ?? 1024
  const signal = options.signal
  let next = fromSeq
  try {
    while (!host.isClosed() && !signal?.aborted) {
      const records = await readRetrying(reader, next, batch)
      if (records.length === 0) {
        if (host.isClosed()) break
        // Nothing retained at or after `next` although it was appended: acked and deleted meanwhile.
        if (next <= host.visibleSeq) next = host.visibleSeq + 1
        // Checked and registered in one synchronous step, so no append slips between.
        else await host.appended.wait(signal)
        continue
      }
      for (const r of records) yield r
      next = records[records.length - 1].seq + 1
    }
  } catch (err) {
    if (!host.isClosed()) throw err
  } finally {
    host.readers.delete(reader)
    await reader.close()
  }
}
