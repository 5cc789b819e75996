import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fail, packageRoot, RejectReason, type Result } from '../../schemas/index.js'
import type { Versioned } from '../stage.js'
import { loadDetectorConfig, type DetectorConfig } from './config.js'
import { DetectError, DetectErrorCode } from './errors.js'

/** KV bucket holding detector configs (DESIGN.md). */
export const DETECTORS_BUCKET = 'ben-detectors'

/** Where the shipped default config lives (from source and from dist/). */
export const defaultDetectorConfigPath = (): string => join(packageRoot(), 'processors', 'detect', 'default-detectors.yaml')

/** Reads and loads a YAML/JSON config file. I/O: for runners and the CLI, never inside a stage. */
export function readDetectorConfig(path: string): Result<DetectorConfig> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    return fail(RejectReason.Invalid, `cannot read detector config ${path}: ${(err as Error).message}`)
  }
  const r = loadDetectorConfig(text)
  return r.ok ? r : fail(r.error.reason, `${path}: ${r.error.message}`)
}

let cached: Versioned<DetectorConfig> | undefined

/** The shipped default (revision 0 of `ben-detectors`). Throws only if the shipped file is broken. */
export function defaultDetectorConfig(): Versioned<DetectorConfig> {
  if (cached) return cached
  const r = readDetectorConfig(defaultDetectorConfigPath())
  if (!r.ok) throw new DetectError(DetectErrorCode.BadConfig, r.error.message)
  cached = Object.freeze({ bucket: DETECTORS_BUCKET, revision: 0, value: r.value })
  return cached
}
