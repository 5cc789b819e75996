import { z } from 'zod'
import { describeIssues } from '../schemas/index.js'

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]
export const NotifyKind = { Anomaly: 'anomaly', Incident: 'incident', Proposal: 'proposal' } as const
export type NotifyKind = (typeof NotifyKind)[keyof typeof NotifyKind]
export const NotifyFormat = { Alertmanager: 'alertmanager', Json: 'json' } as const
export type NotifyFormat = (typeof NotifyFormat)[keyof typeof NotifyFormat]

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters: lowercase letters, digits, - and _ (a KV key)')

export const NotifierConfig = z
  .object({
    name,
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL'),
    format: z.enum([NotifyFormat.Alertmanager, NotifyFormat.Json]).default(NotifyFormat.Json),
    /** Notify only at or above this severity. */
    minSeverity: z.enum(SEVERITIES).default('high'),
    /** Source glob (`*` any run of characters, `?` one); default every source. */
    source: z.string().min(1).max(256).default('*'),
    kinds: z
      .array(z.enum([NotifyKind.Anomaly, NotifyKind.Incident, NotifyKind.Proposal]))
      .min(1)
      .default([NotifyKind.Anomaly, NotifyKind.Incident, NotifyKind.Proposal]),
    /** HMAC-SHA256 key; the signature goes in `X-Ben-Signature: sha256=<hex>` over `<timestamp>.<body>`. */
    secret: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Attempts after the first. */
    retries: z.number().int().min(0).max(20).default(5),
    backoffMs: z.number().int().min(10).max(60_000).default(500),
    maxBackoffMs: z.number().int().min(10).max(300_000).default(30_000),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    /** Link back to Ben shown in Alertmanager payloads (externalURL, generatorURL). */
    externalUrl: z.string().default(''),
  })
  .strict()
export type NotifierConfig = z.infer<typeof NotifierConfig>

export type ConfigResult = { ok: true; value: NotifierConfig } | { ok: false; message: string }

/** Validates a notifier once (CLI input, KV value). */
export function parseNotifier(input: unknown): ConfigResult {
  const r = NotifierConfig.safeParse(input)
  return r.success ? { ok: true, value: Object.freeze(r.data) } : { ok: false, message: describeIssues(r.error) }
}
