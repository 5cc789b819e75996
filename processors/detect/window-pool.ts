/**
 * Room for the values a drift state collects before it rebuilds its reference (the first
 * window of a series, and the window after a drift): float32 slots of one window each, cut
 * from large shared slabs.
 *
 * Why: every series collects its first window at once (a fleet comes up together), so at
 * 100,000 series these values were ~650 MB of the JS heap (576 doubles a series plus the
 * array's growth), all dropped a few minutes later. V8 sizes its heap to a multiple of the
 * live set, so that bulge set the peak RSS (2.5 GB). In slabs they are 2.3 KB a series outside
 * the JS heap; a slab is one mapping of its own (larger than malloc's mmap threshold), so when
 * its last slot is given back the memory goes back to the system with it, which one typed
 * array per series (malloc'd, freed in the middle of the heap) did not do.
 *
 * A slot is given back when its window is complete (`release`), or when the state holding it
 * is garbage (a series evicted or reset mid-window: a FinalizationRegistry).
 */

/** Bytes of one slab: above glibc's largest mmap threshold (32 MiB), so a slab is its own mapping. */
const SLAB_BYTES = 48 * 1024 * 1024

interface Slab {
  readonly values: Float32Array
  /** Slots never handed out start at `next`; given-back ones are on `free`. */
  next: number
  readonly free: number[]
  used: number
}

/** Held by the registry for a slot's view: where to give it back. */
interface Held {
  readonly pool: WindowPool
  readonly slab: Slab
  readonly slot: number
}

const registry = new FinalizationRegistry<Held>((h) => h.pool.giveBack(h.slab, h.slot))

class WindowPool {
  private readonly slabs: Slab[] = []
  private readonly perSlab: number

  constructor(readonly length: number) {
    this.perSlab = Math.max(1, Math.floor(SLAB_BYTES / (4 * length)))
  }

  take(): Float32Array {
    let slab: Slab | undefined
    for (const s of this.slabs)
      if (s.free.length > 0 || s.next < this.perSlab) {
        slab = s
        break
      }
    if (!slab) this.slabs.push((slab = { values: new Float32Array(this.perSlab * this.length), next: 0, free: [], used: 0 }))
    const reused = slab.free.length > 0
    const slot = reused ? slab.free.pop()! : slab.next++
    slab.used++
    const view = slab.values.subarray(slot * this.length, (slot + 1) * this.length)
    // zeros past what is collected, whoever held the slot before (a new slot is zeros already):
    // a state, and so its checkpoint, depends on its inputs only
    if (reused) view.fill(0)
    registry.register(view, { pool: this, slab, slot }, view)
    return view
  }

  /** `view` back to its slab; false when it is not one of this pool's. */
  release(view: Float32Array): boolean {
    const slab = this.slabs.find((s) => s.values.buffer === view.buffer)
    if (!slab) return false
    registry.unregister(view)
    this.giveBack(slab, view.byteOffset / (4 * this.length))
    return true
  }

  giveBack(slab: Slab, slot: number): void {
    slab.free.push(slot)
    // a slab no longer used is dropped whole (its mapping goes back to the system once collected)
    if (--slab.used === 0) this.slabs.splice(this.slabs.indexOf(slab), 1)
  }

  /** Slabs held and slots in use (for tests and benches). */
  stats(): { slabs: number; used: number } {
    return { slabs: this.slabs.length, used: this.slabs.reduce((n, s) => n + s.used, 0) }
  }
}

const pools = new Map<number, WindowPool>()

const poolOf = (length: number): WindowPool => {
  let p = pools.get(length)
  if (!p) pools.set(length, (p = new WindowPool(length)))
  return p
}

/** A float32 slot of `length` values (contents unspecified: write before reading). */
export function takeWindow(length: number): Float32Array {
  return poolOf(length).take()
}

/** Gives a slot from `takeWindow` back (anything else is left alone). The caller drops `view`. */
export function releaseWindow(view: Float32Array): void {
  pools.get(view.length)?.release(view)
}

/** Slabs held and slots in use, over every window length. */
export function windowPoolStats(): { slabs: number; used: number } {
  let slabs = 0
  let used = 0
  for (const p of pools.values()) {
    const s = p.stats()
    slabs += s.slabs
    used += s.used
  }
  return { slabs, used }
}
