import { Kvm } from '@nats-io/kv'
import type { Command } from 'commander'
import { connect, type Ben } from '../client/index.js'
import { homePaths, Keyring, readEnv, readKey } from '../infra/index.js'
import { approve, reject } from '../processors/act/index.js'
import { defaultRegistry, decodeWith, type CommandFact } from '../schemas/index.js'
import { sqlString } from '../projections/index.js'
import { Bucket, kvName } from '../streams/index.js'
import { CliError, ExitCode, oneLine } from './output.js'

interface Proposal {
  readonly fact: CommandFact
  /** Approvals made before whose release a target refused: the next one is attempt n. */
  readonly attempt: number
}

/**
 * The proposal for a command id (or a unique prefix of one), read back from the `commands`
 * projection. A proposal stays approvable after a target refused its approval (an
 * unregistered or revoked operator key, say); it is done once a target executed it, while an
 * approval still waits for its ack, and once it was rejected.
 */
async function findProposal(ben: Ben, commandId: string): Promise<Proposal> {
  if (!/^[0-9a-f]{4,64}$/.test(commandId)) throw new CliError(`'${oneLine(commandId)}' is not a command id (hex digits, at least 4, as \`ben up\` prints them, or \`ben query "SELECT command_id, verb, target FROM commands WHERE status = 'proposed'"\`)`)
  const r = await ben.query(`SELECT command_id, schema_fp, avro, status, toUnixTimestamp64Milli(ts) AS t FROM commands WHERE startsWith(command_id, ${sqlString(commandId)}) ORDER BY ts`)
  const rows = r.objects() as Array<{ command_id: string; schema_fp: string; avro: string; status: string; t: number | string }>
  if (rows.length === 0) throw new CliError(`no command ${commandId} in the commands table (is it still being projected? try again in a second)`, ExitCode.NotFound)
  const ids = [...new Set(rows.map((x) => x.command_id))]
  if (ids.length > 1) throw new CliError(`'${commandId}' names ${ids.length} commands (${ids.map((i) => i.slice(0, 12)).join(', ')}): give more digits`)
  const id = ids[0]
  if (rows.some((x) => x.status === 'rejected')) throw new CliError(`command ${id} was already rejected`)
  const p = rows.find((x) => x.status === 'proposed')
  if (!p) throw new CliError(`command ${id} is not waiting for approval (status: ${rows.map((x) => x.status).join(', ')})`)
  const approvals = rows.filter((x) => x.status === 'approved')
  if (approvals.length) {
    const acks = (await ben.query(`SELECT status, reason, toUnixTimestamp64Milli(ts) AS t FROM acks WHERE command_id = ${sqlString(id)} ORDER BY ts`)).objects() as Array<{ status: string; reason: string; t: number | string }>
    const executed = acks.find((a) => a.status === 'executed')
    if (executed) throw new CliError(`command ${id} was already approved and executed`)
    const lastApproval = Math.max(...approvals.map((a) => Number(a.t)))
    const after = acks.filter((a) => Number(a.t) >= lastApproval && a.status !== 'executed')
    if (after.length === 0) throw new CliError(`command ${id} was already approved; its target has not answered yet (\`ben query "SELECT status, reason FROM acks WHERE command_id = '${id}'"\`)`)
    process.stderr.write(`ben: the last approval of ${id.slice(0, 12)} was refused by its target (${oneLine(after[after.length - 1].reason || after[after.length - 1].status)}): approving again\n`)
  }
  const d = decodeWith(defaultRegistry(), Buffer.from(p.avro, 'base64'), p.schema_fp)
  if (!d.ok) throw new CliError(`cannot read command ${id}: ${d.error.message}`, ExitCode.Failed)
  return { fact: d.value as CommandFact, attempt: approvals.length }
}

export function registerApprove(program: Command): void {
  for (const verb of ['approve', 'reject'] as const) {
    const cmd = program
      .command(verb)
      .argument('<command-id>', 'the proposed command (its id or a unique prefix, as `ben up` prints it)')
      .description(verb === 'approve' ? 'co-sign a proposed command with an operator key and release it to its target' : 'refuse a proposed command; the refusal is a signed fact')
      .option('--key <name>', 'operator key under $BEN_HOME/keys (`ben up` makes and registers `operator` at first start)', 'operator')
    if (verb === 'reject') cmd.requiredOption('--reason <text>', 'why (recorded in the rejection fact)')
    cmd.addHelpText('after', verb === 'approve' ? `\nExamples:\n  ben approve 4be1f0c2\n  ben approve 4be1f0c2 --key alice` : `\nExamples:\n  ben reject 4be1f0c2 --reason "false positive: test fixture"`)
    cmd.action(async (commandId: string, o: { key: string; reason?: string }) => {
      if (!/^[0-9a-f]{4,64}$/.test(commandId)) throw new CliError(`'${oneLine(commandId)}' is not a command id (hex digits, at least 4, as \`ben up\` prints them)`)
      const key = new Keyring(homePaths(readEnv().home).keys).load(o.key)
      if (key.role !== 'operator') throw new CliError(`key '${o.key}' is a ${key.role} key; approving and rejecting need an operator key (ben keys generate --role operator --name ${o.key}-op)`)
      const ben = await connect()
      try {
        // Targets refuse a key that ben-keys does not trust: say so before anything is signed.
        const trusted = await readKey(await new Kvm(ben.nc).open(kvName({}, Bucket.Keys)), key.keyId)
        if (!trusted) throw new CliError(`operator key '${o.key}' (${key.keyId}) is not registered, so targets would refuse it: \`ben keys register --name ${o.key}\` first`)
        if (trusted.revokedAt !== null && trusted.revokedAt <= Date.now()) throw new CliError(`operator key '${o.key}' (${key.keyId}) was revoked at ${new Date(trusted.revokedAt).toISOString()}: use another operator key (--key)`)
        const proposal = await findProposal(ben, commandId)
        const r = verb === 'approve' ? approve(proposal.fact, key, Date.now(), proposal.attempt) : reject(proposal.fact, key, Date.now(), o.reason ?? '')
        if (!r.ok) throw new CliError(r.error.message, ExitCode.Failed)
        const s = await ben.publish([r.value])
        if (s.failed) throw new CliError(`could not publish the ${verb}al: ${s.failures[0]?.error}`, ExitCode.Failed)
        const p = proposal.fact.payload
        process.stdout.write(`${verb === 'approve' ? 'approved' : 'rejected'} ${p.verb} on ${p.target} (command ${p.commandId}) with operator key ${key.keyId}\n`)
      } finally {
        await ben.close()
      }
    })
  }
}
