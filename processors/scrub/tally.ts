import type { Redaction } from '../../schemas/index.js'

const MAX_INT = 2 ** 31 - 1
/** Most entries named in an explain sentence; the rest are summarised as "and N more". */
const EXPLAIN_ITEMS = 8

const VERB: Readonly<Record<string, string>> = {
  drop: 'dropped',
  mask: 'masked',
  hash: 'hashed',
  truncate: 'truncated',
  'deny-unknown': 'dropped as unknown',
  unstable: 'replaced (did not settle)',
}

/**
 * What one fact's scrub redacted, in the order it happened: (field, rule, count), never a value.
 * One instance is reused for every fact (the stage is synchronous); `reset()` starts a fact.
 */
export class Tally {
  private fields: string[] = []
  private rules: string[] = []
  private counts: number[] = []
  private verbs: string[] = []
  size = 0
  total = 0
  // What the last fact redacted, and what was made of it: consecutive facts mostly redact the
  // same things, so their redaction list and explain sentence are made once (`follow`).
  private seenFields: string[] = []
  private seenRules: string[] = []
  private seenCounts: number[] = []
  private seenVerbs: string[] = []
  private seenSize = -1
  /** The frozen list of a fact with nothing carried. */
  private listed: readonly Redaction[] | undefined
  private explained: { readonly carried: number; readonly text: string } | undefined

  reset(): void {
    this.size = 0
    this.total = 0
  }

  /** `verb` says what happened in the explain text; it defaults from the rule name. */
  add(field: string, rule: string, count: number, verb?: string): void {
    for (let i = 0; i < this.size; i++) {
      if (this.fields[i] === field && this.rules[i] === rule) {
        this.counts[i] = Math.min(MAX_INT, this.counts[i] + count)
        this.total += count
        return
      }
    }
    const i = this.size++
    this.fields[i] = field
    this.rules[i] = rule
    this.counts[i] = count
    this.verbs[i] = verb ?? VERB[rule] ?? rule
    this.total += count
  }

  /**
   * Prior redactions (carried from the input) followed by this fact's, same (field, rule) summed.
   * With none carried, a fact that redacted the same (field, rule, count) as the fact before gets
   * the same frozen list: consecutive facts mostly redact the same things, and a list of records
   * per fact was the scrub's largest garbage.
   */
  redactions(carried: readonly Redaction[]): readonly Redaction[] {
    if (carried.length === 0) {
      this.follow()
      if (this.listed) return this.listed
      const out: Redaction[] = []
      for (let i = 0; i < this.size; i++) out.push(Object.freeze({ field: this.fields[i], rule: this.rules[i], count: this.counts[i] }))
      return (this.listed = Object.freeze(out))
    }
    const out: Redaction[] = []
    for (const r of carried) out.push({ field: r.field, rule: r.rule, count: r.count })
    for (let i = 0; i < this.size; i++) {
      let merged = false
      for (let j = 0; j < carried.length; j++) {
        const r = out[j]
        if (r.field === this.fields[i] && r.rule === this.rules[i]) {
          out[j] = { field: r.field, rule: r.rule, count: Math.min(MAX_INT, r.count + this.counts[i]) }
          merged = true
          break
        }
      }
      if (!merged) out.push({ field: this.fields[i], rule: this.rules[i], count: this.counts[i] })
    }
    return out
  }

  /** "scrubbed 2 values: attrs.user hashed (1), message email masked (1)", or "nothing to redact". */
  explain(carried: number): string {
    this.follow()
    if (this.explained?.carried !== carried) this.explained = { carried, text: this.sentence(carried) }
    return this.explained.text
  }

  /** Keeps what was seen in step with this fact's redactions; when they differ, forgets what was made of the last. */
  private follow(): void {
    if (this.size === this.seenSize && this.sameAsSeen()) return
    for (let i = 0; i < this.size; i++) {
      this.seenFields[i] = this.fields[i]
      this.seenRules[i] = this.rules[i]
      this.seenCounts[i] = this.counts[i]
      this.seenVerbs[i] = this.verbs[i]
    }
    this.seenSize = this.size
    this.listed = undefined
    this.explained = undefined
  }

  private sameAsSeen(): boolean {
    for (let i = 0; i < this.size; i++) {
      if (this.counts[i] !== this.seenCounts[i] || this.rules[i] !== this.seenRules[i] || this.fields[i] !== this.seenFields[i] || this.verbs[i] !== this.seenVerbs[i]) return false
    }
    return true
  }

  private sentence(carried: number): string {
    let s: string
    if (this.size === 0) s = 'nothing to redact'
    else {
      s = `scrubbed ${this.total} value${this.total === 1 ? '' : 's'}: `
      const shown = Math.min(this.size, EXPLAIN_ITEMS)
      for (let i = 0; i < shown; i++) {
        if (i > 0) s += ', '
        const rule = this.rules[i]
        const detector = !(rule in VERB)
        if (rule.startsWith('key-')) s += `${this.fields[i]} entry dropped, its key held ${rule.slice(4)} (${this.counts[i]})`
        else s += detector ? `${this.fields[i]} ${rule} ${this.verbs[i]} (${this.counts[i]})` : `${this.fields[i]} ${this.verbs[i]} (${this.counts[i]})`
      }
      if (this.size > shown) s += `, and ${this.size - shown} more`
    }
    if (carried > 0) s += `; ${carried} earlier redaction record${carried === 1 ? '' : 's'} carried over`
    return s
  }
}
