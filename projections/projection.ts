import type { Fact } from '../schemas/index.js'
import type { StreamName, Subjects } from '../streams/index.js'

/**
 * A projection: which facts it handles, from which stream, and the row each becomes.
 * `toRow` is pure; the projector does batching, de-duplication, inserting and acking.
 */
export interface Projection {
  readonly name: string
  readonly version: number
  readonly table: string
  readonly stream: StreamName
  /** Subject filter on the stream (one subject: nats-server 2.9 takes one per consumer). */
  filterSubject?(subjects: Subjects): string
  handles(fact: Fact): boolean
  toRow(fact: Fact, seq: number): Record<string, unknown>
}
