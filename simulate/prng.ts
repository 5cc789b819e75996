/**
 * Seeded randomness for the simulator: sfc32 streams seeded through a string hash, so every
 * host and every kind of fact has its own independent, reproducible stream. No Math.random.
 */

/** FNV-1a over the parts (joined with NUL), then a murmur3 finaliser: a 32-bit seed. */
export function seedOf(...parts: ReadonlyArray<string | number>): number {
  let h = 0x811c9dc5
  for (const p of parts) {
    const s = String(p)
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i)
      h = Math.imul(h, 0x01000193)
    }
    h = Math.imul(h, 0x01000193) // the NUL separator (x ^ 0 = x)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** A seeded generator with the draws the simulator needs. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number
  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number
  /** Standard normal (Box-Muller). */
  normal(): number
  /** Exponential with the given mean. */
  exp(mean: number): number
  pick<T>(items: readonly T[]): T
  /** True with probability p. */
  chance(p: number): boolean
}

class Sfc32 implements Rng {
  private a: number
  private b: number
  private c: number
  private d = 1

  constructor(seed: number) {
    // splitmix32 expands one 32-bit seed into the four words of state.
    let s = seed >>> 0
    const mix = (): number => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad)
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97)
      return (z ^ (z >>> 15)) >>> 0
    }
    this.a = mix()
    this.b = mix()
    this.c = mix()
    this.d = mix()
    for (let i = 0; i < 12; i++) this.word()
  }

  private word(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  next(): number {
    return this.word() / 4294967296
  }
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next()
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  normal(): number {
    const u = 1 - this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next())
  }
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]
  }
  chance(p: number): boolean {
    return this.next() < p
  }
}

/** A generator seeded by the hash of `parts` (e.g. the fleet seed, a host, a stream name). */
export const rngOf = (...parts: ReadonlyArray<string | number>): Rng => new Sfc32(seedOf(...parts))
