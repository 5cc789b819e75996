import { describe, expect, it } from 'vitest'
import { collapseRepeats } from './log.js'

const line = (level: number, msg: string, extra: Record<string, unknown> = {}) => JSON.stringify({ level, time: 0, ...extra, msg }) + '\n'

describe('collapseRepeats', () => {
  it('writes a repeated warning once per window, then one line with the count and the last fields; info passes untouched', () => {
    let t = 1_000_000
    const out: string[] = []
    const dest = collapseRepeats({ write: (l: string) => out.push(l) }, 60_000, () => t)
    for (let i = 0; i < 50; i++) {
      dest.write(line(40, 'stage scrub failed: restarting', { err: `no space left (${i})` }))
      dest.write(line(30, 'stage scrub started'))
      t += 1000
    }
    dest.write(line(50, 'another trouble'))
    expect(out.filter((l) => l.includes('"level":30'))).toHaveLength(50)
    expect(out.filter((l) => l.includes('stage scrub failed'))).toHaveLength(1)
    expect(out.filter((l) => l.includes('another trouble'))).toHaveLength(1)
    // the window ends: the next occurrence first says how many were counted, then is written
    t += 10_000
    dest.write(line(40, 'stage scrub failed: restarting', { err: 'no space left (50)' }))
    const warns = out.filter((l) => l.includes('stage scrub failed')).map((l) => JSON.parse(l) as { msg: string; repeated?: number; err: string })
    expect(warns).toHaveLength(3)
    expect(warns[1]).toMatchObject({ msg: 'stage scrub failed: restarting … repeated 49 times in the last 60 s', repeated: 49, err: 'no space left (49)' })
    expect(warns[2].repeated).toBeUndefined()
  })

  it('a warning that does not repeat costs one line and no summary', () => {
    let t = 0
    const out: string[] = []
    const dest = collapseRepeats({ write: (l: string) => out.push(l) }, 60_000, () => t)
    dest.write(line(40, 'once'))
    t += 120_000
    dest.write(line(40, 'once'))
    expect(out).toEqual([line(40, 'once'), line(40, 'once')])
  })

  it('the same warning from two speakers is two kinds: one never hides the other', () => {
    const t = 0
    const out: string[] = []
    const dest = collapseRepeats({ write: (l: string) => out.push(l) }, 60_000, () => t)
    dest.write(line(40, 'restarting from the last checkpoint', { service: 'projector:facts-scrubbed' }))
    dest.write(line(40, 'restarting from the last checkpoint', { service: 'stage:detect' }))
    dest.write(line(40, 'restarting from the last checkpoint', { service: 'stage:detect' }))
    expect(out.map((l) => (JSON.parse(l) as { service: string }).service)).toEqual(['projector:facts-scrubbed', 'stage:detect'])
  })
})
