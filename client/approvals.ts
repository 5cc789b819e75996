import { approve, reject, type KeyPair } from '../processors/act/index.js'
import { sqlString } from '../projections/index.js'
import { defaultRegistry, decodeWith, type CommandFact } from '../schemas/index.js'
import type { Ben } from './ben.js'
import { ClientError, ClientErrorCode } from './errors.js'

export type Verdict = 'approve' | 'reject'

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
export async function listProposals(ben: Ben, limit = 100): Promise<Proposal[]> {
  const r = await ben.query(
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

/** The proposal for a command id (or a unique prefix), read back from the `commands` projection. */
export async function findProposal(ben: Ben, commandId: string): Promise<CommandFact> {
  if (!/^[0-9a-f]{8,64}$/.test(commandId)) throw new ClientError(ClientErrorCode.BadOption, `'${commandId}' is not a command id (hex digits, as printed in decisions and \`ben query "SELECT command_id, verb, target FROM commands WHERE status = 'proposed'"\`)`)
  const r = await ben.query(`SELECT schema_fp, avro, status FROM commands WHERE command_id LIKE ${sqlString(commandId + '%')} ORDER BY ts`)
  const rows = r.objects() as Array<{ schema_fp: string; avro: string; status: string }>
  if (rows.length === 0) throw new ClientError(ClientErrorCode.NotFound, `no command ${commandId} in the commands table (is it still being projected? try again in a second)`)
  const done = rows.find((x) => x.status === 'approved' || x.status === 'rejected')
  if (done) throw new ClientError(ClientErrorCode.AlreadyDecided, `command ${commandId} was already ${done.status}`)
  const p = rows.find((x) => x.status === 'proposed')
  if (!p) throw new ClientError(ClientErrorCode.NotFound, `command ${commandId} is not waiting for approval (status: ${rows.map((x) => x.status).join(', ')})`)
  const d = decodeWith(defaultRegistry(), Buffer.from(p.avro, 'base64'), p.schema_fp)
  if (!d.ok) throw new ClientError(ClientErrorCode.Undecodable, `cannot read command ${commandId}: ${d.error.message}`)
  return d.value as CommandFact
}

/**
 * Approves (co-signs) or rejects a proposed command with an operator key and publishes the
 * result as a fact: what `ben approve` / `ben reject` and the console both do.
 */
export async function decideProposal(ben: Ben, commandId: string, key: KeyPair, verdict: Verdict, reason = '', now = Date.now()): Promise<{ proposal: CommandFact; fact: CommandFact }> {
  if (key.role !== 'operator') throw new ClientError(ClientErrorCode.BadOption, `key ${key.keyId} is a ${key.role} key; approving and rejecting need an operator key (ben keys generate --role operator --register)`)
  if (verdict === 'reject' && !reason.trim()) throw new ClientError(ClientErrorCode.BadOption, 'a rejection needs a reason (it is recorded in the rejection fact)')
  const proposal = await findProposal(ben, commandId)
  const r = verdict === 'approve' ? approve(proposal, key, now) : reject(proposal, key, now, reason)
  if (!r.ok) throw new ClientError(ClientErrorCode.Refused, r.error.message)
  const s = await ben.publish([r.value])
  if (s.failed) throw new ClientError(ClientErrorCode.PublishFailed, `could not publish the ${verdict === 'approve' ? 'approval' : 'rejection'}: ${s.failures[0]?.error}`)
  return { proposal, fact: r.value }
}
