// Leaf modules, not the schemas barrel (zod, codecs): the CLI's start path reaches this file.
import { isToken } from '../schemas/token.js'
import { RAW_KINDS, type Fact, type RawKind } from '../schemas/types.js'

/**
 * Subject naming (DESIGN.md "Subjects and streams"). All subjects sit under a configurable
 * prefix (default `ben`). Tokens are NATS-safe: no `.`, `*`, `>`, spaces.
 */
export class Subjects {
  readonly factsAll: string
  readonly scrubbedAll: string
  readonly anomalyAll: string
  readonly decisionAll: string
  readonly incidentAll: string
  readonly cmdAll: string
  readonly ackAll: string
  readonly dlqAll: string
  readonly helloAll: string

  constructor(readonly prefix = 'ben') {
    if (!prefix.split('.').every(isToken)) throw new Error(`invalid subject prefix '${prefix}': tokens must not contain '*', '>' or spaces`)
    this.factsAll = `${prefix}.fact.>`
    this.scrubbedAll = `${prefix}.scrubbed.>`
    this.anomalyAll = `${prefix}.anomaly.>`
    this.decisionAll = `${prefix}.decision.>`
    this.incidentAll = `${prefix}.incident.>`
    this.cmdAll = `${prefix}.cmd.>`
    this.ackAll = `${prefix}.ack.>`
    this.dlqAll = `${prefix}.dlq.>`
    this.helloAll = `${prefix}.hello.>`
  }

  fact(kind: RawKind, source: string): string {
    return `${this.prefix}.fact.${kind}.${source}`
  }
  scrubbed(kind: RawKind, source: string): string {
    return `${this.prefix}.scrubbed.${kind}.${source}`
  }
  anomaly(severity: string, source: string): string {
    return `${this.prefix}.anomaly.${severity}.${source}`
  }
  decision(outcome: string, source: string): string {
    return `${this.prefix}.decision.${outcome}.${source}`
  }
  incident(source: string): string {
    return `${this.prefix}.incident.${source}`
  }
  cmd(target: string): string {
    return `${this.prefix}.cmd.${target}`
  }
  ack(target: string): string {
    return `${this.prefix}.ack.${target}`
  }
  dlq(stage: string): string {
    return `${this.prefix}.dlq.${stage}`
  }
  hello(component: string): string {
    return `${this.prefix}.hello.${component}`
  }

  /** The subject a fact is published on, from its kind (raw facts go to `fact.`). */
  forFact(f: Fact, opts: { scrubbed?: boolean } = {}): string {
    switch (f.kind) {
      case 'metric':
      case 'event':
      case 'diag':
      case 'alert':
        return opts.scrubbed ? this.scrubbed(f.kind, f.source) : this.fact(f.kind, f.source)
      case 'anomaly':
        return this.anomaly(f.payload.severity, f.source)
      case 'decision':
        return this.decision(f.payload.outcome, f.source)
      case 'incident':
        return this.incident(f.source)
      case 'command':
        return this.cmd(f.payload.target)
      case 'ack':
        return this.ack(f.payload.target)
      default: {
        const never: never = f
        throw new Error(`no subject for kind ${String((never as Fact).kind)}`)
      }
    }
  }

  /** Parses `<prefix>.fact.<kind>.<source>` (or `scrubbed`); null when it is not one. */
  parseRaw(subject: string): { kind: RawKind; source: string; scrubbed: boolean } | null {
    if (!subject.startsWith(this.prefix + '.')) return null
    const rest = subject.slice(this.prefix.length + 1).split('.')
    if (rest.length !== 3) return null
    const [area, kind, source] = rest
    if (area !== 'fact' && area !== 'scrubbed') return null
    if (!(RAW_KINDS as readonly string[]).includes(kind) || !isToken(source)) return null
    return { kind: kind as RawKind, source, scrubbed: area === 'scrubbed' }
  }

