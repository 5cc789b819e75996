import type { RawKind } from '../../schemas/index.js'

/**
 * Field paths over a raw fact's payload: `message`, `type`, `component`, `rule`, `name` (the
 * string fields), and `attrs.<key>` / `labels.<key>` (map entries; keys may contain dots).
 * `severity` and `value` are structural and cannot be addressed.
 *
 * A path pattern is a glob over the whole path, case-insensitive: `*` matches any run of
 * characters (dots included), `?` one character. `attrs.*` is every attr, `*.password` an attr
 * or label called password, `attrs.user_*` every attr starting with `user_`.
 *
 * Precedence: an exact (wildcard-free) path beats any pattern; among patterns the most specific
 * (most literal characters) wins; ties go to the rule listed first.
 */

export const TOP_FIELDS: Readonly<Record<RawKind, readonly string[]>> = {
  metric: ['name'],
  event: ['type', 'message'],
  diag: ['component', 'message'],
  alert: ['rule', 'message'],
}
export const MAP_FIELD: Readonly<Record<RawKind, 'labels' | 'attrs'>> = { metric: 'labels', event: 'attrs', diag: 'attrs', alert: 'attrs' }
const ADDRESSABLE = new Set(['message', 'type', 'component', 'rule', 'name'])
const MAPS = new Set(['attrs', 'labels'])

export interface PathGlob {
  readonly pattern: string
  readonly exact: boolean
  /** Lowercased pattern when exact; the compiled regex otherwise. */
  readonly key: string
  readonly re: RegExp | null
  readonly specificity: number
}

/** Compiles a path pattern, or says what is wrong with it. */
export function compilePath(pattern: string): { ok: true; glob: PathGlob } | { ok: false; error: string } {
  const dot = pattern.indexOf('.')
  const head = dot < 0 ? pattern : pattern.slice(0, dot)
  const hasWild = /[*?]/.test(pattern)
  if (!/[*?]/.test(head)) {
    const h = head.toLowerCase()
    if (dot < 0 && !ADDRESSABLE.has(h)) {
      return {
        ok: false,
        error: MAPS.has(h)
          ? `'${pattern}' names a whole map: write '${h}.<key>' or '${h}.*'`
          : `unknown field '${head}': paths are message, type, component, rule, name, attrs.<key> or labels.<key>`,
      }
    }
    if (dot >= 0 && !MAPS.has(h)) {
      return { ok: false, error: `unknown map '${head}': only attrs.<key> and labels.<key> have sub-keys` }
    }
    if (dot === pattern.length - 1) return { ok: false, error: `'${pattern}' has an empty key` }
  }
  if (!hasWild) return { ok: true, glob: { pattern, exact: true, key: pattern.toLowerCase(), re: null, specificity: pattern.length } }
  let src = '^'
  let literal = 0
  for (const ch of pattern) {
    if (ch === '*') src += '.*'
    else if (ch === '?') src += '.'
    else {
      src += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')
      literal++
    }
  }
  return { ok: true, glob: { pattern, exact: false, key: pattern.toLowerCase(), re: new RegExp(src + '$', 'is'), specificity: literal } }
}

export const matchesPath = (g: PathGlob, path: string): boolean => (g.exact ? g.key === path.toLowerCase() : (g.re as RegExp).test(path))

export const Action = { Keep: 0, Drop: 1, Mask: 2, Hash: 3, Truncate: 4 } as const
export type Action = (typeof Action)[keyof typeof Action]

/** What happens to one field, resolved once per (kind, path) and cached. */
export interface FieldDecision {
  readonly action: Action
  /** Run the free-text detectors over the value (keep and truncate only). */
  readonly scan: boolean
  readonly maxLength: number
  readonly placeholder: string
  /** No rule covers this map entry and the manifest denies unknown fields: drop it. */
  readonly unknown: boolean
  /** The map key itself holds a secret (this detector found it): drop the entry. */
  readonly keySecret: string | null
  /** The rule label recorded in `redactions` for this field's own rule. */
  readonly rule: string
  /** The map key names a secret (KeyClass of generic.ts; 0 = no): a credential-shaped value is masked whole. */
  readonly secretKey: number
  /** The field's path as recorded in `redactions` (`message`, `attrs.user`): built once, not per fact. */
  readonly path: string
}
