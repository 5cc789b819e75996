export { stageService, stageServiceName, lane, type StageServiceSpec } from './service.js'
export { scrubService, detectService, policyService, actService, incidentService, laneInputs, unitService, ConfigKey, type StageUnit } from './stages.js'
