import type { OperatorFunction } from 'rxjs'
import { derivedId, RejectReason, shown, type AlertFact, type AnomalyFact, type DecisionFact, type Fact, type Labels } from '../../schemas/index.js'
import { runStage, type Emission, type Stage, type StepResult, type Versioned } from '../stage.js'
import { decide } from './decide.js'
import { explainDecision } from './explain.js'
import { firstMatchingRule } from './match.js'
import type { CompiledPack } from './pack.js'
import { deserializePolicyState, initialPolicyState, prune, PRUNE_EVERY, type PolicyState } from './state.js'
import { sget, sset } from './sharded.js'
import { viewOf } from './view.js'

export const POLICY_STAGE = 'policy'
export const POLICY_VERSION = '1'
const PRODUCER = `${POLICY_STAGE}@${POLICY_VERSION}`

export type PolicyInput = AnomalyFact | AlertFact

let lastConfig: Versioned<unknown> | undefined
let lastRecord: Readonly<Record<string, number>> = {}
/** `{ [bucket]: revision }`, built once per config object rather than per fact. */
function configRecord(c: Versioned<unknown>): Readonly<Record<string, number>> {
  if (c !== lastConfig) {
    lastConfig = c
    lastRecord = Object.freeze({ [c.bucket]: c.revision })
  }
  return lastRecord
}

function mergeLabels(a: Labels, b: Readonly<Record<string, string>>): Labels {
  for (const _ in b) return { ...a, ...b }
  return a
}

function step(state: PolicyState, input: PolicyInput, config: Versioned<CompiledPack>): StepResult<PolicyState> {
  const v = viewOf(input)
  if (!v.ok)
    return { state, out: [], rejected: { reason: RejectReason.Invalid, message: `policy cannot evaluate fact ${shown((input as { id?: unknown } | null)?.id)}: ${v.error}` } }
  const f = v.value
  const pack = config.value
  // The same fact again (a copy stored after JetStream's duplicate window): already decided.
  if (sget(state.seen, input.id) !== undefined) return { state: { ...state, duplicates: state.duplicates + 1 }, out: [] }
  let s: PolicyState = {
    ...state,
    steps: state.steps + 1,
    watermark: input.ts > state.watermark ? input.ts : state.watermark,
    seen: sset(state.seen, input.id, input.ts),
  }
  if (s.steps % PRUNE_EVERY === 0) s = prune(s, pack)

  let rule = firstMatchingRule(pack.rules, f)
  if (rule === undefined) {
    if (pack.unmatched === 'ignore') return { state: { ...s, unmatched: s.unmatched + 1 }, out: [] }
    rule = pack.defaultRule
  }
  const id = derivedId(POLICY_STAGE, POLICY_VERSION, config.revision, [input.id])
  const { state: next, decided } = decide(s, pack, rule, f, input.ts, id)
  const fact: DecisionFact = {
    id,
    ts: input.ts,
    source: input.source,
    lane: 'anomaly',
    kind: 'decision',
    payload: {
      outcome: decided.outcome,
      rule: rule.name,
      pack: pack.name,
      packRevision: config.revision,
      severity: rule.severity ?? f.severity,
      command: decided.command,
      limits: decided.limits,
      suppressed: decided.suppressed,
      reason: decided.reason,
      labels: mergeLabels(f.labels, rule.extraLabels),
    },
    lineage: [input.id],
    producer: PRODUCER,
    config: configRecord(config),
    explain: explainDecision(f, rule, pack.name, config.revision, decided),
  }
  return { state: next, out: [fact] }
}

/**
 * The policy stage: anomaly and alert facts in, decision facts out (DESIGN: subject
 * `ben.decision.<outcome>.<source>`). First matching rule wins; see README.md for the order of
 * the limit checks. A fact that matches no rule yields no decision under `unmatched: ignore`
 * (counted in `state.unmatched`) and an `alert` decision by rule `(default)` under
 * `unmatched: alert`. Limits and suppression survive pack reloads (state is keyed by rule name).
 */
export const policyStage: Stage<PolicyState, CompiledPack, PolicyInput> = {
  name: POLICY_STAGE,
  version: POLICY_VERSION,
  initialState: initialPolicyState,
  accepts: (fact: Fact): fact is PolicyInput => fact.kind === 'anomaly' || fact.kind === 'alert',
  step,
  serialize: (s) => s,
  deserialize: deserializePolicyState,
}

/** The policy stage as an operator; `pack()` is read at every fact (hot-reloaded by the runner). */
export function policy(pack: () => Versioned<CompiledPack>, initial?: PolicyState): OperatorFunction<PolicyInput, Emission<PolicyInput>> {
  return runStage(policyStage, pack, initial)
}
