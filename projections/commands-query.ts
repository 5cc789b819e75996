import type { RunQuery } from './incident-report.js'
import { sqlString } from './projector.js'

/** A command waiting for an operator, as the `commands` projection shows it. */
export interface Proposal {
  readonly commandId: string
  readonly ts: number
  readonly target: string
  readonly verb: string
  readonly args: string
  readonly expiresAt: number
  readonly decisionId: string
  readonly explain: string
}

/** Proposed commands with no approval or rejection yet, newest first. */
export async function pendingProposals(run: RunQuery, limit = 100): Promise<Proposal[]> {
  const r = await run(
    `SELECT command_id, toUnixTimestamp64Milli(ts), target, verb, args, toUnixTimestamp64Milli(expires_at), decision_id, explain FROM commands ` +
      `WHERE status = 'proposed' AND command_id NOT IN (SELECT command_id FROM commands WHERE status IN ('approved', 'rejected')) ORDER BY ts DESC LIMIT ${Math.max(1, Math.floor(limit))}`,
  )
  return r.rows.map(([commandId, ts, target, verb, args, expiresAt, decisionId, explain]) => ({
    commandId: String(commandId),
    ts: Number(ts),
    target: String(target),
    verb: String(verb),
    args: String(args),
    expiresAt: Number(expiresAt),
    decisionId: String(decisionId),
    explain: String(explain),
  }))
}

/** One row of `commands`: a proposal, approval or rejection of a command, with its Avro. */
export interface CommandRow {
  readonly commandId: string
  readonly schemaFp: string
  readonly avro: string
  readonly status: string
  readonly ts: number
}

/** Every row of the commands whose id starts with `idPrefix`, oldest first. */
export async function commandRows(run: RunQuery, idPrefix: string): Promise<CommandRow[]> {
  const r = await run(`SELECT command_id, schema_fp, avro, status, toUnixTimestamp64Milli(ts) FROM commands WHERE startsWith(command_id, ${sqlString(idPrefix)}) ORDER BY ts`)
  return r.rows.map(([commandId, schemaFp, avro, status, ts]) => ({
    commandId: String(commandId),
    schemaFp: String(schemaFp),
    avro: String(avro),
    status: String(status),
    ts: Number(ts),
  }))
}

/** One row of `acks`: what a target answered to a command. */
export interface AckRow {
  readonly status: string
  readonly reason: string
  readonly ts: number
}

/** The acks of one command, oldest first. */
export async function commandAcks(run: RunQuery, commandId: string): Promise<AckRow[]> {
  const r = await run(`SELECT status, reason, toUnixTimestamp64Milli(ts) FROM acks WHERE command_id = ${sqlString(commandId)} ORDER BY ts`)
  return r.rows.map(([status, reason, ts]) => ({ status: String(status), reason: String(reason), ts: Number(ts) }))
}
