import { z } from 'zod'
import { crc32TokenValid, entropy, isPlaceholder, jwtStructureValid, luhnValid, ibanValid } from './checks.js'
import type { DetectorSpec, Validator } from './detectors.js'

/**
 * The provider catalogue: token formats as data in the manifest (`detectors.catalogue`), so a
 * new format is a KV revision, not a release. Three shapes:
 *
 *   - { name, prefix, body }        a distinctive literal prefix and the regex of what follows
 *                                   (`ghp_` + `[A-Za-z0-9]{36}`): caught alone in a sentence;
 *   - { name, keywords, body }      a secret with no prefix of its own, caught within `within`
 *                                   characters after one of the provider's words on one line;
 *   - { name, keywords, pattern }   a full regex (a named group `s` marks the secret), run
 *                                   when one of the keywords occurs.
 *
 * `verify` confirms a checksum or structure where the format has one and marks the finding
 * verified (it never lets a malformed look-alike through unmasked); `require` rejects
 * candidates that fail it (for weak shapes). Placeholders (`…EXAMPLE`, `xxxx…`) are never masked.
 */

export const CHECKS = ['github-crc32', 'npm-crc32', 'jwt', 'luhn', 'iban'] as const
export type CheckName = (typeof CHECKS)[number]

export const CatalogueEntry = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,47}$/, 'must be lowercase letters, digits and dashes, starting with a letter (it becomes the placeholder [name])'),
    description: z.string().max(512).optional(),
    prefix: z.string().min(2).max(64).optional(),
    keywords: z.array(z.string().min(2).max(64)).min(1).max(32).optional(),
    body: z.string().min(1).max(2048).optional(),
    pattern: z.string().min(1).max(4096).optional(),
    flags: z
      .string()
      .regex(/^[imsu]*$/, 'may only contain the flags i, m, s, u')
      .default(''),
    /** For keyword formats: the most characters between the keyword and the secret (same line). */
    within: z.number().int().min(0).max(200).default(40),
    verify: z.enum(CHECKS).optional(),
    require: z.enum(CHECKS).optional(),
    /** Least Shannon entropy (bits per character) of the secret. */
    minEntropy: z.number().min(0).max(8).optional(),
    enabled: z.boolean().default(true),
    action: z.enum(['mask', 'hash']).default('mask'),
  })
  .strict()
  .superRefine((e, ctx) => {
    const shapes = [
      e.prefix !== undefined && e.body !== undefined && e.pattern === undefined,
      e.prefix === undefined && e.keywords !== undefined && e.body !== undefined && e.pattern === undefined,
      e.prefix === undefined && e.keywords !== undefined && e.pattern !== undefined && e.body === undefined,
    ]
    if (shapes.filter(Boolean).length !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of {prefix, body}, {keywords, body} or {keywords, pattern}' })
  })
export type CatalogueEntry = z.infer<typeof CatalogueEntry>

const escape = (s: string): string => s.replace(/[\\^$.|?*+()[\]{}-]/g, '\\$&')
const ci = (s: string): string => escape(s).replace(/[a-zA-Z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`)

export const CHECK_FN: Readonly<Record<CheckName, (t: string, s: number, e: number) => boolean>> = {
  'github-crc32': (t, s, e) => {
    const u = t.indexOf('_', s)
    return u > s && u < e && crc32TokenValid(t.slice(s, e), u + 1 - s)
  },
  'npm-crc32': (t, s, e) => crc32TokenValid(t.slice(s, e), 4),
  jwt: (t, s, e) => jwtStructureValid(t, s, e),
  luhn: (t, s, e) => luhnValid(t.slice(s, e)),
  iban: (t, s, e) => ibanValid(t.slice(s, e)),
}

/** Words between a provider keyword and a candidate that say the candidate is an identifier, not a secret. */
const ID_GAP = /(?:^|[^a-z])(?:trace|span|commit|sha\d*|uuid|guid|checksum|digest|hash|etag|revision|version)(?:[^a-z]|$)|(?:^|[^a-z])(?:[a-z]+[_ -])?id(?:[^a-z]|$)/i
const CAMEL_ID = /[a-z]Id(?:[^a-z]|$)/

function validatorFor(e: CatalogueEntry): Validator {
  const require = e.require ? CHECK_FN[e.require] : null
  const minEntropy = e.minEntropy ?? (e.prefix === undefined ? 3 : 0)
  const keywordShape = e.prefix === undefined && e.pattern === undefined
  const within = e.within
  return (t, s, end) => {
    if (isPlaceholder(t, s, end)) return false
    if (minEntropy > 0 && end - s >= 12 && entropy(t, s, end) < minEntropy) return false
    if (require !== null && !require(t, s, end)) return false
    if (keywordShape) {
      const gap = t.slice(s > within + 64 ? s - within - 64 : 0, s)
      const lower = gap.toLowerCase()
      // the gap after the nearest keyword must not name an identifier
      let k = -1
      for (const kw of e.keywords ?? []) k = Math.max(k, lower.lastIndexOf(kw.toLowerCase()))
      if (k >= 0 && (ID_GAP.test(gap.slice(k)) || CAMEL_ID.test(gap.slice(k)))) return false
    }
    return true
  }
}

/** Compiles a catalogue entry to a detector spec (throws on a bad regex: the caller reports it). */
export function catalogueSpec(e: CatalogueEntry): DetectorSpec {
  let source: string
  let keywords: string[]
  if (e.prefix !== undefined) {
    source = `(?<![A-Za-z0-9_])${escape(e.prefix)}(?:${e.body})(?![A-Za-z0-9_])`
    keywords = [e.prefix]
  } else if (e.body !== undefined) {
    const kws = (e.keywords ?? []).map(ci).join('|')
    source = `(?:${kws})[^\\r\\n]{0,${e.within}}?(?<![A-Za-z0-9])(?<s>${e.body})(?![A-Za-z0-9])`
    keywords = [...(e.keywords ?? [])]
  } else {
    source = e.pattern as string
    keywords = [...(e.keywords ?? [])]
  }
  const flags = `g${e.flags.replace('g', '')}`
  new RegExp(source, flags) // throws SyntaxError for the caller
  return {
    name: e.name,
    description: e.description ?? e.name,
    source,
    flags,
    feature: 0,
    keywords,
    validate: validatorFor(e),
    shrink: false,
  }
}
