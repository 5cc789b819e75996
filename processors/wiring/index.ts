export { stageService, lane, type StageServiceSpec } from './service.js'
export { scrubService, detectService, policyService, actService, incidentService, laneInputs, ConfigKey } from './stages.js'
