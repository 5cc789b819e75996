import { nkeyAuthenticator, type Authenticator } from '@nats-io/nats-core'
import { existsSync } from 'node:fs'
import { basename } from 'node:path'
import type { BenEnv } from '../config.js'
import { readSeed } from './identities.js'
import { checkSidecarId, AuthRole, sidecarInboxPrefix } from './permissions.js'
import { authPaths } from './provision.js'

/**
 * The nkey seed file a Ben connection authenticates with: `BEN_NATS_NKEY` when set; otherwise,
 * when no other credentials are configured (BEN_NATS_CREDS, _USER, _TOKEN), the operator's
 * seed `$BEN_HOME/creds/operator.nk` if `ben up --secure` wrote one. Undefined: no nkey.
 */
export function nkeySeedFile(env: BenEnv): string | undefined {
  if (env.natsNkey) return env.natsNkey
  if (env.natsCreds || env.natsUser || env.natsToken) return undefined
  const operator = authPaths(env.home).seed(AuthRole.Operator)
  return existsSync(operator) ? operator : undefined
}

/** Connection options for an nkey seed file: the authenticator, and a sidecar's own inbox prefix. */
export function nkeyConnectOptions(seedFile: string): { authenticator: Authenticator; inboxPrefix?: string } {
  const seed = readSeed(seedFile)
  const name = basename(seedFile, '.nk')
  const id = name.startsWith('sidecar-') ? name.slice('sidecar-'.length) : undefined
  return { authenticator: nkeyAuthenticator(seed), ...(id !== undefined && checkSidecarId(id) === null ? { inboxPrefix: sidecarInboxPrefix(id) } : {}) }
}
