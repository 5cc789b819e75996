import type { Fact, IncidentFact } from '../../schemas/index.js'

const ORDER: Readonly<Record<string, number>> = { alert: 0, anomaly: 1, decision: 2, command: 3, ack: 4, incident: 5 }
const NARRATED = new Set(['alert', 'anomaly', 'decision', 'command', 'ack'])

/** Event time, then kind (alert, anomaly, decision, command, ack, incident), then id. */
export function byTime(a: Fact, b: Fact): number {
  return a.ts - b.ts || (ORDER[a.kind] ?? 9) - (ORDER[b.kind] ?? 9) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/** The ids a fact points at: its lineage, a command's decision, an ack's command (by commandId). */
function refsOf(f: Fact): string[] {
  const refs = Array.isArray(f.lineage) ? f.lineage.filter((x): x is string => typeof x === 'string') : []
  const p = f.payload as unknown as Record<string, unknown> | null
  if (p && f.kind === 'command') {
    const d = str(p.decisionId)
    if (d) refs.push(d)
  }
  if (p && f.kind === 'ack') {
    const c = str(p.commandId)
    if (c) refs.push(`cmd:${c}`)
  }
  return refs
}

/** The names under which other facts point at `f`: its id, and a command's `cmd:<commandId>`. */
function namesOf(f: Fact): string[] {
  const p = f.payload as unknown as Record<string, unknown> | null
  const c = f.kind === 'command' && p ? str(p.commandId) : undefined
  return c ? [f.id, `cmd:${c}`] : [f.id]
}

/**
 * The facts that belong to an incident, in event-time order: the ids in `factIds`, the incident's
 * own transition facts, and every anomaly, alert, decision, command or ack reachable from those
 * through lineage, a command's decisionId or an ack's commandId (both ways). So a narrative stays
 * complete when `factIds` was bounded, and unrelated facts in `facts` are ignored. The first
 * fact with a given id wins; ids are expected to be unique.
 */
export function incidentFacts(facts: readonly Fact[], incident: IncidentFact): Fact[] {
  const sorted = facts.filter((f) => f !== null && typeof f === 'object' && typeof f.id === 'string' && typeof f.ts === 'number').sort(byTime)
  const byId = new Map<string, Fact>()
  for (const f of sorted) if (!byId.has(f.id)) byId.set(f.id, f)
  if (!byId.has(incident.id)) byId.set(incident.id, incident)

  const named = new Map<string, Fact[]>()
  const pointing = new Map<string, Fact[]>()
  const push = (m: Map<string, Fact[]>, k: string, f: Fact) => {
    const xs = m.get(k)
    if (xs) xs.push(f)
    else m.set(k, [f])
  }
  for (const f of byId.values()) {
    if (!NARRATED.has(f.kind)) continue
    for (const n of namesOf(f)) push(named, n, f)
    for (const r of refsOf(f)) push(pointing, r, f)
  }

  const members = new Set<Fact>()
  const work: Fact[] = []
  const add = (f: Fact | undefined) => {
    if (f && !members.has(f)) {
      members.add(f)
      work.push(f)
    }
  }
  const incidentId = incident.payload.incidentId
  for (const f of byId.values()) if (f.kind === 'incident' && (f as IncidentFact).payload?.incidentId === incidentId) members.add(f)
  for (const id of incident.payload.factIds ?? []) {
    const f = byId.get(id)
    if (f && NARRATED.has(f.kind)) add(f)
  }
  while (work.length > 0) {
    const f = work.pop() as Fact
    for (const r of refsOf(f)) for (const g of named.get(r) ?? []) add(g)
    for (const n of namesOf(f)) for (const g of pointing.get(n) ?? []) add(g)
  }
  return [...members].sort(byTime)
}
