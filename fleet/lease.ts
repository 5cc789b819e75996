import type { KV } from '../streams/index.js'

/** A partition lease in KV `ben-fleet`, key `lease.<unit>`: who owns the unit, until when. */
export interface Lease {
  readonly worker: string
  /** Wall-clock ms after which anyone may take it. */
  readonly until: number
}

export const leaseKey = (unit: string): string => `lease.${unit}`

export function parseLease(text: string): Lease | undefined {
  try {
    const v = JSON.parse(text) as Partial<Lease>
    return typeof v.worker === 'string' && typeof v.until === 'number' ? { worker: v.worker, until: v.until } : undefined
  } catch {
    return undefined
  }
}

/**
 * Takes or renews a lease by compare-and-set: created when absent, updated at the revision read
 * when it is ours or has expired. Returns the new revision, or undefined when another worker
 * holds it (or won the race).
 */
export async function takeLease(kv: KV, unit: string, worker: string, ttlMs: number, now = Date.now()): Promise<number | undefined> {
  const key = leaseKey(unit)
  const value = JSON.stringify({ worker, until: now + ttlMs } satisfies Lease)
  const e = await kv.get(key)
  try {
    if (!e || e.operation !== 'PUT') return e ? await kv.update(key, value, e.revision) : await kv.create(key, value)
    const l = parseLease(e.string())
    if (l && l.worker !== worker && l.until > now) return undefined
    return await kv.update(key, value, e.revision)
  } catch {
    return undefined // another worker wrote first
  }
}

/** Renews a lease held at `revision`; undefined when it was taken meanwhile. */
export async function renewLease(kv: KV, unit: string, worker: string, ttlMs: number, revision: number): Promise<number | undefined> {
  try {
    return await kv.update(leaseKey(unit), JSON.stringify({ worker, until: Date.now() + ttlMs } satisfies Lease), revision)
  } catch {
    return undefined
  }
}

/** Gives a lease up (at its revision: never someone else's). */
export async function releaseLease(kv: KV, unit: string, revision: number): Promise<void> {
  await kv.delete(leaseKey(unit), { previousSeq: revision }).catch(() => undefined)
}
