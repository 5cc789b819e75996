import { connect, credsAuthenticator } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/nats-core'
import { readFileSync } from 'node:fs'
import type { BenEnv } from './config.js'
import { InfraError } from './errors.js'
import { nkeyConnectOptions, nkeySeedFile } from './auth/connect-auth.js'

/**
 * Connects with the credentials in the environment; reconnects forever once connected. An nkey
 * seed (BEN_NATS_NKEY, else `$BEN_HOME/creds/operator.nk` when no other credentials are set)
 * authenticates as that identity; a sidecar's seed also sets its inbox prefix `_INBOX_<id>`.
 */
export async function connectNats(url: string, env: BenEnv, name = 'ben', extra: { timeout?: number; maxReconnectAttempts?: number } = {}): Promise<NatsConnection> {
  const nkeyFile = nkeySeedFile(env)
  const nkey = nkeyFile ? nkeyConnectOptions(nkeyFile) : undefined
  try {
    return await connect({
      // A cluster: every node's URL, comma-separated (as the nats CLI takes them).
      servers: url
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // A server that accepts the socket but never answers (paused, wedged) fails the connect in
      // bounded time instead of holding the caller.
      timeout: 10_000,
      ...(nkey ?? {}),
      ...(env.natsCreds ? { authenticator: credsAuthenticator(readFileSync(env.natsCreds)) } : {}),
      ...(env.natsUser ? { user: env.natsUser, pass: env.natsPassword } : {}),
      ...(env.natsToken ? { token: env.natsToken } : {}),
      ...extra,
    })
  } catch (cause) {
    throw new InfraError('nats_unreachable', `cannot reach NATS at ${url}: ${(cause as Error).message}`, { cause })
  }
}
