import type { AckFact, AlertFact, AnomalyFact, CommandFact, DecisionFact, Fact, IncidentFact } from '../../schemas/index.js'
import { iso, listText, short, span } from './describe.js'
import { entityText } from './entity.js'
import { renderMarkdown, type Block, type NarrativeSentence, type Section } from './markdown.js'
import { byTime, incidentFacts } from './members.js'
import { answered, decided, done, seenAlert, seenAnomaly, suppressedRepeats, timelineLine, unanswered } from './narrate-sections.js'

/** A deterministic plain-language account of an incident; every sentence names the facts it rests on. */
export interface Narrative {
  /** Markdown; each line cites its facts by the first 8 characters of their ids, e.g. `[1a2b3c4d]`. */
  readonly markdown: string
  /** Every sentence of the markdown, in order, with the full ids of the facts it rests on. */
  readonly sentences: NarrativeSentence[]
}

const say = (text: string, factIds: string[]): NarrativeSentence => ({ text, factIds })
const TRANSITION_ORDER: Readonly<Record<string, number>> = { opened: 0, updated: 1, resolved: 2 }
const PLURAL: Readonly<Record<string, [string, string]>> = {
  alert: ['alert', 'alerts'],
  anomaly: ['anomaly', 'anomalies'],
  decision: ['decision', 'decisions'],
  command: ['command fact', 'command facts'],
  ack: ['ack', 'acks'],
}
const SEVERITY_RANK: Readonly<Record<string, number>> = { low: 0, medium: 1, high: 2, critical: 3 }

