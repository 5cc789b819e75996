import { CodedError } from '../schemas/index.js'
/** Stable codes for what can stop a replay before it compares anything. */
export const ReplayErrorCode = {
  /** No incident with that id (or prefix) in the `incidents` projection. */
  UnknownIncident: 'unknown_incident',
  /** An id prefix that names more than one incident. */
  AmbiguousIncident: 'ambiguous_incident',
  /** A recorded config revision is no longer in the KV bucket's history, or does not load. */
  ConfigMissing: 'config_missing',
  /** `--what-if` file that is none of policy pack, detector config, redaction manifest. */
  BadWhatIf: 'bad_what_if',
  /** Bad options: times, durations, patterns. */
  BadOptions: 'bad_options',
  /** A stream or table the replay needs is not there. */
  NoData: 'no_data',
} as const
export type ReplayErrorCode = (typeof ReplayErrorCode)[keyof typeof ReplayErrorCode]

export class ReplayError extends CodedError<ReplayErrorCode> {
  override name = 'ReplayError'
}

export const isReplayError = (e: unknown): e is ReplayError => e instanceof ReplayError
