import { compileGlob, type Fact, type NameTest } from '../schemas/index.js'
import { SEVERITIES, type NotifierConfig, type NotifyKind, type Severity } from './config.js'

/** What a notification is about, read once from the fact. */
export interface Notable {
  readonly kind: NotifyKind
  readonly severity: Severity
  readonly source: string
  readonly fact: Fact
}

const rank = (s: string): number => SEVERITIES.indexOf(s as Severity)

/** Anomalies, incident transitions and decisions that propose a command; anything else is not notable. */
export function notable(fact: Fact): Notable | undefined {
  const p = fact.payload as { severity?: string; outcome?: string }
  const severity = (rank(p.severity ?? '') >= 0 ? p.severity : 'low') as Severity
  switch (fact.kind) {
    case 'anomaly':
      return { kind: 'anomaly', severity, source: fact.source, fact }
    case 'incident':
      return { kind: 'incident', severity, source: fact.source, fact }
    case 'decision':
      return p.outcome === 'propose' ? { kind: 'proposal', severity, source: fact.source, fact } : undefined
    default:
      return undefined
  }
}

export interface CompiledNotifier {
  readonly config: NotifierConfig
  readonly source: NameTest
  readonly minRank: number
}

export const compileNotifier = (config: NotifierConfig): CompiledNotifier => ({ config, source: compileGlob(config.source), minRank: rank(config.minSeverity) })

export function matches(n: CompiledNotifier, x: Notable): boolean {
  return n.config.kinds.includes(x.kind) && rank(x.severity) >= n.minRank && n.source(x.source)
}
