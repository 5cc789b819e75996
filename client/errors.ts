import { CodedError } from '../schemas/errors.js'
/** Stable codes of the library's subscription and incident-report errors. Never reused. */
export const ClientErrorCode = {
  /** An option is malformed (source pattern, severity, durable name, start position). */
  BadOption: 'bad_option',
  /** A durable consumer of that name exists with another subject filter. */
  DurableConflict: 'durable_conflict',
  /** No JetStream stream holds the subjects asked for (is the topology there?). */
  NoStream: 'no_stream',
  /** No incident matches the id (or id prefix) given. */
  NotFound: 'not_found',
  /** More than one incident matches an id prefix. */
  Ambiguous: 'ambiguous',
  /** A row read back from ClickHouse does not decode into the fact it should hold. */
  Undecodable: 'undecodable',
  /** The command was already approved or rejected. */
  AlreadyDecided: 'already_decided',
  /** The act stage refused to approve or reject (expired, wrong key, not a proposal). */
  Refused: 'refused',
  /** JetStream did not store the approval or rejection. */
  PublishFailed: 'publish_failed',
} as const
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode]

/** An expected failure of `anomalies()`, `incidents()` or the incident queries. */
export class ClientError extends CodedError<ClientErrorCode> {
  override name = 'ClientError'
}

export const isClientError = (err: unknown): err is ClientError => err instanceof ClientError
