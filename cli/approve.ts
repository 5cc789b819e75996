import type { Command } from 'commander'
import { connect, decideProposal, isClientError } from '../client/index.js'
import { homePaths, Keyring, readEnv } from '../infra/index.js'
import { CliError } from './output.js'

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
        // The same path as the console's approve/reject (client/approvals.ts).
        const { proposal } = await decideProposal(ben, commandId, key, verb, o.reason ?? '')
        process.stdout.write(`${verb === 'approve' ? 'approved' : 'rejected'} ${proposal.payload.verb} on ${proposal.payload.target} (command ${proposal.payload.commandId}) with operator key ${key.keyId}\n`)
      } catch (err) {
        throw isClientError(err) ? new CliError(err.message) : err
      } finally {
        await ben.close()
      }
    })
  }
}
