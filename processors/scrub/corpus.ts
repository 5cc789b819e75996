import type { DetectorName } from './detectors.js'
import * as g from './corpus-parts.js'
import { NEGATIVES, POSITIVES } from './corpus-kinds.js'
import type { Part } from './corpus-parts.js'

export { rngFrom, cardNumber, type Rng, type Part } from './corpus-parts.js'

/**
 * A labelled corpus of realistic log lines, generated from a seed (same seed, same corpus):
 * positives for every detector in varied formats, and hard negatives that look like secrets
 * but are not (Luhn-failing order ids, version quads, UUIDs, hex digests, timestamps, MACs,
 * IBANs with a bad checksum, prose that mentions "bearer" or "password", …).
 */
export interface CorpusSecret {
  readonly kind: DetectorName
  readonly value: string
  readonly start: number
  readonly end: number
}
export interface CorpusNegative {
  readonly type: string
  readonly value: string
  readonly start: number
  readonly end: number
}
export interface CorpusLine {
  readonly text: string
  readonly secrets: readonly CorpusSecret[]
  readonly negatives: readonly CorpusNegative[]
}
export interface CorpusOptions {
  readonly seed?: number
  readonly lines?: number
  /** Share of clauses that carry a secret (the rest are hard negatives or filler). */
  readonly secretRate?: number
  /** Share of the other clauses that are hard negatives (the rest is plain filler). Default 0.7. */
  readonly negativeRate?: number
}

export function generateCorpus(opts: CorpusOptions = {}): CorpusLine[] {
  const rng = g.rngFrom(opts.seed ?? 42)
  const n = opts.lines ?? 2000
  const secretRate = opts.secretRate ?? 0.5
  const negativeRate = opts.negativeRate ?? 0.7
  const out: CorpusLine[] = []
  const kinds = Object.keys(POSITIVES) as DetectorName[]
  const negs = Object.keys(NEGATIVES)
  for (let i = 0; i < n; i++) {
    const parts: Part[] = [...g.header(rng)]
    const clauses = 1 + Math.floor(rng() * 3)
    for (let c = 0; c < clauses; c++) {
      parts.push(c === 0 ? '' : g.pick(rng, [' ', '; ', ', ', ' | ']))
      const r = rng()
      if (r < secretRate) {
        // cycle through the kinds so every detector gets a fair share of positives
        const kind = kinds[(i * 3 + c) % kinds.length]
        parts.push(...POSITIVES[kind](rng))
      } else if (r < secretRate + (1 - secretRate) * negativeRate) {
        parts.push(...NEGATIVES[negs[Math.floor(rng() * negs.length)]](rng))
      } else parts.push(g.filler(rng))
    }
    out.push(assemble(parts))
  }
  return out
}

export function assemble(parts: readonly Part[]): CorpusLine {
  let text = ''
  const secrets: CorpusSecret[] = []
  const negatives: CorpusNegative[] = []
  for (const p of parts) {
    if (typeof p === 'string') text += p
    else if ('secret' in p) {
      secrets.push({ kind: p.secret, value: p.text, start: text.length, end: text.length + p.text.length })
      text += p.text
    } else {
      negatives.push({ type: p.negative, value: p.text, start: text.length, end: text.length + p.text.length })
      text += p.text
    }
  }
  return { text, secrets, negatives }
}

