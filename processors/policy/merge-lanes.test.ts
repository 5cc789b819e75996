import { merge, queueScheduler, Subject } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import { mergeLanes } from './index.js'

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

describe('mergeLanes', () => {
  it('when both lanes have items buffered, alerts go first (plain merge would not)', () => {
    scheduler().run(({ hot, expectObservable }) => {
      // The anomaly lane is created first, so within frame 2 its items arrive before the alert.
      const anomaly$ = hot('--(xy)--|')
      const alert$ = hot('--a-----|')
      expectObservable(merge(alert$, anomaly$)).toBe('--(xya)-|')
      expectObservable(mergeLanes(alert$, anomaly$)).toBe('--(axy)-|')
    })
  })

  it('keeps order within a lane and does not hold back earlier anomalies', () => {
    scheduler().run(({ hot, expectObservable }) => {
      const anomaly$ = hot('-x---(yz)--|')
      const alert$ = hot(' ---a-(bc)--|')
      expectObservable(mergeLanes(alert$, anomaly$)).toBe('-x-a-(bcyz)|')
    })
  })

  it('completes only when both lanes complete, and passes errors on at once', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(mergeLanes(cold('-a|'), cold('---x---|'))).toBe('-a-x---|')
      expectObservable(mergeLanes(cold('-a-#', undefined, new Error('boom')), cold('--x---|'))).toBe('-ax#', undefined, new Error('boom'))
    })
  })

  it('unsubscribing stops both lanes', () => {
    scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const anomaly$ = hot('-x-y-z-|')
      const alert$ = hot('--a-b-c|')
      expectObservable(mergeLanes(alert$, anomaly$), '^---!').toBe('-xay')
      expectSubscriptions(anomaly$.subscriptions).toBe('^---!')
      expectSubscriptions(alert$.subscriptions).toBe('^---!')
    })
  })

  it('items pushed re-entrantly during a drain join it, alerts first', () => {
    const seen: string[] = []
    const alerts = new Subject<string>()
    const anomalies = new Subject<string>()
    mergeLanes(alerts, anomalies, queueScheduler).subscribe((v) => {
      seen.push(v)
      if (v === 'x1') {
        anomalies.next('x2')
        alerts.next('a2')
      }
    })
    anomalies.next('x1')
    expect(seen).toEqual(['x1', 'a2', 'x2'])
    anomalies.next('x3')
    expect(seen).toEqual(['x1', 'a2', 'x2', 'x3'])
  })
})
