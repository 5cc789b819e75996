import type { Ben } from '../client/index.js'
import { homePaths, readEnv } from '../infra/index.js'
import { Keyring } from '../keys/index.js'
import { benWarehouse } from '../projections/index.js'
import type { ReplayDeps } from './types.js'

/**
 * Replay dependencies from a connected Ben: its NATS connection and subjects, queries through
 * `ben up` (or BEN_CLICKHOUSE_URL), and the issuer key under `$BEN_HOME/keys` when there is one
 * (without it, commands are not re-signed and the recorded ones stand in).
 */
export function replayDeps(ben: Ben, opts: { home?: string } = {}): ReplayDeps {
  const home = opts.home ?? readEnv().home
  const keyring = new Keyring(homePaths(home).keys)
  const issuer = keyring.has('issuer') ? keyring.load('issuer') : null
  return { nc: ben.nc, subjects: ben.subjects, warehouse: benWarehouse(ben), issuer }
}
