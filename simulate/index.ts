/** The simulated fleet's public door: deterministic telemetry, scenarios, simulated targets. See README.md. */
export { createFleet, generate, RATE_SHARES, type Fleet, type FleetEffect } from './fleet.js'
export {
  parseFleetOptions,
  scenarioByName,
  FleetOptions,
  ScenarioSpec,
  SCENARIO_KINDS,
  SECRET_KINDS,
  DRIFT_METRICS,
  type FleetOptionsInput,
  type ScenarioKind,
  type SecretKind,
  type DriftMetric,
} from './options.js'
export { WARM_SAMPLES, type ScenarioTruth } from './scenarios.js'
export { createSimTarget, INITIAL_TARGET_STATE, type SimTarget, type SimTargetOptions, type SimTargetState, type VerbHandler } from './target.js'
export { fleetTargets, simSidecarKey, trustSidecars, type FleetTargets } from './fleet-targets.js'
export { rngOf, seedOf, type Rng } from './prng.js'
export { SimulateError, SimulateErrorCode, isSimulateError } from './errors.js'
export { runSimulation, type Simulation, type SimulationOptions, type SimulationDeps, type SimulationStats } from './run.js'
