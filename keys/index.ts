/** Keys, signing and trust: Ed25519 key pairs, signed commands and acks, verification, the trust store and the key registry (ben-keys). Used by act, the sidecar, replay, the console and the CLI, so it belongs to none of them. */
export { signCommand, cosign, approve, reject, commandIdOf, nonceOf, normaliseRequired, CommandStatus, ACT_STAGE, ACT_VERSION, ACT_PRODUCER, type SignOptions } from './command.js'
export { verifyCommand, type VerifyContext } from './verify.js'
export { signAck, verifyAck, AckStatus } from './ack.js'
export { replayGuard, type ReplayGuard } from './replay-guard.js'
export { trustStore, trustKey, revokeKey, lookupKey, serializeTrustStore, parseTrustStore, parseTrustedKey, trustedKeyJson, type TrustStore, type TrustedKey } from './trust.js'
export {
  generateKeyPair,
  keyIdOf,
  serializeKeyPair,
  serializePublicKey,
  publicKeyJson,
  loadKeyPair,
  loadPublicKey,
  parsePublicKey,
  KEY_ROLES,
  type KeyPair,
  type KeyRole,
  type PublicKey,
} from './keys.js'
export {
  defineVerb,
  verbRegistry,
  defaultVerbs,
  parseArgs,
  DEFAULT_VERBS,
  SIGNER_ROLES,
  SetModeArgs,
  ThrottleJobArgs,
  QuarantineArtifactArgs,
  type VerbSpec,
  type VerbRegistry,
  type SignerRole,
} from './verbs.js'
export { commandBytes, ackBytes, rejectionBytes, SignedType } from './signing.js'
export { VerifyReason, ActError, ActErrorCode, isActError, KeyringError, show, refuse, type VerifyError, type Verified } from './errors.js'
export { Keyring, registerKey, revokeRegisteredKey, readKey, listKeys, keyEntry, TrustWatcher } from './keyring.js'
