import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { packageRoot } from './paths.js'

/** The `yaml` package, loaded on first use only (about 75 modules and 75 ms of CPU a process). */
export function yamlModule(): typeof import('yaml') {
  return (yamlMod ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'))
}
let yamlMod: typeof import('yaml') | undefined

/** Where parsed texts are kept: `<package root>/node_modules/.cache/ben-yaml` (BEN_YAML_CACHE overrides; `off` disables). */
export function yamlCacheDir(): string | undefined {
  const v = process.env.BEN_YAML_CACHE
  if (v === 'off') return undefined
  if (v) return v
  try {
    return join(packageRoot(), 'node_modules', '.cache', 'ben-yaml')
  } catch {
    return undefined
  }
}

/** What a parse gave: the plain value, or anything else (an error result, passed through and never cached). */
export type Parsed<E> = { readonly ok: true; readonly value: unknown } | E

/**
 * `parse(text)` through a cache on disk keyed by the SHA-256 of `kind` and the text: a start of
 * Ben parses its built-in YAML (the redaction manifest: 41 KB, 400–800 ms of CPU in `yaml`) once
 * per install instead of once per process (`ben up`, each worker). A hit is a JSON read; the
 * entry names its key, so a truncated, foreign or stale file is a miss. Only successes whose
 * value survives JSON unchanged are written (atomically: temporary file, then rename); a cache
 * that cannot be read or written (read-only install) only costs the parse.
 */
export function cachedParse<E>(kind: string, text: string, parse: (text: string) => Parsed<E>): Parsed<E> {
  const dir = yamlCacheDir()
  if (!dir) return parse(text)
  const key = createHash('sha256').update(kind).update('\0').update(text).digest('hex')
  const file = join(dir, `${key}.json`)
  try {
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { key?: string; value?: unknown }
    if (entry.key === key && 'value' in entry) return { ok: true, value: entry.value }
  } catch {
    // a miss: parse below
  }
  const r = parse(text)
  if (r !== null && typeof r === 'object' && 'ok' in r && r.ok === true) {
    try {
      const json = JSON.stringify({ key, value: r.value })
      if (isDeepStrictEqual((JSON.parse(json) as { value: unknown }).value, r.value)) {
        mkdirSync(dir, { recursive: true })
        const tmp = `${file}.${process.pid}.tmp`
        writeFileSync(tmp, json)
        renameSync(tmp, file)
      }
    } catch {
      // not cached: the next process parses again
    }
  }
  return r
}

/** `yaml`'s `parse` (throws on a syntax error), through the cache above; `kind` names the caller and its options. */
export function parseYamlCached(kind: string, text: string, options?: { readonly uniqueKeys?: boolean }): unknown {
  const r = cachedParse(kind, text, (t) => ({ ok: true, value: yamlModule().parse(t, options) as unknown }) as const)
  return r.value
}
