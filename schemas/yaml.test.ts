import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cachedParse, parseYamlCached } from './yaml.js'

describe('parsed YAML kept on disk by content hash', () => {
  let dir: string
  let before: string | undefined
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ben-yaml-cache-'))
    before = process.env.BEN_YAML_CACHE
    process.env.BEN_YAML_CACHE = dir
  })
  afterEach(() => {
    if (before === undefined) delete process.env.BEN_YAML_CACHE
    else process.env.BEN_YAML_CACHE = before
    rmSync(dir, { recursive: true, force: true })
  })

  it('parses once: a second process start reads the entry, and gets the same value', () => {
    const text = 'a: 1\nb: [x, y]\nc: { d: true }\n'
    let parses = 0
    const parse = (t: string) => {
      parses++
      return { ok: true, value: parseYamlCached('plain', t) } as const
    }
    const first = cachedParse('test', text, parse)
    const second = cachedParse('test', text, parse)
    expect(parses).toBe(1)
    expect(second).toEqual(first)
    expect(first).toEqual({ ok: true, value: { a: 1, b: ['x', 'y'], c: { d: true } } })
    // another kind of the same text is another entry
    cachedParse('other', text, parse)
    expect(parses).toBe(2)
  })

  it('a truncated or foreign entry is a miss; a failure is never kept', () => {
    const text = 'k: v\n'
    cachedParse('test', text, () => ({ ok: true, value: { k: 'v' } }))
    const [file] = readdirSync(dir)
    writeFileSync(join(dir, file), JSON.stringify({ key: 'another', value: { k: 'forged' } }))
    expect(cachedParse('test', text, () => ({ ok: true, value: { k: 'v' } }))).toEqual({ ok: true, value: { k: 'v' } })
    writeFileSync(join(dir, file), readFileSync(join(dir, file), 'utf8').slice(0, 10))
    expect(cachedParse('test', text, () => ({ ok: true, value: { k: 'v' } }))).toEqual({ ok: true, value: { k: 'v' } })
    const bad = cachedParse('test', 'k: [', () => ({ ok: false, error: 'syntax' }) as const)
    expect(bad).toEqual({ ok: false, error: 'syntax' })
    expect(readdirSync(dir)).toHaveLength(1)
    expect(() => parseYamlCached('plain', 'k: [')).toThrow()
  })
})
