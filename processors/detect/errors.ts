import { CodedError } from '../../schemas/index.js'
/** Stable codes of the detect folder's errors (thrown only at start-up or by the offline tool). */
export const DetectErrorCode = {
  /** A detector config file could not be read, parsed or validated. */
  BadConfig: 'DETECT_BAD_CONFIG',
  /** The offline CSV has no `timestamp,value` header or cannot be read/written. */
  BadCsv: 'DETECT_BAD_CSV',
} as const
export type DetectErrorCode = (typeof DetectErrorCode)[keyof typeof DetectErrorCode]

export class DetectError extends CodedError<DetectErrorCode> {
  override name = 'DetectError'
}

export const isDetectError = (err: unknown): err is DetectError => err instanceof DetectError
export const isBadDetectorConfig = (err: unknown): boolean => isDetectError(err) && err.code === DetectErrorCode.BadConfig
