export { StageRunner, stageDurable, type LaneInput, type StageRunnerOptions, type RunnerDeps, type RunnerStats } from './stage-runner.js'
export { ConfigSource, openBucket, type ConfigSourceOptions } from './config-source.js'
export { CheckpointStore, type Checkpoint } from './checkpoint.js'
