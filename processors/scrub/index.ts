/**
 * The scrub stage: redaction manifests (field rules + free-text detectors) applied to raw facts.
 *
 * Runner usage:
 *   const r = loadManifest(kvEntry.string())            // on every new `ben-redaction` revision
 *   if (r.ok) current = versioned(r.value, kvEntry.revision)
 *   facts$.pipe(scrub(() => current))                    // Emission: scrubbed fact or rejection
 * Each scrubbed fact is published on `ben.scrubbed.<kind>.<source>`; rejections go to `ben.dlq.scrub`.
 */
export { scrubStage, scrubStep, scrubContentSafely, type Scrubbed, scrub, SCRUB_STAGE, SCRUB_VERSION, SCRUB_PRODUCER, REDACTION_BUCKET } from './scrub-stage.js'
export { loadManifest, compileManifest, type CompileOptions } from './compile.js'
export type { CompiledManifest } from './compiled.js'
export { MASK_PLACEHOLDER } from './compiled.js'
export { defaultManifest, defaultManifestPath, defaultManifestText, versioned } from './default-manifest.js'
export { ManifestError, isManifestError, ScrubErrorCode, ScrubRejectCode } from './errors.js'
export { DETECTOR_NAMES, BUILTIN_DETECTORS, type DetectorName } from './detectors.js'
export { TRUNCATION_MARK, HMAC_VALUE } from './text.js'
export { detectSecrets, redactString, type Finding } from './detect.js'
export { Manifest, FieldRule, RULE_NAMES, type RuleName } from './manifest-schema.js'
export { scrubFact, type ScrubFactResult } from './scrub-fact.js'
export { classifyKey, KeyClass } from './generic.js'
export { CatalogueEntry } from './catalogue.js'
