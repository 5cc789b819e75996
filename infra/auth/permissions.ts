// Leaf modules, not the streams barrel: \`ben\` connects through connect-auth.ts at every start.
import { Bucket, kvName, notifyBucketName, StreamName, streamName, type TopologyOptions } from '../../streams/topology.js'
import { Subjects } from '../../streams/subjects.js'

/**
 * Who may do what on NATS (DESIGN.md "Security model"). Identity and authorisation belong to
 * the server: every identity is an nkey user of the global account with an allow-list for
 * publish and subscribe; anything not listed is refused by the server with a permissions
 * violation. The lists are built here from the subject prefix and the stream names, so a
 * prefixed deployment (BEN_PREFIX, stream prefixes) gets the same shape.
 *
 * JetStream subjects (nats-server 2.9, no JetStream domain):
 * - `$JS.API.INFO`                                   account info; `jetstreamManager()` asks it first
 * - `$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>` create or update a named consumer whose
 *   filter is in the subject: the server refuses a request whose body names another filter
 *   (err 10131), so allowing one exact subject pins both the name and the filter
 * - `$JS.API.CONSUMER.INFO.<stream>.<name>`         consumer info (`js.consumers.get`)
 * - `$JS.API.CONSUMER.MSG.NEXT.<stream>.<name>`     pull requests; messages come to the reply inbox
 * - `$JS.ACK.<stream>.<name>.>`                     ack/nak/working of delivered messages
 * - `$JS.FC.<stream>.>`                             flow-control replies of push (ordered) consumers
 * - `$KV.<bucket>.<key>`                            KV puts and deletes
 * PubAcks and API replies go to the requester's inbox, so every identity may subscribe to it.
 */
export interface Permissions {
  readonly publish: readonly string[]
  readonly subscribe: readonly string[]
  /** Publishes refused even where `publish` allows them (the server checks deny first). */
  readonly denyPublish?: readonly string[]
}

/**
 * The durable consumers of the stages (`stage-<stage>-<lane>`, DESIGN.md's stage graph) and of
 * the projectors (`proj-<projection>`). Ack-all consumers: whoever may pull, ack, re-create or
 * delete one can make a stage skip facts or stop for good, so only the processor may touch them.
 */
export const STAGE_CONSUMERS = [
  'stage-scrub-alert',
  'stage-scrub-routine',
  'stage-scrub-metric',
  'stage-scrub-event',
  'stage-scrub-diag',
  'stage-detect-metric',
  'stage-policy-alert',
  'stage-policy-anomaly',
  'stage-act-decision',
  'stage-incident-alert',
  'stage-incident-anomaly',
  'stage-incident-decision',
  'stage-incident-command',
  'stage-incident-ack',
] as const
export const PROJECTOR_CONSUMERS = [
  'proj-facts',
  'proj-facts-scrubbed',
  'proj-anomalies',
  'proj-decisions',
  'proj-commands',
  'proj-acks',
  'proj-incident-events',
  'proj-incidents',
] as const

/** Every JetStream API and ack subject through which a consumer can be changed, drained or removed. */
export function consumerControlSubjects(consumer: string): string[] {
  return [
    `$JS.API.CONSUMER.DELETE.*.${consumer}`,
    `$JS.API.CONSUMER.CREATE.*.${consumer}`,
    `$JS.API.CONSUMER.CREATE.*.${consumer}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.*.${consumer}`,
    `$JS.API.CONSUMER.MSG.NEXT.*.${consumer}`,
    `$JS.ACK.*.${consumer}.>`,
  ]
}

/** What only the owner of the stream store may do: delete or purge a stream, delete messages. */
export const STREAM_ADMIN_SUBJECTS = [
  '$JS.API.STREAM.DELETE.*',
  '$JS.API.STREAM.PURGE.*',
  '$JS.API.STREAM.MSG.DELETE.*',
  '$JS.API.STREAM.SNAPSHOT.*',
  '$JS.API.STREAM.RESTORE.*',
  '$JS.API.STREAM.PEER.REMOVE.*',
  '$JS.API.ACCOUNT.PURGE.*',
] as const

export const AuthRole = {
  /** `ben up`: the stages, projectors, query service, topology and KV; the namespace's admin. */
  Processor: 'processor',
  /** A projector run on its own: reads the streams, writes dead letters, serves queries. */
  Projector: 'projector',
  /** A person's `ben` commands: read everything, query, publish facts, approve commands, apply configs. */
  Operator: 'operator',
  /** One sidecar: its own facts, acks and hello; its own commands; the trusted keys. */
  Sidecar: 'sidecar',
} as const
export type AuthRole = (typeof AuthRole)[keyof typeof AuthRole]

