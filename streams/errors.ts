import { CodedError } from '../schemas/index.js'
/** Why a publish failed. Stable codes: callers branch on them, never on message text. */
export const PublishFailure = {
  /** No PubAck within the ack timeout, after every retry. */
  Timeout: 'timeout',
  /** No stream captures the subject (NATS 503 no responders). */
  NoStream: 'no_stream',
  /** JetStream answered with an API error (limits, permissions, …). */
  Refused: 'refused',
  /** The client could not send it (connection closed or draining). */
  NotSent: 'not_sent',
  /** The publisher was closed before the fact was sent. */
  Closed: 'closed',
  /**
   * JetStream answered `duplicate`, but the message it kept under that Nats-Msg-Id is on
   * another subject: another source's message took the id, and this fact was not stored.
   */
  IdConflict: 'id_conflict',
  /** Given up by the caller: the server stopped answering (`FactPublisher.failPending`). */
  Abandoned: 'abandoned',
} as const
export type PublishFailure = (typeof PublishFailure)[keyof typeof PublishFailure]

/** Stable codes of streams' own refusals (opening a durable consumer). Never reused. */
export const StreamsErrorCode = {
  /** No JetStream stream holds the subjects asked for (is the topology there?). */
  NoStream: 'no_stream',
  /** A durable consumer of that name exists with another subject filter. */
  DurableConflict: 'durable_conflict',
} as const
export type StreamsErrorCode = (typeof StreamsErrorCode)[keyof typeof StreamsErrorCode]

export class StreamsError extends CodedError<StreamsErrorCode> {
  override name = 'StreamsError'
}
export const isStreamsError = (err: unknown): err is StreamsError => err instanceof StreamsError
