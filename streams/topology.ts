import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import type { Subjects } from './subjects.js'

export const StreamName = {
  Facts: 'FACTS',
  Derived: 'DERIVED',
  Commands: 'COMMANDS',
  Dlq: 'DLQ',
  Hello: 'HELLO',
} as const
export type StreamName = (typeof StreamName)[keyof typeof StreamName]

export const Bucket = {
  Policy: 'ben-policy',
  Redaction: 'ben-redaction',
  Detectors: 'ben-detectors',
  Keys: 'ben-keys',
  Checkpoints: 'ben-checkpoints',
  Incidents: 'ben-incidents',
  /** The fleet: worker registry and partition leases (fleet/). */
  Fleet: 'ben-fleet',
} as const
export type Bucket = (typeof Bucket)[keyof typeof Bucket]

export interface StreamLimits {
  /** Max age in milliseconds (0 = unlimited). */
  readonly maxAgeMs: number
  /** Max bytes (-1 = unlimited). */
  readonly maxBytes: number
  /** Max messages (-1 = unlimited). */
  readonly maxMsgs: number
}

export interface TopologyOptions {
  readonly subjects: Subjects
  readonly replicas?: number
  /** Duplicate window for Nats-Msg-Id de-duplication, ms. */
  readonly duplicateWindowMs?: number
  readonly limits?: Partial<Record<StreamName, Partial<StreamLimits>>>
  /** Prefix for stream names, so tests and tenants can share a server. Default none. */
  readonly streamPrefix?: string
}

const DAY = 24 * 3600 * 1000
const DEFAULT_LIMITS: Record<StreamName, StreamLimits> = {
  FACTS: { maxAgeMs: 7 * DAY, maxBytes: -1, maxMsgs: -1 },
  DERIVED: { maxAgeMs: 30 * DAY, maxBytes: -1, maxMsgs: -1 },
  COMMANDS: { maxAgeMs: 365 * DAY, maxBytes: -1, maxMsgs: -1 },
  DLQ: { maxAgeMs: 30 * DAY, maxBytes: -1, maxMsgs: -1 },
  HELLO: { maxAgeMs: 7 * DAY, maxBytes: -1, maxMsgs: -1 },
}

export function streamSubjects(s: Subjects): Record<StreamName, string[]> {
  return {
    FACTS: [s.factsAll],
    DERIVED: [s.scrubbedAll, s.anomalyAll, s.decisionAll, s.incidentAll],
    COMMANDS: [s.cmdAll, s.ackAll],
    DLQ: [s.dlqAll],
    HELLO: [s.helloAll],
  }
}

/** The full stream name with the optional prefix (e.g. `T1_FACTS`). */
export function streamName(opts: Pick<TopologyOptions, 'streamPrefix'>, name: StreamName): string {
  return opts.streamPrefix ? `${opts.streamPrefix}_${name}` : name
}

export function streamConfigs(opts: TopologyOptions): Array<Partial<StreamConfig> & { name: string; subjects: string[] }> {
  const subjects = streamSubjects(opts.subjects)
  return (Object.keys(subjects) as StreamName[]).map((name) => {
    const l = { ...DEFAULT_LIMITS[name], ...(opts.limits?.[name] ?? {}) }
    return {
      name: streamName(opts, name),
      subjects: subjects[name],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: opts.replicas ?? 1,
      max_age: l.maxAgeMs * 1_000_000,
      max_bytes: l.maxBytes,
      max_msgs: l.maxMsgs,
      duplicate_window: (opts.duplicateWindowMs ?? 120_000) * 1_000_000,
      allow_direct: true,
    }
  })
}

/**
 * Creates the streams and KV buckets, or updates their limits when they exist. Idempotent:
 * running it again with the same options changes nothing.
 */
export async function ensureTopology(nc: NatsConnection, jsm: JetStreamManager, opts: TopologyOptions): Promise<void> {
  for (const cfg of streamConfigs(opts)) {
    try {
      const info = await jsm.streams.info(cfg.name)
      const c = info.config
      const same =
        c.max_age === cfg.max_age &&
        c.max_bytes === cfg.max_bytes &&
        c.max_msgs === cfg.max_msgs &&
        c.duplicate_window === cfg.duplicate_window &&
        c.num_replicas === cfg.num_replicas &&
        JSON.stringify(c.subjects) === JSON.stringify(cfg.subjects)
      if (!same) await jsm.streams.update(cfg.name, cfg)
    } catch (err) {
      if (!isNotFound(err)) throw err
      await jsm.streams.add(cfg)
    }
  }
  const kvm = new Kvm(nc)
  for (const bucket of Object.values(Bucket)) {
    // checkpoints keep one revision per key (a fixed set of keys, processors/runner/checkpoint.ts)
    const history = bucket === Bucket.Checkpoints ? 1 : 64
    await kvm.create(kvName(opts, bucket), { history, replicas: opts.replicas ?? 1 })
    if (history === 1) {
      // a bucket made before keeps 64 revisions of every chunk: bring it down to one (best effort:
      // a role that may not update streams leaves it at 64, still a fixed set of keys)
      const name = `KV_${kvName(opts, bucket)}`
      const info = await jsm.streams.info(name).catch(() => undefined)
      if (info && info.config.max_msgs_per_subject !== 1) await jsm.streams.update(name, { ...info.config, max_msgs_per_subject: 1 }).catch(() => undefined)
    }
  }
}

/** KV bucket of notifier configs (created by `notify/`, with its own history; named here so the permissions can name it). */
export const NOTIFY_BUCKET = 'ben-notify'

export function notifyBucketName(topo: Pick<TopologyOptions, 'streamPrefix'>): string {
  return topo.streamPrefix ? `${topo.streamPrefix.toLowerCase()}-${NOTIFY_BUCKET}` : NOTIFY_BUCKET
}

export function kvName(opts: Pick<TopologyOptions, 'streamPrefix'>, bucket: Bucket): string {
  return opts.streamPrefix ? `${opts.streamPrefix.toLowerCase()}-${bucket}` : bucket
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; code?: number | string; api_error?: { err_code?: number }; message?: string }
  return e?.name === 'StreamNotFoundError' || e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? '')
}