/** Event time, then opened < updated < resolved, then the order of the facts that caused them, then id. */
function transitionOrder(members: readonly Fact[]): (a: IncidentFact, b: IncidentFact) => number {
  const pos = new Map<string, number>()
  members.forEach((f, i) => pos.set(f.id, i))
  const cause = (t: IncidentFact): number => pos.get(Array.isArray(t.lineage) ? String(t.lineage[0]) : '') ?? -1
  return (a, b) =>
    a.ts - b.ts || (TRANSITION_ORDER[a.payload.transition] ?? 9) - (TRANSITION_ORDER[b.payload.transition] ?? 9) || cause(a) - cause(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/** Opened; each severity raise (from the signal facts themselves, in event time); updates; resolved. */
function lifecycle(transitions: readonly IncidentFact[], signals: readonly Fact[], final: IncidentFact, known: ReadonlySet<string>): Block[] {
  const blocks: Block[] = []
  const basis = (t: IncidentFact): string[] => [t.id, ...(Array.isArray(t.lineage) ? t.lineage.filter((id) => known.has(id)) : [])]
  const explain = (t: IncidentFact): string => (typeof t.explain === 'string' && t.explain ? ` ${t.explain}` : '')
  const opened = transitions.find((t) => t.payload.transition === 'opened')
  if (opened) blocks.push([say(`Opened at ${iso(opened.ts)}.${explain(opened)}`, basis(opened))])
  let top: string | undefined
  for (const f of signals) {
    const sev = (f.payload as { severity?: unknown }).severity
    if (typeof sev !== 'string' || SEVERITY_RANK[sev] === undefined) continue
    if (top !== undefined && SEVERITY_RANK[sev] > SEVERITY_RANK[top]) {
      const by = transitions.filter((t) => t.lineage?.[0] === f.id).map((t) => t.id)
      blocks.push([say(`At ${iso(f.ts)}, its severity rose from ${top} to ${sev} with ${f.kind} ${short(f.id)}.`, [f.id, ...by])])
    }
    if (top === undefined || SEVERITY_RANK[sev] > SEVERITY_RANK[top]) top = sev
  }
  const updates = transitions.filter((t) => t.payload.transition === 'updated')
  if (updates.length > 0) {
    const n = updates.length
    const when = n === 1 ? `at ${iso(updates[0].ts)}` : `between ${iso(updates[0].ts)} and ${iso(updates[n - 1].ts)}`
    blocks.push([
      say(
        `It was updated ${n === 1 ? 'once' : `${n} times`}, ${when}, once for each fact that joined it.`,
        updates.map((t) => t.id),
      ),
    ])
  }
  const resolved = transitions.find((t) => t.payload.transition === 'resolved')
  if (resolved) blocks.push([say(`Resolved at ${iso(resolved.ts)}.${explain(resolved)}`, basis(resolved))])
  else blocks.push([say(`It was not resolved as of ${iso(final.ts)}, its latest transition among these facts.`, [final.id])])
  return blocks
}

/**
 * Writes the narrative of `incident` from `facts` (the incident's facts, its transition facts,
 * and anything else: unrelated facts are ignored, see `incidentFacts`). Deterministic: no wall
 * clock, no randomness; times are the facts' event times in UTC ISO-8601. Never throws on
 * well-typed facts; sentences cite only ids present in `facts` or the incident fact itself.
 */
export function narrate(facts: readonly Fact[], incident: IncidentFact): Narrative {
  const members = incidentFacts(facts, incident)
  const known = new Set<string>([incident.id])
  const kinds = new Map<string, string>()
  for (const f of facts) {
    if (f === null || typeof f !== 'object' || typeof f.id !== 'string') continue
    known.add(f.id)
    if (!kinds.has(f.id)) kinds.set(f.id, f.kind)
  }
  const transitions = members.filter((f) => f.kind === 'incident') as IncidentFact[]
  if (!transitions.some((t) => t.id === incident.id)) transitions.push(incident)
  transitions.sort(transitionOrder(members))
  const resolved = transitions.find((t) => t.payload.transition === 'resolved')
  const final = resolved ?? transitions[transitions.length - 1]
  const opened = transitions.find((t) => t.payload.transition === 'opened')
  const fp = final.payload
  const signals = members.filter((f) => f.kind !== 'incident')
  const of = <K extends Fact['kind']>(k: K) => signals.filter((f) => f.kind === k) as Array<Extract<Fact, { kind: K }>>
  const alerts = of('alert') as AlertFact[]
  const anomalies = of('anomaly') as AnomalyFact[]
  const decisions = of('decision') as DecisionFact[]
  const commands = of('command') as CommandFact[]
  const acks = of('ack') as AckFact[]

  const entity = entityText(fp.entity ?? { source: final.source })
  const status = resolved
    ? `Incident ${fp.incidentId} about ${entity} opened at ${iso(fp.openedAt)} and resolved at ${iso(resolved.ts)}, after ${span(resolved.ts - fp.openedAt)}; highest severity ${fp.severity}.`
    : `Incident ${fp.incidentId} about ${entity} opened at ${iso(fp.openedAt)} and is still open, last active at ${iso(fp.updatedAt)}; highest severity ${fp.severity}.`
  const countParts = (['alert', 'anomaly', 'decision', 'command', 'ack'] as const)
    .map((k) => [k, signals.filter((f) => f.kind === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${PLURAL[k][n === 1 ? 0 : 1]}`)
  const summary: Block[] = [
    [say(String(fp.title), [final.id])],
    [
      say(status, opened && opened.id !== final.id ? [opened.id, final.id] : [final.id]),
      countParts.length > 0
        ? say(
            `It gathers ${listText(countParts)}.`,
            signals.map((f) => f.id),
          )
        : say('None of its facts are among the facts given.', [final.id]),
    ],
  ]

  const timeline: Block[] = members.filter((f) => f.kind !== 'incident' || (f as IncidentFact).payload.transition !== 'updated').map((f) => [say(timelineLine(f), [f.id])])
  const seen: Block[] = [...alerts, ...anomalies].sort(byTime).map((f) => (f.kind === 'alert' ? seenAlert(f) : seenAnomaly(f as AnomalyFact)))

  const real = decisions.filter((d) => !(typeof d.payload.suppressed === 'number' && d.payload.suppressed > 0))
  const repeats = decisions.filter((d) => typeof d.payload.suppressed === 'number' && d.payload.suppressed > 0)
  const decidedBlocks: Block[] = [...real.map((d) => decided(d, known, kinds)), ...suppressedRepeats(repeats)]
  if (decisions.length === 0) decidedBlocks.push([say('No policy decision is among the facts of this incident.', [final.id])])

  const doneBlocks: Block[] = commands.map((c) => done(c, known))
  const settled = new Set(commands.filter((c) => c.payload.status !== 'proposed').map((c) => c.payload.commandId))
  for (const c of commands) {
    if (c.payload.status === 'proposed' && !settled.has(c.payload.commandId))
      doneBlocks.push([{ text: `No operator approved or rejected command ${c.payload.commandId} among these facts.`, factIds: [c.id] }])
  }
  if (commands.length === 0 && decisions.length > 0) doneBlocks.push([say('No command was signed for this incident.', [final.id, ...real.map((d) => d.id)])])

  const answeredBlocks: Block[] = acks.map((a) =>
    answered(
      a,
      commands.filter((c) => c.payload.commandId === a.payload.commandId),
    ),
  )
  const acked = new Set(acks.map((a) => a.payload.commandId))
  for (const c of commands) if ((c.payload.status === 'issued' || c.payload.status === 'approved') && !acked.has(c.payload.commandId)) answeredBlocks.push(unanswered(c))

  const sections: Section[] = [
    { heading: '', style: 'text', blocks: summary },
    { heading: 'Timeline', style: 'list', blocks: timeline },
    { heading: 'What was seen', style: 'list', blocks: seen },
    { heading: 'What was decided', style: 'list', blocks: decidedBlocks },
    { heading: 'What was done', style: 'list', blocks: doneBlocks },
    { heading: 'What the target answered', style: 'list', blocks: answeredBlocks },
    { heading: 'Lifecycle', style: 'list', blocks: lifecycle(transitions, signals, final, known) },
  ]
  const sentences: NarrativeSentence[] = []
  for (const s of sections) for (const b of s.blocks) sentences.push(...b)
  return { markdown: renderMarkdown(`Incident ${short(String(fp.incidentId))}`, sections), sentences }
}
