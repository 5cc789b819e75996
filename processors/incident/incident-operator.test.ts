import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import type { AnomalyFact, IncidentFact } from '../../schemas/index.js'
import type { Emission, Versioned } from '../stage.js'
import { incident, type IncidentConfig, type IncidentInput } from './index.js'
import { alert, anomaly, cfg, decision, MIN, T0 } from '../../test/fixtures/incident.js'

const C = cfg()
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
/** Per emission: the transitions it produced (`,`-joined), `none`, or the rejection reason. */
const summary = (e: Emission<IncidentInput>): string =>
  e.rejected ? `rejected:${e.rejected.reason}` : e.out.map((f) => (f as IncidentFact).payload.transition).join(',') || 'none'

describe('incident operator (marbles)', () => {
  it('happy path: an anomaly opens, an alert about the same job and the linked decision update', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('-a-b-c|', { a: anomaly('a1', T0), b: alert('s1', T0 + 1000), c: decision('d1', T0 + 2000, { basis: ['a1'] }) })
      expectObservable(
        src.pipe(
          incident(() => C),
          map(summary),
        ),
      ).toBe('-a-b-c|', { a: 'opened', b: 'updated', c: 'updated' })
    })
  })

  it('reject path: a malformed fact is emitted as rejected and the stream goes on with its state', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const bad = { ...anomaly('bad', T0), payload: { ...anomaly('bad', T0).payload, severity: 'urgent' } } as AnomalyFact
      const src = cold('-a-x-b|', { a: anomaly('a1', T0), x: bad, b: anomaly('a2', T0 + 1000) })
      expectObservable(
        src.pipe(
          incident(() => C),
          map(summary),
        ),
      ).toBe('-a-x-b|', { a: 'opened', x: 'rejected:invalid', b: 'updated' })
    })
  })

  it('event-time window: a fact beyond the quiet period resolves the quiet incident before it is correlated', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('abcd|', {
        a: anomaly('a1', T0),
        b: anomaly('a2', T0 + 10 * MIN),
        c: anomaly('z1', T0 + 25 * MIN, { source: 'db-1' }),
        d: anomaly('a3', T0 + 25 * MIN + 1),
      })
      expectObservable(
        src.pipe(
          incident(() => C),
          map(summary),
        ),
      ).toBe('abcd|', { a: 'opened', b: 'updated', c: 'opened', d: 'resolved,opened' })
    })
  })

  it('hot-reloads the config between facts: a new revision is recorded and applies its quiet period', () => {
    scheduler().run(({ cold, expectObservable }) => {
      let current: Versioned<IncidentConfig> = C
      const src = cold('-a-b|', { a: anomaly('a1', T0), b: anomaly('z', T0 + 2 * MIN, { labels: { job: 'batch-9' } }) })
      const out = src.pipe(
        incident(() => current),
        map((e) => {
          const s = `${summary(e)}@${e.out.map((f) => JSON.stringify(f.config)).join(',')}`
          current = cfg({ quietPeriod: '1m' }, 9)
          return s
        }),
      )
      expectObservable(out).toBe('-a-b|', { a: 'opened@{"ben-incidents":4}', b: 'resolved,opened@{"ben-incidents":9},{"ben-incidents":9}' })
    })
  })

  it('unsubscribing stops the upstream', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-a-b-c-|', { a: anomaly('a1', T0), b: anomaly('a2', T0 + 1), c: anomaly('a3', T0 + 2) })
      expectObservable(
        src.pipe(
          incident(() => C),
          map(summary),
        ),
        '^--!',
      ).toBe('-a-', { a: 'opened' })
      expectSubscriptions(src.subscriptions).toBe('^--!')
    })
  })
})
