/** The fleet: worker processes that own units (stages or their partitions) under KV leases, and the orchestrator that keeps them running. */
export { startWorker, type WorkerHandle, type WorkerOptions } from './worker.js'
export { startOrchestrator, type OrchestratorOptions, type WorkerSlot } from './orchestrator.js'
export { readFleet, type FleetEntry } from './registry.js'
export { workerContext, natsUrlOf } from './context.js'
export { unitKey, parseUnitKey, unitsFor, allUnits, deal, parseRange } from './units.js'
export { takeLease, renewLease, releaseLease, leaseKey, parseLease, type Lease } from './lease.js'
export { announceOnConnect } from './hello.js'
export { FleetError, FleetErrorCode, isFleetError } from './errors.js'