export interface NamespaceOptions {
  /** Subject prefix (default `ben`). */
  readonly prefix?: string
  /** Stream name prefix, as in TopologyOptions (default none). */
  readonly streamPrefix?: string
}

/** Sidecar ids that can carry credentials: a NATS token that is also a file, consumer and inbox name. */
export const SIDECAR_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

export function checkSidecarId(id: string): string | null {
  return SIDECAR_ID_RE.test(id) ? null : `sidecar id '${id}' cannot carry NATS credentials: use 1-64 letters, digits, '-' or '_', starting with a letter or digit`
}

/** The inbox prefix a sidecar connects with (`inboxPrefix` connection option): `_INBOX_<id>`. */
export const sidecarInboxPrefix = (id: string): string => `_INBOX_${id}`

/** The durable pull consumer through which a sidecar reads its commands: `sidecar-<id>`. */
export const sidecarConsumerName = (id: string): string => `sidecar-${id}`

/** The identity (file and user) name of a sidecar: `sidecar-<id>`. */
export const sidecarIdentity = (id: string): string => `sidecar-${id}`

function names(ns: NamespaceOptions) {
  const subjects = new Subjects(ns.prefix ?? 'ben')
  const topo: Pick<TopologyOptions, 'streamPrefix'> = { streamPrefix: ns.streamPrefix }
  const kv = (b: Bucket) => kvName(topo, b)
  return { p: subjects.prefix, subjects, commands: streamName(topo, StreamName.Commands), kv }
}

/**
 * A sidecar may publish only its own facts (`<p>.fact.*.<id>`), acks and hello, and consume
 * only its own commands: core subscription on `<p>.cmd.<id>`, or the durable pull consumer
 * `sidecar-<id>` on COMMANDS filtered to `<p>.cmd.<id>` (create/update, info, next, ack). It
 * reads the trusted keys (KV `ben-keys`: info, get, watch) to verify commands. Its inbox is
 * `_INBOX_<id>.>`; it cannot see anyone else's replies.
 */
export function sidecarPermissions(id: string, ns: NamespaceOptions = {}): Permissions {
  const bad = checkSidecarId(id)
  if (bad) throw new Error(bad)
  const { p, subjects, commands, kv } = names(ns)
  const durable = sidecarConsumerName(id)
  const keys = kv(Bucket.Keys)
  const keysStream = `KV_${keys}`
  const manifest = kv(Bucket.Redaction)
  const manifestStream = `KV_${manifest}`
  const facts = streamName({ streamPrefix: ns.streamPrefix }, StreamName.Facts)
  return freeze({
    publish: [
      `${p}.fact.*.${id}`,
      subjects.ack(id),
      subjects.hello(`sidecar.${id}`),
      '$JS.API.INFO',
      `$JS.API.CONSUMER.CREATE.${commands}.${durable}.${subjects.cmd(id)}`,
      `$JS.API.CONSUMER.INFO.${commands}.${durable}`,
      `$JS.API.CONSUMER.MSG.NEXT.${commands}.${durable}`,
      `$JS.ACK.${commands}.${durable}.>`,
      `$JS.API.STREAM.INFO.${keysStream}`,
      `$JS.API.STREAM.MSG.GET.${keysStream}`,
      `$JS.API.DIRECT.GET.${keysStream}.>`,
      `$JS.API.CONSUMER.CREATE.${keysStream}.*.$KV.${keys}.>`,
      `$JS.FC.${keysStream}.>`,
      // The redaction manifest (read-only), so the edge scrubs with the spine's revision.
      `$JS.API.STREAM.INFO.${manifestStream}`,
      `$JS.API.STREAM.MSG.GET.${manifestStream}`,
      `$JS.API.DIRECT.GET.${manifestStream}.>`,
      `$JS.API.CONSUMER.CREATE.${manifestStream}.*.$KV.${manifest}.>`,
      `$JS.FC.${manifestStream}.>`,
      // The last fact it stored on each of its own subjects (reconciliation after an outage):
      // direct get by subject only, so it cannot read anyone else's facts.
      `$JS.API.DIRECT.GET.${facts}.${p}.fact.*.${id}`,
    ],
    subscribe: [subjects.cmd(id), `${sidecarInboxPrefix(id)}.>`],
  })
}

