import type { Labels } from '../../schemas/index.js'

/**
 * The entity an incident is about: the source plus the correlating labels the fact carries
 * (in config order; absent labels are left out). Its key is self-describing and unambiguous
 * (length-prefixed), so an id remembered with only the key can rebuild the entity.
 */
export interface Entity {
  readonly key: string
  /** `{ source, job?, artifact? }`: the `entity` field of the incident payload. */
  readonly labels: Labels
}

const part = (s: string): string => `${s.length}:${s}`

/** The entity of `source` with the correlating `names` taken from `labels` (string values only). */
export function entityOf(source: string, labels: unknown, names: readonly string[]): Entity {
  let key = part(source)
  let out: Record<string, string> | undefined
  if (labels !== null && typeof labels === 'object') {
    const l = labels as Record<string, unknown>
    for (const name of names) {
      if (!Object.hasOwn(l, name)) continue
      const v = l[name]
      if (typeof v !== 'string') continue
      key += `|${part(name)}${part(v)}`
      ;(out ??= { source })[name] = v
    }
  }
  return { key, labels: out ?? { source } }
}

/** Reads a length-prefixed string at `i`: [value, next index], or undefined when malformed. */
function read(key: string, i: number): [string, number] | undefined {
  const colon = key.indexOf(':', i)
  if (colon <= i) return undefined
  const n = Number(key.slice(i, colon))
  if (!Number.isSafeInteger(n) || n < 0 || colon + 1 + n > key.length) return undefined
  return [key.slice(colon + 1, colon + 1 + n), colon + 1 + n]
}

/** Rebuilds the entity from its key (inverse of `entityOf`); undefined for a malformed key. */
export function entityFromKey(key: string): Entity | undefined {
  const s = read(key, 0)
  if (!s) return undefined
  const labels: Record<string, string> = { source: s[0] }
  let i = s[1]
  while (i < key.length) {
    if (key[i] !== '|') return undefined
    const name = read(key, i + 1)
    if (!name) return undefined
    const value = read(key, name[1])
    if (!value) return undefined
    labels[name[0]] = value[0]
    i = value[1]
  }
  return { key, labels }
}

/** `web-3 (job batch-7, artifact a1)`, or just `web-3`. */
export function entityText(labels: Labels): string {
  let extra = ''
  for (const k in labels) {
    if (k === 'source') continue
    extra += `${extra ? ', ' : ''}${k} ${labels[k]}`
  }
  return extra ? `${labels.source} (${extra})` : String(labels.source)
}
