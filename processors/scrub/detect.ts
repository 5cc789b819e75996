import { implOf, type CompiledManifest } from './compiled.js'
import { findSecrets, redactText, type Finding } from './scan.js'

export type { Finding }

/**
 * What a manifest's detectors find in a piece of text (detector, start, end), overlaps merged.
 * For tools, reports and tests (`ben scrub --explain`); the stage itself never allocates these.
 */
export function detectSecrets(manifest: CompiledManifest, text: string): Finding[] {
  return findSecrets(implOf(manifest).engine, text)
}

/** The text with every detected secret replaced by its placeholder (one pass, no field rules). */
export function redactString(manifest: CompiledManifest, text: string): string {
  const m = implOf(manifest)
  const counts = new Int32Array(m.engine.detectors.length)
  return redactText(m.engine, text, counts)
}
