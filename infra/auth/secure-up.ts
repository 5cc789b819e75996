import type { BenEnv } from '../config.js'
import { InfraError } from '../errors.js'
import { AuthRole, checkSidecarId, sidecarIdentity } from './permissions.js'
import { ensureAuth, forgetSecureServer, recordSecureServer, type AuthSetup } from './provision.js'

export interface SecureStart {
  /** The environment `ben up` runs with: the processor's nkey. */
  readonly env: BenEnv
  /** For `startBen(..., { natsConfigFile })`. */
  readonly natsConfigFile: string
  readonly setup: AuthSetup
  /** Call with the pid of the nats-server `ben up` started (reloads go to it). */
  started(natsPid: number | undefined): void
  stopped(): void
  /** Lines for the start-up banner. */
  summary(natsOrigin: string): string[]
}

/** Parses `--sidecars a,b,c`. */
export function parseSidecarList(v: string | undefined): string[] {
  const ids = (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const id of ids) {
    const bad = checkSidecarId(id)
    if (bad) throw new InfraError('bad_config', `--sidecars: ${bad}`)
  }
  return [...new Set(ids)]
}

/**
 * `ben up --secure`: writes the nkeys (processor, projector, operator, the named sidecars) and
 * the server configuration under `$BEN_HOME/creds/`, and gives the environment that makes
 * `ben up` itself connect as the processor.
 */
export function secureStart(env: BenEnv, sidecars: readonly string[] = []): SecureStart {
  const setup = ensureAuth(env.home, { prefix: env.prefix, sidecars })
  let pid: number | undefined
  return {
    env: Object.freeze({ ...env, natsNkey: setup.seedFile(AuthRole.Processor) }),
    natsConfigFile: setup.configFile,
    setup,
    started(natsPid) {
      pid = natsPid
      if (pid) recordSecureServer(env.home, pid)
    },
    stopped() {
      if (pid) forgetSecureServer(env.home, pid)
    },
    summary(natsOrigin) {
      const lines = [
        `  security    nkey users; seeds and nats-server.conf in ${setup.dir} (mode 0600)`,
        `              this process is 'processor'; ben commands under this BEN_HOME use 'operator' (${setup.seedFile(AuthRole.Operator)})`,
      ]
      for (const id of sidecars) lines.push(`  sidecar     ${id}: BEN_NATS_NKEY=${setup.seedFile(sidecarIdentity(id))}`)
      if (natsOrigin === 'configured') lines.push(`  note        BEN_NATS_URL is set: install ${setup.configFile} on that server (nats-server -c) yourself`)
      return lines
    },
  }
}
