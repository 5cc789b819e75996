/**
 * The publishes awaiting a PubAck, by token. Tokens are handed out in increasing order and most are
 * answered in that order, a window's worth at most awaited at once: a token's value sits in the
 * slot `token mod capacity` of an array made once, and only when that slot is still taken by an
 * older token (one unanswered for a long while) in a Map beside it. A Map alone of the window's
 * size grows and shrinks its table as the window fills and empties: new memory each time, which
 * costs a page fault per 4 KiB page on its first write (~900 of the sidecar's 6,091 page faults
 * in bench:otlp's steady phase, round 18), and hashing on every send and PubAck.
 */
export class TokenTable<V> {
  private readonly slots: Array<V | undefined>
  /** The token of each taken slot. */
  private readonly tokens: Float64Array
  private readonly mask: number
  /** Tokens whose slot was taken by an older one. */
  private readonly spill = new Map<number, V>()
  private count = 0

  /** `window`: how many tokens are awaited at once, at most (a hint: more still fit). */
  constructor(window: number) {
    let n = 16
    while (n < window * 2) n *= 2
    this.slots = new Array<V | undefined>(n).fill(undefined)
    this.tokens = new Float64Array(n)
    this.mask = n - 1
  }

  get size(): number {
    return this.count
  }

  get(token: number): V | undefined {
    const i = token & this.mask
    const v = this.slots[i]
    if (v !== undefined && this.tokens[i] === token) return v
    return this.spill.size > 0 ? this.spill.get(token) : undefined
  }

  /** Sets the value of a token (a non-negative safe integer). */
  set(token: number, value: V): void {
    const i = token & this.mask
    const v = this.slots[i]
    if (v !== undefined && this.tokens[i] === token) {
      this.slots[i] = value
      return
    }
    if (this.spill.size > 0 && this.spill.has(token)) {
      this.spill.set(token, value)
      return
    }
    this.count++
    if (v === undefined) {
      this.slots[i] = value
      this.tokens[i] = token
    } else this.spill.set(token, value)
  }

  delete(token: number): boolean {
    const i = token & this.mask
    if (this.slots[i] !== undefined && this.tokens[i] === token) {
      this.slots[i] = undefined
      this.count--
      return true
    }
    if (this.spill.size > 0 && this.spill.delete(token)) {
      this.count--
      return true
    }
    return false
  }

  /** Every token and its value (a copy: the table may be changed meanwhile), in no particular order. */
  entries(): Array<[number, V]> {
    const out: Array<[number, V]> = []
    this.forEach((v, token) => out.push([token, v]))
    return out
  }

  forEach(fn: (value: V, token: number) => void): void {
    if (this.count === 0) return
    for (const [token, v] of this.spill) fn(v, token)
    const slots = this.slots
    for (let i = 0; i < slots.length; i++) {
      const v = slots[i]
      if (v !== undefined) fn(v, this.tokens[i])
    }
  }
}
