import { CodedError } from '../schemas/index.js'
/**
 * The sidecar's failures and refusal reasons. Codes label metrics and logs and are never reused.
 */

/** Why one input was refused at the edge (accept() and POST /facts): intake's record reasons. */
export { RecordReason as AcceptReason } from '../intake/errors.js'

export const SidecarErrorCode = {
  /** An option is missing or out of range (the message names it). */
  Config: 'sidecar_config',
  /** The sidecar is closed (or closing). */
  Closed: 'sidecar_closed',
  /** `--listen` names a non-loopback address, or the address cannot be bound. */
  Listen: 'sidecar_listen',
  /** The WAL failed in a way the sidecar cannot work around (I/O error, corruption); the cause is attached. */
  Wal: 'sidecar_wal',
  /** A handler was registered for a verb the verb registry does not define. */
  UnknownVerb: 'sidecar_unknown_verb',
} as const
export type SidecarErrorCode = (typeof SidecarErrorCode)[keyof typeof SidecarErrorCode]

export class SidecarError extends CodedError<SidecarErrorCode> {
  override name = 'SidecarError'
}

export const isSidecarError = (err: unknown): err is SidecarError => err instanceof SidecarError
