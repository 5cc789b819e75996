import { CodedError } from '../schemas/index.js'

/** Stable codes of the incident listing and report (reads of the incidents tables). Never reused. */
export const ReportErrorCode = {
  /** An option is malformed (source, severity, since, limit, incident id). */
  BadOption: 'bad_option',
  /** No incident matches the id (or id prefix) given. */
  NotFound: 'not_found',
  /** More than one incident matches an id prefix. */
  Ambiguous: 'ambiguous',
  /** A row read back from ClickHouse does not decode into the fact it should hold. */
  Undecodable: 'undecodable',
} as const
export type ReportErrorCode = (typeof ReportErrorCode)[keyof typeof ReportErrorCode]

export class ReportError extends CodedError<ReportErrorCode> {
  override name = 'ReportError'
}
export const isReportError = (err: unknown): err is ReportError => err instanceof ReportError
