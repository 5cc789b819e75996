import { appendFileSync } from 'node:fs'
import type { Fact } from '../../schemas/index.js'

/**
 * A per-hop trace of the alert lane (issue 8, bench:latency's flood): with `BEN_ALERT_TRACE` set
 * to a file, every urgent input's arrival in a stage, the publishing of its derived facts and
 * their PubAcks are appended to it as `<ms> <hop> <stage> <alert id>` lines (the alert id is the
 * raw alert's: the fact's own, or the first of its lineage). The bench's feed writes the publish
 * and its PubAck, and bench/alert-trace.ts turns the file into a per-hop breakdown. Off (no cost
 * beyond one test) when the variable is unset; an alert lane carries a few facts a second.
 */
const FILE = process.env.BEN_ALERT_TRACE

export const alertTraceOn = FILE !== undefined && FILE !== ''

/** Appends one trace line (sync: a few a second, and the order of lines is the order of events). */
export function traceAlert(hop: string, stage: string, fact: Pick<Fact, 'id' | 'lineage'>, at = Date.now()): void {
  if (!alertTraceOn) return
  appendFileSync(FILE!, `${at} ${hop} ${stage} ${alertIdOf(fact)}\n`)
}

/** The raw alert a fact of the alert lane comes from: itself (raw) or the first of its lineage (scrubbed). */
export const alertIdOf = (fact: Pick<Fact, 'id' | 'lineage'>): string => (fact.lineage.length ? fact.lineage[0] : fact.id)
