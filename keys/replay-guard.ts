/**
 * Remembers the commands a target has accepted, until they expire, so none runs twice.
 * Memory is bounded: when `capacity` is reached, expired entries are dropped first, then the
 * entries closest to expiry. Everything forgotten raises a floor, and any command that expires
 * at or before the floor is refused as possibly replayed — the guard may refuse a genuine
 * command under extreme load, it never accepts a repeat.
 */
export interface ReplayGuard {
  /** True when the command id or nonce was accepted before, or the command is below the floor. */
  seen(commandId: string, nonce: string, expiresAt: number): boolean
  /** Records an accepted command; `now` lets the guard forget what has expired. */
  remember(commandId: string, nonce: string, expiresAt: number, now: number): void
  readonly size: number
  /** Commands expiring at or before this are refused (0 until something is forgotten). */
  readonly floor: number
}

class ReplayGuardImpl implements ReplayGuard {
  private readonly ids = new Map<string, number>()
  private readonly nonces = new Map<string, number>()
  private low = 0

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.ids.size
  }
  get floor(): number {
    return this.low
  }

  seen(commandId: string, nonce: string, expiresAt: number): boolean {
    return this.ids.has(commandId) || this.nonces.has(nonce) || expiresAt <= this.low
  }

  remember(commandId: string, nonce: string, expiresAt: number, now: number): void {
    if (this.ids.size >= this.capacity) this.evict(now)
    this.ids.set(commandId, expiresAt)
    this.nonces.set(nonce, expiresAt)
  }

  private evict(now: number): void {
    const drop = (pred: (exp: number) => boolean): void => {
      for (const [k, exp] of this.ids) if (pred(exp)) this.ids.delete(k)
      for (const [k, exp] of this.nonces) {
        if (pred(exp)) {
          this.nonces.delete(k)
          if (exp > this.low) this.low = exp
        }
      }
    }
    drop((exp) => exp <= now)
    if (this.ids.size < this.capacity) return
    // Still full of live commands: forget the tenth closest to expiry.
    const exps = [...this.ids.values()].sort((a, b) => a - b)
    const cut = exps[Math.max(0, Math.ceil(exps.length / 10) - 1)]
    drop((exp) => exp <= cut)
  }
}

export function replayGuard(options: { capacity?: number } = {}): ReplayGuard {
  const capacity = options.capacity ?? 100_000
  if (!(Number.isInteger(capacity) && capacity >= 1)) throw new RangeError(`replay guard capacity must be a positive integer, got ${capacity}`)
  return new ReplayGuardImpl(capacity)
}