/**
 * The processor runs `ben up`: it creates the streams and buckets, runs every stage (reads
 * FACTS, DERIVED, COMMANDS; publishes scrubbed, anomaly, decision, incident, cmd, dlq, hello),
 * the projectors and the query service, and the simulator of `ben up --simulate`. It creates
 * and updates streams, consumers and KV, but it is not a stream admin: deleting or purging a
 * stream, deleting messages, snapshots and restores are refused (STREAM_ADMIN_SUBJECTS): the
 * facts outlive the process that appends them, and retention is the streams' own limits.
 */
export function processorPermissions(ns: NamespaceOptions = {}): Permissions {
  const { p } = names(ns)
  return freeze({
    publish: [`${p}.>`, '$JS.API.>', '$JS.ACK.>', '$JS.FC.>', '$KV.>', '_INBOX.>'],
    subscribe: [`${p}.>`, '_INBOX.>'],
    denyPublish: [...STREAM_ADMIN_SUBJECTS],
  })
}

/** JetStream read access: list and inspect streams, create/inspect/read consumers, ack. */
const JS_READ = [
  '$JS.API.INFO',
  '$JS.API.STREAM.INFO.*',
  '$JS.API.STREAM.NAMES',
  '$JS.API.STREAM.LIST',
  '$JS.API.STREAM.MSG.GET.*',
  '$JS.API.DIRECT.GET.>',
  '$JS.API.CONSUMER.CREATE.>',
  '$JS.API.CONSUMER.DURABLE.CREATE.>',
  '$JS.API.CONSUMER.INFO.>',
  '$JS.API.CONSUMER.NAMES.*',
  '$JS.API.CONSUMER.LIST.*',
  '$JS.API.CONSUMER.DELETE.>',
  '$JS.API.CONSUMER.MSG.NEXT.>',
  '$JS.ACK.>',
  '$JS.FC.>',
] as const

/**
 * A projector run on its own: reads the streams through its durable consumers, writes dead
 * letters, and may serve the query service (it holds the warehouse). Publishes no facts. It
 * may not pull, ack, re-create or delete a stage's consumer.
 */
export function projectorPermissions(ns: NamespaceOptions = {}): Permissions {
  const { p, subjects } = names(ns)
  const query = `${p}.svc.query`
  return freeze({
    publish: [...JS_READ, subjects.dlqAll, '_INBOX.>'],
    subscribe: [query, '_INBOX.>'],
    denyPublish: STAGE_CONSUMERS.flatMap(consumerControlSubjects),
  })
}

/**
 * A person's `ben` commands: read every stream and subject (tail, streams, replay,
 * subscriptions), ask the query service, publish facts (`ben publish`), publish commands
 * (`ben approve` / `ben reject` co-sign a proposal; the signature, not the subject, is what a
 * target trusts), and apply configs and keys (KV ben-policy, ben-redaction, ben-detectors,
 * ben-keys, and the notifiers in ben-notify). It cannot create or delete streams, publish derived
 * facts or acks, write stage checkpoints, or pull, ack, re-create or delete a stage's or
 * projector's consumer (its own `ben tail` and subscription consumers are its to manage).
 */
export function operatorPermissions(ns: NamespaceOptions = {}): Permissions {
  const { p, subjects, kv } = names(ns)
  return freeze({
    publish: [
      subjects.factsAll,
      subjects.cmdAll,
      `${p}.svc.query`,
      `${p}.svc.rebuild`,
      ...JS_READ,
      ...[Bucket.Policy, Bucket.Redaction, Bucket.Detectors, Bucket.Keys].map((b) => `$KV.${kv(b)}.>`),
      // webhook notifiers (`ben notify add|remove`)
      `$KV.${notifyBucketName({ streamPrefix: ns.streamPrefix })}.>`,
    ],
    subscribe: [`${p}.>`, '_INBOX.>'],
    denyPublish: [...STAGE_CONSUMERS, ...PROJECTOR_CONSUMERS].flatMap(consumerControlSubjects),
  })
}

function freeze(p: { publish: string[]; subscribe: string[]; denyPublish?: string[] }): Permissions {
  return Object.freeze({ publish: Object.freeze(p.publish), subscribe: Object.freeze(p.subscribe), ...(p.denyPublish ? { denyPublish: Object.freeze(p.denyPublish) } : {}) })
}
