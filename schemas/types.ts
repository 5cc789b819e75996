/**
 * TypeScript view of the Avro schemas in this folder. The `.avsc` files are the wire truth;
 * `types.test.ts` holds these types to them field by field.
 */

export const Kind = {
  Metric: 'metric',
  Event: 'event',
  Diag: 'diag',
  Alert: 'alert',
  Anomaly: 'anomaly',
  Decision: 'decision',
  Command: 'command',
  Ack: 'ack',
  Incident: 'incident',
} as const
export type Kind = (typeof Kind)[keyof typeof Kind]

/** Raw kinds are what the edge publishes on `ben.fact.<kind>.<source>`. */
export const RAW_KINDS = ['metric', 'event', 'diag', 'alert'] as const
export type RawKind = (typeof RAW_KINDS)[number]

/** Priority lanes: alert > anomaly > routine; control is the command lane. */
export const Lane = { Alert: 'alert', Anomaly: 'anomaly', Routine: 'routine', Control: 'control' } as const
export type Lane = (typeof Lane)[keyof typeof Lane]

export const Severity = { Low: 'low', Medium: 'medium', High: 'high', Critical: 'critical' } as const
export type Severity = (typeof Severity)[keyof typeof Severity]
export const SEVERITY_ORDER: Readonly<Record<Severity, number>> = { low: 0, medium: 1, high: 2, critical: 3 }

export type Labels = Readonly<Record<string, string>>

export interface Redaction {
  readonly field: string
  readonly rule: string
  readonly count: number
}

export interface MetricPayload {
  readonly name: string
  readonly value: number
  readonly labels: Labels
}
export interface EventPayload {
  readonly type: string
  readonly message: string
  readonly attrs: Labels
}
export interface DiagPayload {
  readonly component: string
  readonly message: string
  readonly attrs: Labels
}
export interface AlertPayload {
  readonly rule: string
  readonly severity: string
  readonly message: string
  readonly attrs: Labels
}

export interface DetectorScore {
  readonly name: string
  readonly score: number
  readonly raw: number
  readonly threshold: number
}
export interface Baseline {
  readonly centre: number
  readonly spread: number
}
export interface AnomalyPayload {
  readonly metric: string
  readonly value: number
  readonly score: number
  readonly threshold: number
  readonly detectors: readonly DetectorScore[]
  readonly baseline: Baseline
  readonly severity: string
  readonly labels: Labels
}

export interface CommandIntent {
  readonly verb: string
  readonly target: string
  readonly args: string
}
export interface LimitCheck {
  readonly name: string
  readonly allowed: boolean
  readonly detail: string
}
export interface DecisionPayload {
  readonly outcome: string
  readonly rule: string
  readonly pack: string
  readonly packRevision: number
  readonly severity: string
  readonly command: CommandIntent | null
  readonly limits: readonly LimitCheck[]
  readonly suppressed: number
  readonly reason: string
  readonly labels: Labels
}

/** Avro `bytes` fields are Node Buffers on the way in (avsc checks Buffer.isBuffer). */
export interface Signature {
  readonly keyId: string
  readonly role: string
  readonly sig: Uint8Array
}
export interface CommandPayload {
  readonly status: string
  readonly commandId: string
  readonly target: string
  readonly verb: string
  readonly args: string
  readonly issuedAt: number
  readonly expiresAt: number
  readonly nonce: string
  readonly keyId: string
  readonly decisionId: string
  readonly signatures: readonly Signature[]
  readonly reason: string | null
  /** Signer roles needed to execute (`issuer`, `operator`), covered by the issuer's signature. */
  readonly required: readonly string[]
}

export interface AckPayload {
  readonly commandId: string
  readonly target: string
  readonly verb: string
  readonly status: string
  readonly reason: string | null
  readonly keyId: string
  readonly sig: Uint8Array
}

export interface IncidentPayload {
  readonly incidentId: string
  readonly transition: string
  readonly severity: string
  readonly entity: Labels
  readonly openedAt: number
  readonly updatedAt: number
  readonly factIds: readonly string[]
  readonly title: string
}

interface FactBase<K extends Kind, P> {
  readonly id: string
  /** Event time, epoch ms. */
  readonly ts: number
  readonly source: string
  readonly lane: Lane | string
  readonly kind: K
  readonly payload: P
  readonly lineage: readonly string[]
  readonly producer: string
  readonly config: Readonly<Record<string, number>>
  readonly explain: string | null
}

interface RawFactBase<K extends Kind, P> extends FactBase<K, P> {
  readonly redactions: readonly Redaction[]
}

export type MetricFact = RawFactBase<'metric', MetricPayload>
export type EventFact = RawFactBase<'event', EventPayload>
export type DiagFact = RawFactBase<'diag', DiagPayload>
export type AlertFact = RawFactBase<'alert', AlertPayload>
export type AnomalyFact = FactBase<'anomaly', AnomalyPayload>
export type DecisionFact = FactBase<'decision', DecisionPayload>
export type CommandFact = FactBase<'command', CommandPayload>
export type AckFact = FactBase<'ack', AckPayload>
export type IncidentFact = FactBase<'incident', IncidentPayload>

export type RawFact = MetricFact | EventFact | DiagFact | AlertFact
export type Fact = RawFact | AnomalyFact | DecisionFact | CommandFact | AckFact | IncidentFact
export type FactOf<K extends Kind> = Extract<Fact, { kind: K }>

export interface DeadLetter {
  readonly id: string
  readonly stage: string
  readonly reason: string
  readonly message: string
  readonly subject: string
  readonly headers: Readonly<Record<string, string>>
  readonly data: Uint8Array
  readonly stream: string | null
  readonly seq: number
}

export interface Hello {
  readonly component: string
  readonly instance: string
  readonly version: string
  readonly ts: number
  readonly info: Readonly<Record<string, string>>
}

/** The Avro record name (`Ben-Schema` header) for each kind. */
export const RECORD_NAME: Readonly<Record<Kind, string>> = {
  metric: 'ben.Metric',
  event: 'ben.Event',
  diag: 'ben.Diag',
  alert: 'ben.Alert',
  anomaly: 'ben.Anomaly',
  decision: 'ben.Decision',
  command: 'ben.Command',
  ack: 'ben.Ack',
  incident: 'ben.Incident',
}

export function laneOf(kind: Kind): Lane {
  switch (kind) {
    case 'alert':
      return 'alert'
    case 'anomaly':
    case 'decision':
    case 'incident':
      return 'anomaly'
    case 'command':
    case 'ack':
      return 'control'
    case 'metric':
    case 'event':
    case 'diag':
      return 'routine'
    default: {
      const never: never = kind
      throw new Error(`unknown kind ${String(never)}`)
    }
  }
}
