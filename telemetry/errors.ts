import { CodedError } from '../schemas/index.js'

export const TelemetryErrorCode = {
  /** The metrics address cannot be bound. */
  Listen: 'telemetry_listen',
} as const
export type TelemetryErrorCode = (typeof TelemetryErrorCode)[keyof typeof TelemetryErrorCode]

export class TelemetryError extends CodedError<TelemetryErrorCode> {
  override name = 'TelemetryError'
}
export const isTelemetryError = (err: unknown): err is TelemetryError => err instanceof TelemetryError
