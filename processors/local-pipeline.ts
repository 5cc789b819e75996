import { subjectMatches, type Subjects } from '../streams/index.js'
import type { Fact, RawFact } from '../schemas/index.js'
import type { KeyPair } from '../keys/index.js'
import { stageFeed, type StageFeed, type Versioned } from './stage.js'
import { actConfigOf, PIPELINE, specOf, STAGE_NAMES, type StageName } from './pipeline.js'

/** What one batch produced, per stage, in the order each stage derived it (with the subject it goes to). */
export type BatchOutput = Record<StageName, Array<{ readonly fact: Fact; readonly subject: string }>>

/**
 * The whole stage graph in one process, without JetStream: each batch of raw facts goes through
 * every stage in graph order; a stage takes the batch's facts on its input lanes, highest lane
 * first, each lane in the order the facts were made — what the live runners do when each stage
 * has drained the previous one. Stages are stepped through `stageFeed`, the composition the
 * live runner uses. Configs are the built-in defaults (revision 0) unless given.
 */
export class LocalPipeline {
  private readonly feeds: Record<StageName, StageFeed<unknown, Fact>>

  constructor(
    private readonly subjects: Subjects,
    issuer: KeyPair,
    configs: Partial<Record<StageName, Versioned<unknown>>> = {},
  ) {
    const feeds = {} as Record<StageName, StageFeed<unknown, Fact>>
    for (const name of STAGE_NAMES) {
      const spec = specOf(name)
      let cfg = configs[name] ?? { bucket: spec.config.bucket, revision: 0, value: spec.config.fallback() }
      if (name === 'act' && !configs.act) {
        const r = actConfigOf(PIPELINE.policy.config.fallback(), issuer)
        if (!r.ok) throw new Error(r.error.message)
        cfg = { bucket: spec.config.bucket, revision: 0, value: r.value }
      }
      const fixed = Object.freeze(cfg)
      feeds[name] = stageFeed(spec.stage, () => fixed)
    }
    this.feeds = feeds
  }

  /** Runs one batch of raw facts through the graph. */
  run(raw: readonly RawFact[]): BatchOutput {
    const s = this.subjects
    const made: Array<{ readonly fact: Fact; readonly subject: string }> = raw.map((f) => ({ fact: f, subject: s.forFact(f) }))
    const out = {} as BatchOutput
    for (const name of STAGE_NAMES) {
      const spec = specOf(name)
      const mine: BatchOutput[StageName] = (out[name] = [])
      const feed = this.feeds[name]
      for (const lane of spec.inputs) {
        const filter = lane.filter(s)
        const exclude = lane.exclude?.(s)
        for (const m of made) {
          if (!subjectMatches(filter, m.subject) || (exclude && subjectMatches(exclude, m.subject))) continue
          const e = feed.push(m.fact)
          if (e) for (const f of e.out) mine.push({ fact: f, subject: spec.subjectFor(s, f) })
        }
      }
      for (const m of mine) made.push(m)
    }
    return out
  }

  close(): void {
    for (const name of STAGE_NAMES) this.feeds[name].close()
  }
}
