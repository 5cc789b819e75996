export { stageService, stageServiceName, lane, LaneSet, type StageServiceSpec } from './service.js'
export { alertPathService, detectPathServices, type AlertPathOptions, type ThreadUnit } from './alert-path.js'
export { scrubService, detectService, policyService, actService, incidentService, laneInputs, unitService, ConfigKey, type StageUnit } from './stages.js'
