import type { Command } from 'commander'
import { connect } from '../client/index.js'
import { parseDuration } from '../schemas/index.js'
import { homePaths, readEnv } from '../infra/index.js'
import { Keyring, listKeys, readKey, registerKey, revokeRegisteredKey, KEY_ROLES, publicKeyJson, type KeyRole } from '../keys/index.js'
import { Bucket, kvName, openBucket, type KV } from '../streams/index.js'
import { CliError, ExitCode, outputOf, outputOption, formatAlias, printTable, toJson } from './output.js'
import { parseSince } from './tail.js'

const keyring = () => new Keyring(homePaths(readEnv().home).keys)

function role(v: string): KeyRole {
  if (!(KEY_ROLES as readonly string[]).includes(v)) throw new CliError(`--role must be one of ${KEY_ROLES.join(', ')}, not '${v}'`)
  return v as KeyRole
}

/** `ben keys`: issuer, operator and sidecar keys; public halves and revocations in KV ben-keys. */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('Ed25519 keys: secret halves under $BEN_HOME/keys, public keys and revocations in KV ben-keys')
  keys
    .command('generate')
    .description('make a new key pair and (with --register) register its public key')
    .requiredOption('--role <role>', `one of ${KEY_ROLES.join(', ')}`)
    .option('--name <name>', 'file name under $BEN_HOME/keys (default: the role)')
    .option('--owner <target>', 'for sidecar keys: the target this key speaks for')
    .option('--register', 'register the public key in ben-keys (the default; needs a running Ben)')
    .option('--no-register', 'only write the key file (register it later with `ben keys register`)')
    .addOption(outputOption(['table', 'json']))
    .addOption(formatAlias(['table', 'json']))
    .addHelpText(
      'after',
      `\nExamples:\n  ben keys generate --role operator --name alice\n  ben keys generate --role sidecar --name web-3 --owner web-3\n  ben keys generate --role issuer --name spare --no-register`,
    )
    .action(async (o: { role: string; name?: string; owner?: string; register?: boolean; format: string }) => {
      const format = outputOf(o)
      const ring = keyring()
      const k = ring.generate(o.name ?? o.role, role(o.role))
      o.register = o.register !== false
      if (o.register) {
        try {
          await withKv(async (kv) => void (await registerKey(kv, k, { owner: o.owner ?? null })))
        } catch (err) {
          throw new CliError(
            `${k.role} key ${k.keyId} written to ${ring.path(o.name ?? o.role)} but NOT registered (${(err as Error).message}); register it once Ben runs: ben keys register --name ${o.name ?? o.role}`,
            ExitCode.Unavailable,
          )
        }
      }
      if (format === 'json') process.stdout.write(toJson({ ...publicKeyJson(k), file: ring.path(o.name ?? o.role), registered: Boolean(o.register) }) + '\n')
      else
        process.stdout.write(
          `${k.role} key ${k.keyId} written to ${ring.path(o.name ?? o.role)}${o.register ? ' and registered in ben-keys' : ' (not registered yet: ben keys register --name ' + (o.name ?? o.role) + ')'}\n`,
        )
    })
  keys
    .command('register')
    .description('register the public half of a local key in ben-keys')
    .requiredOption('--name <name>', 'key file name under $BEN_HOME/keys')
    .option('--owner <target>', 'for sidecar keys: the target this key speaks for')
    .addHelpText('after', `\nExamples:\n  ben keys register --name operator\n  ben keys register --name web-3 --owner web-3`)
    .action(async (o: { name: string; owner?: string }) => {
      const k = keyring().load(o.name)
      await withKv(async (kv) => void (await registerKey(kv, k, { owner: o.owner ?? null })))
      process.stdout.write(`registered ${k.role} key ${k.keyId}\n`)
    })
  keys
    .command('revoke')
    .argument('<key-id>', 'the key id (16 hex digits)')
    .description('revoke a key: every verifier refuses it from --at on (default: now)')
    .option('--at <time>', 'ISO time or a duration back from now (e.g. 10m)')
    .addHelpText('after', `\nExamples:\n  ben keys revoke 3f2a9c0d11e4b7a2\n  ben keys revoke 3f2a9c0d11e4b7a2 --at 2026-11-21T10:00:00Z`)
    .action(async (keyId: string, o: { at?: string }) => {
      const at = o.at ? parseSince(o.at).getTime() : Date.now()
      const k = await withKv((kv) => revokeRegisteredKey(kv, keyId, at))
      process.stdout.write(`revoked ${k.role} key ${k.keyId} from ${new Date(k.revokedAt ?? at).toISOString()}\n`)
    })
  keys
    .command('rotate')
    .description('replace a key with a new one of the same role; the old key stays valid until --grace has passed')
    .requiredOption('--name <name>', 'key file name under $BEN_HOME/keys (e.g. issuer, operator)')
    .option('--grace <duration>', 'how long the old key stays valid (e.g. 1h, 30m; 0 = revoke now)', '1h')
    .addHelpText(
      'after',
      `\nThe new key is registered at once; the old one is refused from now + grace on. A running\n\`ben up\` signs with a rotated issuer key within a few seconds.\n\nExamples:\n  ben keys rotate --name issuer --grace 1h\n  ben keys rotate --name operator --grace 0`,
    )
    .action(async (o: { name: string; grace: string }) => {
      const graceMs = parseDuration(o.grace)
      if (graceMs === undefined) throw new CliError(`--grace must be a duration like 30m or 1h (or 0), not '${o.grace}'`)
      const ring = keyring()
      const { previous, next } = ring.rotate(o.name)
      const until = Date.now() + graceMs
      await withKv(async (kv) => {
        const old = await readKey(kv, previous.keyId)
        await registerKey(kv, next, { owner: old?.owner ?? null })
        if (old) await revokeRegisteredKey(kv, previous.keyId, until)
      })
      process.stdout.write(`rotated ${previous.role} key '${o.name}': new ${next.keyId} registered; old ${previous.keyId} valid until ${new Date(until).toISOString()}\n`)
    })
  keys
    .command('list')
    .description('registered keys (role, owner, revocation) and the key files on this machine')
    .addOption(outputOption(['table', 'json']))
    .addOption(formatAlias(['table', 'json']))
    .addHelpText('after', `\nExamples:\n  ben keys list\n  ben keys list -o json`)
    .action(async (o: { format: string }) => {
      const format = outputOf(o)
      const ring = keyring()
      const local = new Map(ring.names().map((n) => [ring.load(n).keyId, n]))
      const registered = await withKv((kv) => listKeys(kv))
      const rows = registered.map((k) => ({
        keyId: k.keyId,
        role: k.role,
        owner: k.owner,
        revokedAt: k.revokedAt ? new Date(k.revokedAt).toISOString() : null,
        localFile: local.get(k.keyId) ?? null,
      }))
      if (format === 'json') process.stdout.write(toJson(rows) + '\n')
      else
        printTable(
          ['key id', 'role', 'owner', 'revoked at', 'local file'],
          rows.map((r) => [r.keyId, r.role, r.owner ?? '', r.revokedAt ?? '', r.localFile ?? '']),
        )
    })
}

async function withKv<T>(fn: (kv: KV) => Promise<T>): Promise<T> {
  const ben = await connect()
  try {
    return await fn(await openBucket(ben.nc, kvName({}, Bucket.Keys)))
  } finally {
    await ben.close()
  }
}
