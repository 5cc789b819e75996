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
  // the last explain sentence and what it said: consecutive facts mostly redact the same things
  private lastFields: string[] = []
  private lastRules: string[] = []
  private lastCounts: number[] = []
  private lastVerbs: string[] = []
  private lastSize = -1
  private lastCarried = -1
  private lastExplain = ''

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
      if (this.sameAsListed()) return this.listed
      const out: Redaction[] = []
      for (let i = 0; i < this.size; i++) {
        out.push(Object.freeze({ field: this.fields[i], rule: this.rules[i], count: this.counts[i] }))
        this.listedFields[i] = this.fields[i]
        this.listedRules[i] = this.rules[i]
        this.listedCounts[i] = this.counts[i]
      }
      this.listedSize = this.size
      this.listed = Object.freeze(out)
      return this.listed
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

  // the last list made for a fact with nothing carried, and what it holds
  private listed: readonly Redaction[] = Object.freeze([])
  private listedFields: string[] = []
  private listedRules: string[] = []
  private listedCounts: number[] = []
  private listedSize = 0

  private sameAsListed(): boolean {
    if (this.size !== this.listedSize) return false
    for (let i = 0; i < this.size; i++) {
      if (this.counts[i] !== this.listedCounts[i] || this.rules[i] !== this.listedRules[i] || this.fields[i] !== this.listedFields[i]) return false
    }
    return true
  }

  /** "scrubbed 2 values: attrs.user hashed (1), message email masked (1)", or "nothing to redact". */
  explain(carried: number): string {
    if (this.sameAsLast(carried)) return this.lastExplain
    const s = this.sentence(carried)
    for (let i = 0; i < this.size; i++) {
      this.lastFields[i] = this.fields[i]
      this.lastRules[i] = this.rules[i]
      this.lastCounts[i] = this.counts[i]
      this.lastVerbs[i] = this.verbs[i]
    }
    this.lastSize = this.size
    this.lastCarried = carried
    this.lastExplain = s
    return s
  }

  private sameAsLast(carried: number): boolean {
    if (carried !== this.lastCarried || this.size !== this.lastSize) return false
    for (let i = 0; i < this.size; i++) {
      if (this.counts[i] !== this.lastCounts[i] || this.rules[i] !== this.lastRules[i] || this.fields[i] !== this.lastFields[i] || this.verbs[i] !== this.lastVerbs[i]) return false
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
