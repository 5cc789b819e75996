import { SEVERITY_ORDER, type Severity } from '../../schemas/index.js'
import type { IncidentConfig } from './config.js'
import { capital, iso, listText, span } from './describe.js'
import { entityText } from './entity.js'
import type { OpenIncident } from './state.js'

const SEVERITY_BY_RANK: readonly Severity[] = (Object.keys(SEVERITY_ORDER) as Severity[]).sort((a, b) => SEVERITY_ORDER[a] - SEVERITY_ORDER[b])

/** The incident's severity: the highest seen; `low` while only commands and acks were seen. */
export const severityName = (rank: number): Severity => SEVERITY_BY_RANK[rank] ?? 'low'

/** How a fact found its incident. */
export type Via = { readonly kind: 'link'; readonly id: string } | { readonly kind: 'entity' } | { readonly kind: 'source' }

/** A short plain sentence: `Critical edr.exec alert and cpu.load anomaly on web-3 (job batch-7); throttle_job executed.` */
export function titleOf(inc: OpenIncident): string {
  const sev = capital(severityName(inc.rank))
  const what = inc.signals.length > 0 ? `${listText(inc.moreSignals ? [...inc.signals, 'more'] : inc.signals)}` : 'incident'
  return `${sev} ${what} on ${entityText(inc.entity)}${inc.action ? `; ${inc.action}` : ''}.`
}

const kept = (inc: OpenIncident): string => (inc.count > inc.factIds.length ? ` (${inc.factIds.length} of its ${inc.count} fact ids are kept)` : '')

function viaText(via: Via, source: string): string {
  switch (via.kind) {
    case 'link':
      return `linked through fact ${via.id}`
    case 'entity':
      return 'same entity'
    case 'source':
      return `no lineage link; the most recently active incident on ${source}`
    default: {
      const never: never = via
      return String(never)
    }
  }
}

export function openedExplain(inc: OpenIncident, what: string, ts: number, via: Via, c: IncidentConfig): string {
  const linked = via.kind === 'link' ? `, linked through fact ${via.id} to an incident that had already resolved` : ''
  return (
    `${capital(what)} opened incident ${inc.id} for ${entityText(inc.entity)} at ${iso(ts)}${linked}; severity ${severityName(inc.rank)}. ` +
    `It resolves once the stage sees a fact more than ${c.quietText} after its last activity, or more than ${c.maxDurationText} after it opened.`
  )
}

export function updatedExplain(inc: OpenIncident, what: string, ts: number, via: Via, prevRank: number): string {
  const raised = inc.rank > prevRank ? `, raised from ${severityName(prevRank)}` : ''
  return `${capital(what)} at ${iso(ts)} joined incident ${inc.id} for ${entityText(inc.entity)} (${viaText(via, String(inc.entity.source))}); now ${inc.count} facts${kept(inc)}, severity ${severityName(inc.rank)}${raised}.`
}

export const ResolveReason = { Quiet: 'quiet', MaxDuration: 'max-duration', Capacity: 'capacity' } as const
export type ResolveReason = (typeof ResolveReason)[keyof typeof ResolveReason]

export function resolvedExplain(inc: OpenIncident, at: number, reason: ResolveReason, watermark: number, triggerId: string, c: IncidentConfig): string {
  const head = `Incident ${inc.id} for ${entityText(inc.entity)}`
  const tail = `It lasted ${span(at - inc.openedAt)} with ${inc.count} facts${kept(inc)}, highest severity ${severityName(inc.rank)}.`
  const seen = `event time had reached ${iso(watermark)} when fact ${triggerId} arrived`
  switch (reason) {
    case ResolveReason.Quiet:
      return `${head} resolved at ${iso(at)}: nothing new for ${c.quietText} after its last activity at ${iso(inc.lastActivity)} (${seen}). ${tail}`
    case ResolveReason.MaxDuration:
      return `${head} resolved at ${iso(at)}: it had been open for the maximum of ${c.maxDurationText} (${seen}); later facts about it open a new incident. ${tail}`
    case ResolveReason.Capacity:
      return `${head} resolved early at ${iso(at)}: ${c.maxOpen} incidents were open and this one had been quiet the longest (last activity ${iso(inc.lastActivity)}); later facts about it open a new incident. ${tail}`
    default: {
      const never: never = reason
      return `${head} resolved (${String(never)}).`
    }
  }
}
