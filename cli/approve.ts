import type { Command } from 'commander'
import { connect, decideProposal, isClientError } from '../client/index.js'
import { homePaths, readEnv } from '../infra/index.js'
import { Keyring } from '../keys/index.js'
import { CliError, ExitCode, oneLine } from './output.js'

/** A client's refusal as the CLI's exit code: a missing command is 4, one the act stage or JetStream refused 1, anything the user can correct 2. */
const exitFor = (code: string): ExitCode =>
  code === 'not_found' ? ExitCode.NotFound : code === 'refused' || code === 'publish_failed' || code === 'undecodable' ? ExitCode.Failed : ExitCode.Usage

export function registerApprove(program: Command): void {
  for (const verb of ['approve', 'reject'] as const) {
    const cmd = program
      .command(verb)
      .argument('<command-id>', 'the proposed command (its id or a unique prefix, as `ben up` prints it)')
      .description(verb === 'approve' ? 'co-sign a proposed command with an operator key and release it to its target' : 'refuse a proposed command; the refusal is a signed fact')
      .option('--key <name>', 'operator key under $BEN_HOME/keys (`ben up` makes and registers `operator` at first start)', 'operator')
    if (verb === 'reject') cmd.requiredOption('--reason <text>', 'why (recorded in the rejection fact)')
    cmd.addHelpText(
      'after',
      verb === 'approve' ? `\nExamples:\n  ben approve 4be1f0c2\n  ben approve 4be1f0c2 --key alice` : `\nExamples:\n  ben reject 4be1f0c2 --reason "false positive: test fixture"`,
    )
    cmd.action(async (commandId: string, o: { key: string; reason?: string }) => {
      if (!/^[0-9a-f]{4,64}$/.test(commandId)) throw new CliError(`'${oneLine(commandId)}' is not a command id (hex digits, at least 4, as \`ben up\` prints them)`)
      const key = new Keyring(homePaths(readEnv().home).keys).load(o.key)
      if (key.role !== 'operator')
        throw new CliError(`key '${o.key}' is a ${key.role} key; approving and rejecting need an operator key (ben keys generate --role operator --name ${o.key}-op)`)
      const ben = await connect()
      try {
        // The same path as the console's approve/reject (client/approvals.ts).
        const { proposal, refusedBefore } = await decideProposal(ben, commandId, key, verb, o.reason ?? '', Date.now(), o.key)
        if (refusedBefore)
          process.stderr.write(`ben: the last approval of ${proposal.payload.commandId.slice(0, 12)} was refused by its target (${refusedBefore}): approving again\n`)
        process.stdout.write(
          `${verb === 'approve' ? 'approved' : 'rejected'} ${proposal.payload.verb} on ${proposal.payload.target} (command ${proposal.payload.commandId}) with operator key ${key.keyId}\n`,
        )
      } catch (err) {
        throw isClientError(err) ? new CliError(err.message, exitFor(err.code)) : err
      } finally {
        await ben.close()
      }
    })
  }
}
