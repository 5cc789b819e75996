/**
 * How many routine publishes a publisher keeps in flight, set by how long JetStream takes to
 * answer them: a delay-based congestion window, after LEDBAT (RFC 6817).
 *
 * A publisher with a fixed window of thousands fills the server's queues whenever it offers more
 * than the chain downstream takes: every message the server has read but not yet stored, and every
 * delivery and PubAck behind them, is a wait for whatever comes next on the same server, an alert
 * included (issue 8, the lanes' promise under a routine flood). So the window follows the PubAcks'
 * delay above the least delay seen lately (the base): at most `targetMs` of queueing. Under the
 * target it grows, by up to a quarter a round trip; over it, it shrinks in proportion. The routine
 * lanes then lag in the senders (the sidecar's WAL, the caller's backpressure), not in the server.
 *
 * One publish in flight at a time is timed (one clock read per round trip, none per fact).
 */
export class DelayWindow {
  private size: number
  /** The least round trip of the current span and of the one before (ms). */
  private base = Infinity
  private before = Infinity
  private spanStart = 0

  constructor(
    /** The window's ceiling (the publisher's own window). */
    readonly max: number,
    /** Queueing delay aimed at, ms. */
    readonly targetMs: number,
    /** The window's floor: enough to keep a connection busy while the server's queues are short. */
    readonly min = Math.min(max, 32),
    /** How long a least round trip counts as the base (ms): two spans of this. */
    private readonly spanMs = 10_000,
  ) {
    this.size = max
  }

  /** The publishes allowed in flight now. */
  get value(): number {
    return Math.floor(this.size)
  }

  /** The round trip of the base: the least seen over the last one or two spans (ms). */
  get baseMs(): number {
    return Math.min(this.base, this.before)
  }

  /** One publish's round trip (`rttMs`), answered at `at` (ms, monotonic): returns the new window. */
  sample(rttMs: number, at: number): number {
    if (at - this.spanStart >= this.spanMs) {
      this.before = this.base
      this.base = Infinity
      this.spanStart = at
    }
    if (rttMs < this.base) this.base = rttMs
    const queued = rttMs - this.baseMs
    const off = Math.max(-1, Math.min(1, (this.targetMs - queued) / this.targetMs))
    this.size = Math.max(this.min, Math.min(this.max, this.size * (1 + off / 4)))
    return this.value
  }
}
