import type { AckFact, AlertFact, AnomalyFact, CommandFact, DecisionFact, Fact } from '../../schemas/index.js'
import { clip, fmt, iso, listText, short } from './describe.js'
import type { Block, NarrativeSentence } from './markdown.js'

/** Sentence builders for the narrative's sections. Pure; tolerant of missing fields. */

const say = (text: string, factIds: string[]): NarrativeSentence => ({ text, factIds })
/** Ends free text with a full stop unless it already ends a sentence. */
const stop = (t: string): string => (/[.!?…]$/.test(t) ? t : `${t}.`)
const str = (v: unknown, d = '?'): string => (typeof v === 'string' ? v : d)
const num = (v: unknown): number => (typeof v === 'number' ? v : NaN)

function labelText(labels: unknown): string {
  if (labels === null || typeof labels !== 'object') return ''
  const keys = Object.keys(labels).sort()
  return keys.map((k) => `${k}=${String((labels as Record<string, unknown>)[k])}`).join(', ')
}

/** Ids among `ids` that are present in the input (a sentence cites only what it was given). */
const present = (ids: readonly string[], known: ReadonlySet<string>): string[] => ids.filter((id) => known.has(id))

export function seenAnomaly(f: AnomalyFact): Block {
  const p = f.payload
  const labels = labelText(p.labels)
  const b = p.baseline ?? { centre: NaN, spread: NaN }
  const out = [
    say(
      `At ${iso(f.ts)}, ${str(p.metric)} on ${f.source}${labels ? ` (${labels})` : ''} was ${fmt(num(p.value))} against a baseline of ${fmt(num(b.centre))} ± ${fmt(num(b.spread))}: score ${fmt(num(p.score))} (threshold ${fmt(num(p.threshold))}), severity ${str(p.severity)}.`,
      [f.id],
    ),
  ]
  const ds = Array.isArray(p.detectors) ? p.detectors : []
  if (ds.length > 0) {
    const parts = ds.map(
      (d) => `${str(d?.name)} ${fmt(num(d?.raw))} against ${fmt(num(d?.threshold))} (score ${fmt(num(d?.score))}${num(d?.raw) >= num(d?.threshold) ? ', fired' : ''})`,
    )
    out.push(say(`Detectors: ${parts.join('; ')}.`, [f.id]))
  }
  if (typeof f.explain === 'string' && f.explain.trim()) out.push(say(`The detector said: “${clip(f.explain, 400)}”`, [f.id]))
  return out
}

export function seenAlert(f: AlertFact): Block {
  const p = f.payload
  const out = [say(`At ${iso(f.ts)}, ${f.source} raised alert ${str(p.rule)} (${str(p.severity)}): ${stop(clip(str(p.message, ''), 300))}`, [f.id])]
  const attrs = labelText(p.attrs)
  if (attrs) out.push(say(`Attributes: ${attrs}.`, [f.id]))
  return out
}

export function decided(d: DecisionFact, known: ReadonlySet<string>, kinds: ReadonlyMap<string, string>): Block {
  const p = d.payload
  const c = p.command
  const basis = present(Array.isArray(d.lineage) ? d.lineage : [], known)
  const on = basis.length > 0 ? `, on ${listText(basis.map((id) => `${kinds.get(id) ?? 'fact'} ${short(id)}`))}` : ''
  const out = [
    say(
      `At ${iso(d.ts)}, rule '${str(p.rule)}' of pack '${str(p.pack)}' at revision ${String(p.packRevision)} decided ${str(p.outcome)}${c ? `: ${str(c.verb)} on ${str(c.target)} with ${str(c.args)}` : ''} (severity ${str(p.severity)})${on}.`,
      [d.id, ...basis],
    ),
  ]
  if (typeof p.reason === 'string' && p.reason.trim()) out.push(say(`Reason: ${stop(clip(p.reason, 400))}`, [d.id]))
  const limits = Array.isArray(p.limits) ? p.limits : []
  if (limits.length > 0) {
    out.push(say(`Limits: ${limits.map((l) => `${str(l?.name)} ${l?.allowed ? 'allowed' : 'blocked'} (${clip(str(l?.detail, ''), 300)})`).join('; ')}.`, [d.id]))
  }
  return out
}

/** Suppressed repeats, one block per rule, pack and revision. */
export function suppressedRepeats(ds: readonly DecisionFact[]): Block[] {
  const groups = new Map<string, DecisionFact[]>()
  for (const d of ds) {
    const k = `${str(d.payload.rule)}\u0000${str(d.payload.pack)}\u0000${String(d.payload.packRevision)}`
    const g = groups.get(k)
    if (g) g.push(d)
    else groups.set(k, [d])
  }
  return [...groups.values()].map((g) => {
    const p = g[0].payload
    const max = Math.max(...g.map((d) => num(d.payload.suppressed)))
    const n = g.length
    const when = n === 1 ? `at ${iso(g[0].ts)}` : `between ${iso(g[0].ts)} and ${iso(g[n - 1].ts)}`
    return [
      say(
        `${n} ${n === 1 ? 'repeat' : 'repeats'} of rule '${str(p.rule)}' (pack '${str(p.pack)}', revision ${String(p.packRevision)}) ${n === 1 ? 'was' : 'were'} suppressed ${when}, up to suppressed count ${fmt(max)}; no new command came of them.`,
        g.map((d) => d.id),
      ),
    ]
  })
}

