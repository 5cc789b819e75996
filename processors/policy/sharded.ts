/**
 * A copy-on-write map split into up to 256 shards by a hash of the key, stored as plain
 * nested records (JSON as is). Updating one entry copies one shard and the shard index, not
 * the whole map, so the policy state stays immutable without an O(entities) copy per fact.
 */
export type Sharded<V> = Readonly<Record<string, Readonly<Record<string, V>>>>

const own = <V>(rec: Readonly<Record<string, V>>, key: string): V | undefined => (Object.hasOwn(rec, key) ? rec[key] : undefined)

/** FNV-1a of the key, low byte in hex. */
export function shardOf(key: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h & 0xff).toString(16)
}

export function sget<V>(m: Sharded<V>, key: string): V | undefined {
  const s = own(m, shardOf(key))
  return s === undefined ? undefined : own(s, key)
}

export function sset<V>(m: Sharded<V>, key: string, value: V): Sharded<V> {
  const sh = shardOf(key)
  return { ...m, [sh]: { ...own(m, sh), [key]: value } }
}

/** Keeps the entries for which `keep` holds (a full rebuild: use it for periodic pruning only). */
export function sfilter<V>(m: Sharded<V>, keep: (v: V) => boolean): Sharded<V> {
  const out: Record<string, Record<string, V>> = {}
  for (const [sh, s] of Object.entries(m)) {
    let kept: Record<string, V> | undefined
    for (const [k, v] of Object.entries(s)) if (keep(v)) (kept ??= {})[k] = v
    if (kept) out[sh] = kept
  }
  return out
}

export function ssize(m: Sharded<unknown>): number {
  let n = 0
  for (const s of Object.values(m)) n += Object.keys(s).length
  return n
}
