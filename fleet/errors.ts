/** Errors of the fleet (workers, leases, orchestrator). */
export const FleetErrorCode = { BadUnit: 'bad_unit', NoClickHouse: 'no_clickhouse', NotRunning: 'not_running' } as const
export type FleetErrorCode = (typeof FleetErrorCode)[keyof typeof FleetErrorCode]

export class FleetError extends Error {
  override readonly name = 'FleetError'
  constructor(
    readonly code: FleetErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

export const isFleetError = (err: unknown): err is FleetError => err instanceof FleetError
