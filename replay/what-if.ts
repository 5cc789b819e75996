import type { CommandFact, DecisionFact, Fact } from '../schemas/index.js'
import type { CompiledManifest } from '../processors/scrub/index.js'
import type { DetectorConfig } from '../processors/detect/index.js'
import type { CompiledPack } from '../processors/policy/index.js'
import { ConfigSpecs } from './configs.js'
import { DiffStatus, type FactDiff } from './compare.js'
import { ReplayError, ReplayErrorCode } from './errors.js'

export type WhatIfConfig =
  | { readonly kind: 'policy'; readonly path: string; readonly value: CompiledPack }
  | { readonly kind: 'detectors'; readonly path: string; readonly value: DetectorConfig }
  | { readonly kind: 'manifest'; readonly path: string; readonly value: CompiledManifest }

/**
 * Tells what a `--what-if` file is by trying each loader in turn (policy pack, detector
 * config, redaction manifest): the first that accepts it wins. The loaders are strict (unknown
 * fields refused), so a file is rarely two kinds; when none accepts it, every loader's reason
 * is given.
 */
export function loadWhatIf(path: string, text: string): WhatIfConfig {
  const tries: Array<[WhatIfConfig['kind'], () => { ok: true; value: unknown } | { ok: false; error: { message: string } }]> = [
    ['policy', () => ConfigSpecs.policy.load(text)],
    ['detectors', () => ConfigSpecs.detect.load(text)],
    ['manifest', () => ConfigSpecs.scrub.load(text)],
  ]
  const reasons: string[] = []
  for (const [kind, load] of tries) {
    let r
    try {
      r = load()
    } catch (err) {
      r = { ok: false as const, error: { message: (err as Error).message } }
    }
    if (r.ok) return { kind, path, value: r.value } as WhatIfConfig
    reasons.push(`as a ${kind === 'policy' ? 'policy pack' : kind === 'detectors' ? 'detector config' : 'redaction manifest'}: ${r.error.message.split('\n')[0]}`)
  }
  throw new ReplayError(ReplayErrorCode.BadWhatIf, `${path} is not a policy pack, a detector config or a redaction manifest:\n  ${reasons.join('\n  ')}`)
}

/** One decision or command that would have been different. */
export interface WhatIfChange {
  readonly status: 'added' | 'removed' | 'changed'
  readonly kind: 'decision' | 'command'
  readonly id: string
  readonly source: string
  readonly ts: number
  /** The input it was made from (lineage[0]). */
  readonly input: string
  readonly recorded?: Summary
  readonly whatIf?: Summary
  /** For `changed`: the fields that differ. */
  readonly fields: readonly string[]
}

export interface Summary {
  /** Decisions: outcome; commands: status. */
  readonly outcome: string
  readonly rule?: string
  readonly verb?: string
  readonly target?: string
  readonly args?: string
  readonly suppressed?: number
  readonly blocked?: string
  readonly explain: string
}

export interface WhatIfReport {
  readonly kind: WhatIfConfig['kind']
  readonly path: string
  readonly changes: readonly WhatIfChange[]
  /** Other facts (anomalies, scrubbed facts, incidents) that differ, by kind. */
  readonly otherDifferences: Readonly<Record<string, number>>
}

function summary(f: Fact | undefined): Summary | undefined {
  if (!f) return undefined
  if (f.kind === 'decision') {
    const p = (f as DecisionFact).payload
    const blocked = p.limits.filter((l) => !l.allowed).map((l) => `${l.name}: ${l.detail}`)
    return {
      outcome: p.outcome,
      rule: p.rule,
      verb: p.command?.verb,
      target: p.command?.target,
      args: p.command?.args,
      suppressed: p.suppressed,
      blocked: blocked.length ? blocked.join('; ') : undefined,
      explain: f.explain ?? '',
    }
  }
  if (f.kind === 'command') {
    const p = (f as CommandFact).payload
    return { outcome: p.status, verb: p.verb, target: p.target, args: p.args, explain: f.explain ?? '' }
  }
  return undefined
}

/** The decisions and commands that differ, from the comparison's diffs. */
export function whatIfReport(cfg: WhatIfConfig, diffs: readonly FactDiff[]): WhatIfReport {
  const changes: WhatIfChange[] = []
  const other: Record<string, number> = {}
  for (const d of diffs) {
    if (d.kind !== 'decision' && d.kind !== 'command') {
      other[d.kind] = (other[d.kind] ?? 0) + 1
      continue
    }
    const f = d.rebuilt ?? d.recorded
    changes.push({
      status: d.status === DiffStatus.Extra ? 'added' : d.status === DiffStatus.Missing ? 'removed' : 'changed',
      kind: d.kind,
      id: d.id,
      source: d.source,
      ts: d.ts,
      input: f?.lineage[0] ?? '',
      recorded: summary(d.recorded),
      whatIf: summary(d.rebuilt),
      fields: d.fields.map((x) => x.path),
    })
  }
  changes.sort((a, b) => a.ts - b.ts || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) || (a.id < b.id ? -1 : 1))
  return { kind: cfg.kind, path: cfg.path, changes, otherDifferences: other }
}
