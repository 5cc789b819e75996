export { stageService, lane, type StageServiceSpec } from './service.js'
export { scrubService, detectService, policyService, actService, ConfigKey } from './stages.js'
