import { approve, reject, type KeyPair, readKey } from '../keys/index.js'
import { commandAcks, commandRows, pendingProposals, type Proposal } from '../projections/index.js'
import { defaultRegistry, decodeWith, type CommandFact } from '../schemas/index.js'
import { Bucket, kvName, openBucket } from '../streams/index.js'
import type { Ben } from './ben.js'
import { ClientError, ClientErrorCode } from './errors.js'

export type Verdict = 'approve' | 'reject'

export type { Proposal }

/** Proposed commands with no approval or rejection yet, newest first. */
export async function listProposals(ben: Ben, limit = 100): Promise<Proposal[]> {
  return pendingProposals((sql) => ben.query(sql), limit)
}

/**
 * The proposal for a command id (or a unique prefix of one), read back from the `commands`
 * projection, and which attempt an approval of it would be. A proposal stays approvable after
 * a target refused its approval (an unregistered or revoked operator key, say); it is done once
 * a target executed it, while an approval still waits for its ack, and once it was rejected.
 */
export async function findProposal(ben: Ben, commandId: string): Promise<{ fact: CommandFact; attempt: number; refusedBefore?: string }> {
  if (!/^[0-9a-f]{4,64}$/.test(commandId))
    throw new ClientError(
      ClientErrorCode.BadOption,
      `'${oneLine(commandId)}' is not a command id (hex digits, at least 4, as \`ben up\` prints them, or \`ben query "SELECT command_id, verb, target FROM commands WHERE status = 'proposed'"\`)`,
    )
  const run = (sql: string) => ben.query(sql)
  const rows = await commandRows(run, commandId)
  if (rows.length === 0) throw new ClientError(ClientErrorCode.NotFound, `no command ${commandId} in the commands table (is it still being projected? try again in a second)`)
  const ids = [...new Set(rows.map((x) => x.commandId))]
  if (ids.length > 1)
    throw new ClientError(ClientErrorCode.Ambiguous, `'${commandId}' names ${ids.length} commands (${ids.map((i) => i.slice(0, 12)).join(', ')}): give more digits`)
  const id = ids[0]
  if (rows.some((x) => x.status === 'rejected')) throw new ClientError(ClientErrorCode.AlreadyDecided, `command ${id} was already rejected`)
  const p = rows.find((x) => x.status === 'proposed')
  if (!p) throw new ClientError(ClientErrorCode.NotFound, `command ${id} is not waiting for approval (status: ${rows.map((x) => x.status).join(', ')})`)
  const approvals = rows.filter((x) => x.status === 'approved')
  let refusedBefore: string | undefined
  if (approvals.length) {
    const acks = await commandAcks(run, id)
    if (acks.some((a) => a.status === 'executed')) throw new ClientError(ClientErrorCode.AlreadyDecided, `command ${id} was already approved and executed`)
    const lastApproval = Math.max(...approvals.map((a) => a.ts))
    const after = acks.filter((a) => a.ts >= lastApproval)
    if (after.length === 0)
      throw new ClientError(
        ClientErrorCode.AlreadyDecided,
        `command ${id} was already approved; its target has not answered yet (\`ben query "SELECT status, reason FROM acks WHERE command_id = '${id}'"\`)`,
      )
    refusedBefore = oneLine(after[after.length - 1].reason || after[after.length - 1].status)
  }
  const d = decodeWith(defaultRegistry(), Buffer.from(p.avro, 'base64'), p.schemaFp)
  if (!d.ok) throw new ClientError(ClientErrorCode.Undecodable, `cannot read command ${id}: ${d.error.message}`)
  return { fact: d.value as CommandFact, attempt: approvals.length, ...(refusedBefore ? { refusedBefore } : {}) }
}

/**
 * Approves (co-signs) or rejects a proposed command with an operator key and publishes the
 * result as a fact: what `ben approve` / `ben reject` and the console both do. Targets refuse a
 * key that ben-keys does not trust, so that is checked before anything is signed.
 */
export async function decideProposal(
  ben: Ben,
  commandId: string,
  key: KeyPair,
  verdict: Verdict,
  reason = '',
  now = Date.now(),
  keyName = 'operator',
): Promise<{ proposal: CommandFact; fact: CommandFact; refusedBefore?: string }> {
  if (key.role !== 'operator')
    throw new ClientError(ClientErrorCode.BadOption, `key ${key.keyId} is a ${key.role} key; approving and rejecting need an operator key (ben keys generate --role operator)`)
  if (verdict === 'reject' && !reason.trim()) throw new ClientError(ClientErrorCode.BadOption, 'a rejection needs a reason (it is recorded in the rejection fact)')
  const trusted = await readKey(await openBucket(ben.nc, kvName({}, Bucket.Keys)), key.keyId)
  if (!trusted)
    throw new ClientError(
      ClientErrorCode.BadOption,
      `operator key '${keyName}' (${key.keyId}) is not registered, so targets would refuse it: \`ben keys register --name ${keyName}\` first`,
    )
  if (trusted.revokedAt !== null && trusted.revokedAt <= now)
    throw new ClientError(
      ClientErrorCode.BadOption,
      `operator key '${keyName}' (${key.keyId}) was revoked at ${new Date(trusted.revokedAt).toISOString()}: use another operator key`,
    )
  const found = await findProposal(ben, commandId)
  const r = verdict === 'approve' ? approve(found.fact, key, now, found.attempt) : reject(found.fact, key, now, reason)
  if (!r.ok) throw new ClientError(ClientErrorCode.Refused, r.error.message)
  const s = await ben.publish([r.value])
  if (s.failed) throw new ClientError(ClientErrorCode.PublishFailed, `could not publish the ${verdict === 'approve' ? 'approval' : 'rejection'}: ${s.failures[0]?.error}`)
  return { proposal: found.fact, fact: r.value, ...(found.refusedBefore ? { refusedBefore: found.refusedBefore } : {}) }
}

/** One line with control bytes shown as `\xNN`: ids and reasons come from outside. */
function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}
