/** The act stage's public door: decisions in, signed commands out. Keys, signing and trust are in keys/. See README.md. */
export { actStage, act, actConfig, initialActState, DEFAULT_TTL_MS, type ActConfig, type ActState, type VerbSettings } from './act-stage.js'
