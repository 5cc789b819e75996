import type { Command } from 'commander'
import { connect, type Ben } from '../client/index.js'
import { homePaths, Keyring, readEnv } from '../infra/index.js'
import { approve, reject } from '../processors/act/index.js'
import { defaultRegistry, decodeWith, type CommandFact } from '../schemas/index.js'
import { sqlString } from '../projections/index.js'
import { CliError } from './output.js'

/** The proposal for a command id, read back from the `commands` projection. */
async function findProposal(ben: Ben, commandId: string): Promise<CommandFact> {
  if (!/^[0-9a-f]{8,64}$/.test(commandId)) throw new CliError(`'${commandId}' is not a command id (hex digits, as printed in decisions and \`ben query "SELECT command_id, verb, target FROM commands WHERE status = 'proposed'"\`)`)
  const r = await ben.query(`SELECT schema_fp, avro, status FROM commands WHERE command_id LIKE ${sqlString(commandId + '%')} ORDER BY ts`)
  const rows = r.objects() as Array<{ schema_fp: string; avro: string; status: string }>
  if (rows.length === 0) throw new CliError(`no command ${commandId} in the commands table (is it still being projected? try again in a second)`)
  const done = rows.find((x) => x.status === 'approved' || x.status === 'rejected')
  if (done) throw new CliError(`command ${commandId} was already ${done.status}`)
  const p = rows.find((x) => x.status === 'proposed')
  if (!p) throw new CliError(`command ${commandId} is not waiting for approval (status: ${rows.map((x) => x.status).join(', ')})`)
  const d = decodeWith(defaultRegistry(), Buffer.from(p.avro, 'base64'), p.schema_fp)
  if (!d.ok) throw new CliError(`cannot read command ${commandId}: ${d.error.message}`)
  return d.value as CommandFact
}

export function registerApprove(program: Command): void {
  for (const verb of ['approve', 'reject'] as const) {
    const cmd = program
      .command(verb)
      .argument('<command-id>', 'the proposed command (its id or a unique prefix)')
      .description(verb === 'approve' ? 'co-sign a proposed command with an operator key and release it to its target' : 'refuse a proposed command; the refusal is a signed fact')
      .option('--key <name>', 'operator key under $BEN_HOME/keys', 'operator')
    if (verb === 'reject') cmd.requiredOption('--reason <text>', 'why (recorded in the rejection fact)')
    cmd.addHelpText('after', verb === 'approve' ? `\nExamples:\n  ben approve 4be1f0c2\n  ben approve 4be1f0c2 --key alice` : `\nExamples:\n  ben reject 4be1f0c2 --reason "false positive: test fixture"`)
    cmd.action(async (commandId: string, o: { key: string; reason?: string }) => {
      const key = new Keyring(homePaths(readEnv().home).keys).load(o.key)
      if (key.role !== 'operator') throw new CliError(`key '${o.key}' is a ${key.role} key; approving and rejecting need an operator key (ben keys generate --role operator --register)`)
      const ben = await connect()
      try {
        const proposal = await findProposal(ben, commandId)
        const r = verb === 'approve' ? approve(proposal, key, Date.now()) : reject(proposal, key, Date.now(), o.reason ?? '')
        if (!r.ok) throw new CliError(r.error.message)
        const s = await ben.publish([r.value])
        if (s.failed) throw new CliError(`could not publish the ${verb}al: ${s.failures[0]?.error}`)
        process.stdout.write(`${verb === 'approve' ? 'approved' : 'rejected'} ${proposal.payload.verb} on ${proposal.payload.target} (command ${proposal.payload.commandId}) with operator key ${key.keyId}\n`)
      } finally {
        await ben.close()
      }
    })
  }
}
