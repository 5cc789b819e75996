import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * Seconds each long test file took in a measured run of the whole suite (files under 5 s are
 * left out). A fresh clone (CI) has no vitest cache, and vitest then orders files by size: a
 * small file that runs for minutes (replay.test.ts) started last and the run ended on it alone.
 */
const MEASURED = JSON.parse(readFileSync(new URL('./durations.json', import.meta.url), 'utf8')) as Record<string, number>

/**
 * Runs the integration project before the unit project (the unit files are short and fill the
 * end of the run), and inside each the longest files first: the duration vitest measured last
 * time when it has one, else the committed figure, else the file's size (vitest's own order).
 */
export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const bySize = await super.sort(files)
    const rank = new Map(bySize.map((f, i) => [f, i]))
    const root = this.ctx.config.root
    const estimate = (f: TestSpecification): number => {
      const file = relative(root, f.moduleId)
      const cached = this.ctx.cache.getFileTestResults(`${f.project.name}:${file}`)
      return cached ? cached.duration / 1000 : (MEASURED[file] ?? 0)
    }
    const projectOrder = (f: TestSpecification): number => (f.project.name === 'unit' ? 1 : 0)
    return [...files].sort((a, b) => projectOrder(a) - projectOrder(b) || estimate(b) - estimate(a) || rank.get(a)! - rank.get(b)!)
  }
}
