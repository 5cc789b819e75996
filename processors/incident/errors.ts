import { CodedError, problemsMessage } from '../../schemas/index.js'
/** Stable codes of the incident folder's errors (thrown only at start-up; configs return them as values). */
export const IncidentErrorCode = {
  /** The config text is not YAML/JSON. */
  Syntax: 'INCIDENT_CONFIG_SYNTAX',
  /** The config parsed but a field is wrong (see `issues`). */
  Invalid: 'INCIDENT_CONFIG_INVALID',
} as const
export type IncidentErrorCode = (typeof IncidentErrorCode)[keyof typeof IncidentErrorCode]

export class IncidentError extends CodedError<IncidentErrorCode> {
  override name = 'IncidentError'
  /** One line per problem, each naming the field and saying what to do. */
  readonly issues: readonly string[]
  constructor(code: IncidentErrorCode, issues: readonly string[], options?: { cause?: unknown }) {
    super(code, problemsMessage('the incident config', issues), options)
    this.issues = Object.freeze([...issues])
  }
}

export const isIncidentError = (err: unknown): err is IncidentError => err instanceof IncidentError
export const isBadIncidentConfig = (err: unknown): boolean => isIncidentError(err) && (err.code === IncidentErrorCode.Invalid || err.code === IncidentErrorCode.Syntax)
