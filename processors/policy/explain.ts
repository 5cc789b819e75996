import type { Decided } from './decide.js'
import type { CompiledRule } from './pack.js'
import type { FactView } from './view.js'

const article = (s: string): string => (/^[aeiou]/.test(s) ? 'an' : 'a')

function seen(f: FactView): string {
  if (f.kind === 'anomaly') {
    const by = f.detectors.length ? `, flagged by ${f.detectors.join(', ')}` : ''
    return `${article(f.severity)} ${f.severity} anomaly on ${f.metric} at ${f.source} (score ${f.score?.toFixed(2)}${by})`
  }
  return `${article(f.severity)} ${f.severity} alert '${f.rule}' from ${f.source}`
}

const doing = (d: Decided): string => {
  switch (d.outcome) {
    case 'ignore':
      return 'ignore it'
    case 'alert':
      return 'raise an alert'
    case 'propose':
      return d.command ? `propose ${d.command.verb} on ${d.command.target} for a human to approve` : 'propose a command'
    case 'act':
      return d.command ? `act: ${d.command.verb} on ${d.command.target}` : 'act'
    default:
      return d.outcome
  }
}

/** The decision in one plain-language paragraph: what was seen, which rule, what and why. */
export function explainDecision(f: FactView, rule: CompiledRule, packName: string, revision: number, d: Decided): string {
  const head = `Saw ${seen(f)}; rule '${rule.name}' of pack '${packName}' (revision ${revision})`
  if (d.foldedInto !== null) {
    const lim = d.limits[d.limits.length - 1]
    return `${head} matched again: this is ${lim.detail}, so it is folded into that decision (outcome ${d.outcome}, ${d.suppressed} repeat${d.suppressed === 1 ? '' : 's'} so far) and no new alert or command is made.`
  }
  const checks = d.limits.length ? ` Checks: ${d.limits.map((l) => `${l.name} ${l.allowed ? 'ok' : 'BLOCKED'} (${l.detail})`).join('; ')}.` : ''
  if (d.outcome !== d.wanted) {
    return `${head} asked to ${d.wanted}${d.command ? ` ${d.command.verb} on ${d.command.target}` : ''}, but a check refused it, so the decision is to ${doing(d)} instead.${checks}`
  }
  const args = d.command ? ` with arguments ${d.command.args}` : ''
  const human = rule.outcome === 'act' && d.wanted === 'propose' ? ' (the pack says this verb needs a human, so it is proposed rather than done)' : ''
  return `${head} decided to ${doing(d)}${args}${human}.${checks}`
}
