export const StreamsErrorCode = {
  NoStream: 'no_stream',
  Timeout: 'timeout',
  Rejected: 'rejected_by_server',
  Closed: 'closed',
} as const
export type StreamsErrorCode = (typeof StreamsErrorCode)[keyof typeof StreamsErrorCode]

export class StreamsError extends Error {
  override name = 'StreamsError'
  constructor(
    readonly code: StreamsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
export const isStreamsError = (err: unknown): err is StreamsError => err instanceof StreamsError
