export {
  AuthRole,
  sidecarPermissions,
  processorPermissions,
  projectorPermissions,
  operatorPermissions,
  sidecarInboxPrefix,
  sidecarConsumerName,
  sidecarIdentity,
  checkSidecarId,
  SIDECAR_ID_RE,
  STAGE_CONSUMERS,
  PROJECTOR_CONSUMERS,
  STREAM_ADMIN_SUBJECTS,
  consumerControlSubjects,
  type Permissions,
  type NamespaceOptions,
} from './permissions.js'
export { renderServerConfig, type AuthUser } from './server-config.js'
export { ensureIdentity, readIdentity, listIdentities, readSeed, seedFilePath, type Identity } from './identities.js'
export {
  authPaths,
  ensureAuth,
  writeServerConfig,
  permissionsOf,
  sidecarCredentials,
  reloadServer,
  recordSecureServer,
  forgetSecureServer,
  type AuthSetup,
  type AuthOptions,
  type SidecarCredentials,
} from './provision.js'
export { nkeySeedFile, nkeyConnectOptions } from './connect-auth.js'
export { watchPermissionViolations, type PermissionViolation } from './violations.js'
export { secureStart, parseSidecarList, type SecureStart } from './secure-up.js'