function signaturesText(c: CommandFact): string {
  const sigs = Array.isArray(c.payload.signatures) ? c.payload.signatures : []
  return sigs.map((s) => `${str(s?.role)} key ${str(s?.keyId)}`).join(', ')
}

export function done(c: CommandFact, known: ReadonlySet<string>): Block {
  const p = c.payload
  const ids = [c.id, ...present([str(p.decisionId, '')], known)]
  const what = `command ${str(p.commandId)} (${str(p.verb)} on ${str(p.target)} with ${str(p.args)})`
  const sigs = signaturesText(c)
  const at = `At ${iso(c.ts)}, ${what}`
  let text: string
  switch (p.status) {
    case 'issued':
      text = `${at} was issued for decision ${short(str(p.decisionId))}: signed by issuer key ${str(p.keyId)}, valid until ${iso(num(p.expiresAt))}.`
      break
    case 'proposed':
      text = `${at} was proposed for decision ${short(str(p.decisionId))}: signed by issuer key ${str(p.keyId)}; it needs ${listText(Array.isArray(p.required) ? p.required.map(String) : [])} signatures and waits for an operator until ${iso(num(p.expiresAt))}.`
      break
    case 'approved':
      text = `${at} was approved: co-signed by ${listText((p.signatures ?? []).filter((s) => s?.role !== 'issuer').map((s) => `${str(s?.role)} key ${str(s?.keyId)}`)) || 'no operator'}; it may execute until ${iso(num(p.expiresAt))}.`
      break
    case 'rejected':
      text =
        (p.signatures ?? []).length === 0
          ? `${at} for decision ${short(str(p.decisionId))} could not be built: ${stop(clip(str(p.reason, 'no reason given'), 300))} Nothing was signed or sent.`
          : `${at} was rejected: ${stop(clip(str(p.reason, 'no reason given'), 300))} It will not execute.`
      break
    default:
      text = `${at} has status ${str(p.status)}.`
  }
  const out = [say(text, ids)]
  if (sigs) out.push(say(`Signatures: ${sigs}.`, [c.id]))
  return out
}

const ACK_WORDS: Readonly<Record<string, string>> = { executed: 'executed', refused: 'refused', failed: 'failed to execute' }

export function answered(a: AckFact, commands: readonly CommandFact[]): Block {
  const p = a.payload
  const verb = ACK_WORDS[str(p.status)] ?? `answered ${str(p.status)} to`
  const reason = typeof p.reason === 'string' && p.reason ? `: ${clip(p.reason, 300)}` : ''
  return [
    say(`At ${iso(a.ts)}, ${str(p.target)} ${verb} ${str(p.verb)} (command ${str(p.commandId)})${reason}; the answer is signed with key ${str(p.keyId)}.`, [
      a.id,
      ...commands.map((c) => c.id),
    ]),
  ]
}

export function unanswered(c: CommandFact): Block {
  return [say(`No answer from ${str(c.payload.target)} to command ${str(c.payload.commandId)} is among these facts.`, [c.id])]
}

/** One line for the timeline. */
export function timelineLine(f: Fact): string {
  const at = iso(f.ts)
  switch (f.kind) {
    case 'alert':
      return `${at}: alert ${str(f.payload.rule)} (${str(f.payload.severity)}) on ${f.source}.`
    case 'anomaly':
      return `${at}: ${str(f.payload.metric)} anomaly on ${f.source}, value ${fmt(num(f.payload.value))}, score ${fmt(num(f.payload.score))} (${str(f.payload.severity)}).`
    case 'decision': {
      const p = f.payload
      const s = num(p.suppressed) > 0 ? `, suppressed repeat ${fmt(num(p.suppressed))}` : ''
      return `${at}: rule '${str(p.rule)}' decided ${str(p.outcome)}${p.command ? ` ${str(p.command.verb)} on ${str(p.command.target)}` : ''}${s}.`
    }
    case 'command':
      return `${at}: command ${str(f.payload.verb)} on ${str(f.payload.target)} ${str(f.payload.status)}.`
    case 'ack':
      return `${at}: ${str(f.payload.target)} answered ${str(f.payload.status)} to ${str(f.payload.verb)}.`
    case 'incident':
      return `${at}: incident ${str(f.payload.transition)} (severity ${str(f.payload.severity)}).`
    default:
      return `${at}: ${String((f as Fact).kind)} fact.`
  }
}
