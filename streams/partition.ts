/**
 * Partitions: a stage's input split by source. The key is the last token of the subject (the
 * source of a fact, the target of a command), so a message is placed without being decoded and
 * every message of one source lands in the same partition, in stream order.
 */

/** A partition of a stage: `index` of `count` (0 ≤ index < count). */
export interface Partition {
  readonly index: number
  readonly count: number
}

export const WHOLE: Partition = Object.freeze({ index: 0, count: 1 })

/** FNV-1a (32 bit) of the key, modulo `count`: the same on every machine and in every language. */
export function partitionOf(key: string, count: number): number {
  if (count <= 1) return 0
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % count
}

/** The partition a subject belongs to (its last token is the key). */
export function partitionOfSubject(subject: string, count: number): number {
  return count <= 1 ? 0 : partitionOf(subject.slice(subject.lastIndexOf('.') + 1), count)
}

/** `2/4`-style label; `''` for the whole input. */
export function partitionLabel(p: Partition): string {
  return p.count <= 1 ? '' : `p${p.index}of${p.count}`
}
