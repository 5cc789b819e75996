import { InfraError } from './errors.js'
import { resolve, join } from 'node:path'

/** Everything Ben reads from the environment, validated once and frozen. */
export interface BenEnv {
  readonly home: string
  readonly natsUrl?: string
  readonly natsCreds?: string
  readonly natsUser?: string
  readonly natsPassword?: string
  readonly natsToken?: string
  /** nkey seed file (BEN_NATS_NKEY); without it, `$BEN_HOME/creds/operator.nk` when present. */
  readonly natsNkey?: string
  readonly clickhouseUrl?: string
  readonly clickhouseUser?: string
  readonly clickhousePassword?: string
  readonly clickhouseDb?: string
  readonly prefix: string
  readonly natsServerBin?: string
  readonly logLevel: string
  /** Skip testcontainers even when a Docker engine answers. */
  readonly noContainers: boolean
  /** JetStream's storage limit for the embedded nats-server (BEN_JS_MAX_STORE, e.g. 20GB); default 1TB. */
  readonly jsMaxStore?: string
  /** Replicas of Ben's streams and buckets on servers you run (BEN_JS_REPLICAS, 1–5); default 1, the embedded cluster's size with `--cluster`. */
  readonly jsReplicas?: number
  /** JetStream's duplicate window for Ben's streams, ms (BEN_DUPLICATE_WINDOW_MS); default 2 min. Idempotence does not rest on it. */
  readonly duplicateWindowMs?: number
  /** PubAcks the publisher of routine outputs awaits at once (BEN_PUBLISH_WINDOW); default ROUTINE_PUBLISH_WINDOW (infra/runtime.ts). */
  readonly publishWindow?: number
  /** Queueing delay (ms) Ben's publishers let their routine facts cause at the server (BEN_PUBLISH_DELAY_MS, 0–60000); default DELAY_TARGET_MS (streams/publisher.ts) at the edge (sidecar, client), none for `ben up`'s own publisher; 0: the whole window always. */
  readonly publishDelayMs?: number
  /** Nice of the nats-server Ben starts (BEN_NATS_NICE, -20–19); default DEFAULT_NATS_NICE (infra/nats-server.ts), 0 leaves it. */
  readonly natsNice?: number
  /** Nice of `ben up`'s alert-path thread (and a worker's alert thread) relative to the process (BEN_ALERT_PATH_NICE, -20–19); default -20 (processors/wiring/alert-path.ts), 0 leaves it. */
  readonly alertPathNice?: number
  /** Nice of `ben up`'s scrub-path and detect-path threads relative to the process (BEN_DETECT_PATH_NICE, -20–19); default -10 (processors/wiring/alert-path.ts), 0 leaves it. */
  readonly detectPathNice?: number
}

/**
 * The embedded default in `home`, as tests and benches start it: its own nats-server (never one
 * named by BEN_NATS_URL in the caller's environment), no containers, and chDB unless
 * BEN_CLICKHOUSE_URL names a ClickHouse server.
 */
export function embeddedEnv(home: string): BenEnv {
  return { ...readEnv({ BEN_HOME: home, BEN_NO_CONTAINERS: '1' }), natsUrl: undefined, clickhouseUrl: process.env.BEN_CLICKHOUSE_URL }
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): BenEnv {
  return Object.freeze({
    home: resolve(env.BEN_HOME || '.ben'),
    natsUrl: env.BEN_NATS_URL || undefined,
    natsCreds: env.BEN_NATS_CREDS || undefined,
    natsUser: env.BEN_NATS_USER || undefined,
    natsPassword: env.BEN_NATS_PASSWORD || undefined,
    natsToken: env.BEN_NATS_TOKEN || undefined,
    natsNkey: env.BEN_NATS_NKEY ? resolve(env.BEN_NATS_NKEY) : undefined,
    clickhouseUrl: env.BEN_CLICKHOUSE_URL || undefined,
    clickhouseUser: env.BEN_CLICKHOUSE_USER || undefined,
    clickhousePassword: env.BEN_CLICKHOUSE_PASSWORD || undefined,
    clickhouseDb: env.BEN_CLICKHOUSE_DB || undefined,
    prefix: env.BEN_PREFIX || 'ben',
    natsServerBin: env.BEN_NATS_SERVER_BIN || undefined,
    logLevel: env.BEN_LOG_LEVEL || 'info',
    noContainers: env.BEN_NO_CONTAINERS === '1' || env.BEN_NO_CONTAINERS === 'true',
    jsMaxStore: env.BEN_JS_MAX_STORE || undefined,
    jsReplicas: replicas(env.BEN_JS_REPLICAS),
    duplicateWindowMs: /^[1-9]\d*$/.test(env.BEN_DUPLICATE_WINDOW_MS ?? '') ? Number(env.BEN_DUPLICATE_WINDOW_MS) : undefined,
    publishWindow: publishWindow(env.BEN_PUBLISH_WINDOW),
    publishDelayMs: publishDelayMs(env.BEN_PUBLISH_DELAY_MS),
    natsNice: nice('BEN_NATS_NICE', env.BEN_NATS_NICE, "the embedded nats-server's CPU priority"),
    alertPathNice: nice('BEN_ALERT_PATH_NICE', env.BEN_ALERT_PATH_NICE, "the alert path thread's priority, relative to the process"),
    detectPathNice: nice('BEN_DETECT_PATH_NICE', env.BEN_DETECT_PATH_NICE, "the scrub-path and detect-path threads' priority, relative to the process"),
  })
}

function publishWindow(v: string | undefined): number | undefined {
  if (!v) return undefined
  if (!/^[1-9]\d*$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new InfraError('bad_config', `BEN_PUBLISH_WINDOW=${v}: expected a positive integer (the PubAcks a publisher of routine outputs awaits at once; default 4096)`)
  return Number(v)
}

function publishDelayMs(v: string | undefined): number | undefined {
  if (!v) return undefined
  if (!/^\d+$/.test(v) || Number(v) > 60_000)
    throw new InfraError(
      'bad_config',
      `BEN_PUBLISH_DELAY_MS=${v}: expected 0 to 60000 (the queueing delay, in ms, that routine publishes may cause at the server before a publisher holds them back; default 10 at the edge, none for ben up's own publisher; 0 never holds them back)`,
    )
  return Number(v)
}

function nice(name: string, v: string | undefined, what: string): number | undefined {
  if (!v) return undefined
  const n = Number(v)
  if (!/^[+-]?\d+$/.test(v.trim()) || n < -20 || n > 19)
    throw new InfraError('bad_config', `${name}=${v}: expected a nice value from -20 to 19 (${what}; default -20, 0 leaves it)`)
  return n
}

function replicas(v: string | undefined): number | undefined {
  if (!v) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 5) throw new InfraError('bad_config', `BEN_JS_REPLICAS=${v}: expected 1 to 5 (JetStream's limit; 3 survives one node, 5 two)`)
  return n
}

export const homePaths = (home: string) =>
  Object.freeze({
    natsStore: join(home, 'nats'),
    /** `ben up --cluster N`: node i's store under `n<i>`, the kept ports in `ports.json`. */
    natsCluster: join(home, 'nats-cluster'),
    clickhouse: join(home, 'clickhouse'),
    endpoints: join(home, 'endpoints.json'),
    /** One `ben up` per BEN_HOME (pid and start time of the holder). */
    upLock: join(home, 'up.lock'),
    /** The embedded nats-server's last port, kept across restarts so clients reconnect. */
    natsPort: join(home, 'nats', 'port'),
    log: join(home, 'ben.log'),
    keys: join(home, 'keys'),
    creds: join(home, 'creds'),
  })
