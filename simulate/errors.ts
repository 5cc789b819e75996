import { CodedError } from '../schemas/index.js'
/** Stable codes for the simulator's failures. Never reused; callers test with `isSimulateError`. */
export const SimulateErrorCode = {
  /** Fleet or scenario options are wrong (a field, a host or a job that does not exist). */
  BadOptions: 'sim_bad_options',
  /** A simulated target was asked to act on something it does not have (e.g. an unknown job). */
  NoSuchThing: 'sim_no_such_thing',
  /** A simulated target has no handler for a verb it was configured to accept. */
  NoHandler: 'sim_no_handler',
} as const
export type SimulateErrorCode = (typeof SimulateErrorCode)[keyof typeof SimulateErrorCode]

export class SimulateError extends CodedError<SimulateErrorCode> {
  override name = 'SimulateError'
}

export const isSimulateError = (err: unknown): err is SimulateError => err instanceof SimulateError