  /**
   * Why a subject under `<prefix>.fact.` is not `<prefix>.fact.<lane>.<source>`, naming the
   * token at fault; null when it is one (or is not under `<prefix>.fact.` at all).
   */
  whyNotRaw(subject: string): { reason: 'unknown_lane' | 'bad_subject'; message: string } | null {
    const head = `${this.prefix}.fact`
    if (subject !== head && !subject.startsWith(head + '.')) return null
    const tokens = subject.split('.')
    const base = this.prefix.split('.').length + 1
    const shape = `${head}.<lane>.<source>`
    for (let i = base; i < tokens.length; i++) {
      const t = tokens[i]
      const where = `token ${i + 1} of '${subject}'`
      if (t === '') return { reason: 'bad_subject', message: `${where} is empty (two dots in a row, or a dot at an end): publish on ${shape}` }
      if (t === '*' || t === '>') return { reason: 'bad_subject', message: `${where} is the wildcard '${t}': publish on a concrete subject, ${shape}` }
    }
    const lane = tokens[base]
    if (lane === undefined) return { reason: 'bad_subject', message: `'${subject}' names no lane and no source: publish on ${shape}` }
    if (!(RAW_KINDS as readonly string[]).includes(lane)) {
      const near = RAW_KINDS.find((k) => lane.startsWith(k) || k.startsWith(lane))
      return {
        reason: 'unknown_lane',
        message: `token ${base + 1} of '${subject}' ('${lane}') is not a lane: use one of ${RAW_KINDS.join(', ')}${near ? ` (did you mean '${near}'?)` : ''}`,
      }
    }
    if (tokens.length === base + 1) return { reason: 'bad_subject', message: `'${subject}' has no source token: publish on ${head}.${lane}.<source>` }
    if (tokens.length > base + 2)
      return {
        reason: 'bad_subject',
        message: `'${subject}' has ${tokens.length - base - 2} token(s) after the source '${tokens[base + 1]}': a source is one token, publish on ${head}.${lane}.<source>`,
      }
    const source = tokens[base + 1]
    if (!isToken(source))
      return { reason: 'bad_subject', message: `token ${base + 2} of '${subject}' ('${source}') is not a valid source: at most 128 characters, no spaces or control characters` }
    return null
  }

  /** The last token of a subject: the source or target it is about. */
  static lastToken(subject: string): string {
    return subject.slice(subject.lastIndexOf('.') + 1)
  }
}

/** Checks a user-supplied subject pattern (`ben tail`): tokens, `*` and a final `>`. */
export function validatePattern(pattern: string): string | null {
  const tokens = pattern.split('.')
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    if (t === '*') continue
    if (t === '>' && i === tokens.length - 1) continue
    if (!isToken(t)) return `invalid subject pattern '${pattern}': token ${i + 1} ('${t}') must be a name, '*', or a final '>'`
  }
  return null
}

/** NATS wildcard match of a concrete subject against a pattern (`*` one token, `>` the rest). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.')
  const s = subject.split('.')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i
    if (i >= s.length) return false
    if (p[i] !== '*' && p[i] !== s[i]) return false
  }
  return p.length === s.length
}

/** True when every subject matching `inner` also matches `outer`. */
export function isSubsetOf(inner: string, outer: string): boolean {
  const a = inner.split('.')
  const b = outer.split('.')
  for (let i = 0; i < b.length; i++) {
    if (b[i] === '>') return a.length > i
    if (i >= a.length) return false
    if (a[i] === '>') return false
    if (b[i] === '*') continue
    if (a[i] === '*' || a[i] !== b[i]) return false
  }
  return a.length === b.length
}

/** True when some subject matches both patterns. */
export function overlaps(x: string, y: string): boolean {
  const a = x.split('.')
  const b = y.split('.')
  for (let i = 0; ; i++) {
    if (a[i] === '>' || b[i] === '>') return i < a.length && i < b.length
    if (i >= a.length || i >= b.length) return a.length === b.length
    if (a[i] !== '*' && b[i] !== '*' && a[i] !== b[i]) return false
  }
}
