import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { firstValueFrom, take, toArray } from 'rxjs'
import type { Observable } from 'rxjs'
import { connect, isClientError, type Ben } from '../client/index.js'
import { derivedId, FactCodec, type AnomalyFact, type Fact, type IncidentFact, type Severity } from '../schemas/index.js'
import { ben as runBen, benUp, type Background } from './support/cli.js'
import { tempDir, waitFor } from './support/servers.js'

// Event time a minute back, so every fact is well inside the incident stage's quiet period.
const T0 = Date.now() - 60_000
const SEVERITIES: Severity[] = ['low', 'medium', 'high', 'critical']
let seq = 0

/** A valid anomaly fact, as the detect stage would write it. */
function anomaly(source: string, severity: Severity, o: { metric?: string; labels?: Record<string, string> } = {}): AnomalyFact {
  const n = ++seq
  const input = derivedId('test-input', '1', 0, [source, String(n)])
  return {
    id: derivedId('detect', 'test', 0, [input], severity),
    ts: T0 + n * 10,
    source,
    lane: 'anomaly',
    kind: 'anomaly',
    payload: {
      metric: o.metric ?? 'queue.depth',
      value: 40 + n,
      score: 0.5 + SEVERITIES.indexOf(severity) / 10,
      threshold: 0.5,
      detectors: [{ name: 'ewma', score: 0.9, raw: 6.1, threshold: 3 }],
      baseline: { centre: 10, spread: 2 },
      severity,
      labels: o.labels ?? {},
    },
    lineage: [input],
    producer: 'detect@test',
    config: { 'ben-detectors': 0 },
    explain: `${o.metric ?? 'queue.depth'} on ${source} is ${40 + n}, far above its baseline 10 ± 2 (test fact ${n}).`,
  }
}

/**
 * Collects from an Observable until `n` items arrived, then `quietMs` more to catch extras. The
 * deadline only catches a subscription that never delivers: on a busy machine `ben up` and the
 * client take seconds for what takes milliseconds on a quiet one.
 */
async function collect<T>(source: Observable<T>, n: number | ((got: readonly T[]) => boolean), quietMs = 1500, timeoutMs = 120_000): Promise<T[]> {
  const got: T[] = []
  let failure: unknown
  const enough = typeof n === 'number' ? () => got.length >= n : () => n(got)
  const sub = source.subscribe({ next: (v) => got.push(v), error: (e) => (failure = e) })
  try {
    await waitFor(
      `${typeof n === 'number' ? `${n} items` : 'the items asked for'} (have ${got.length})`,
      () => (failure ? Promise.reject(failure) : enough() || undefined),
      timeoutMs,
      50,
    )
    await new Promise((r) => setTimeout(r, quietMs))
    if (failure) throw failure
    return got
  } finally {
    sub.unsubscribe()
  }
}

describe('subscribing to what Ben derives (anomalies, incidents) and reading incidents back', () => {
  const home = tempDir('ben-subs-')
  const env = { BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' }
  let up: Background
  let ben: Ben
  const reconnect = () => connect({ home: home.path })
  const publish = async (facts: Fact[]) => {
    const s = await ben.publish(facts)
    expect(s).toMatchObject({ failed: 0, rejected: 0 })
  }
  const filt = { a: [] as AnomalyFact[], b: [] as AnomalyFact[], other: [] as AnomalyFact[] }

  beforeAll(async () => {
    up = await benUp(env)
    ben = await reconnect()
    // Severities rise with event time on each source, so each incident opens at low.
    for (const sev of SEVERITIES) {
      filt.a.push(anomaly('filt-a', sev))
      filt.b.push(anomaly('filt-b', sev))
      filt.other.push(anomaly('other-c', sev))
    }
    await publish([...filt.a, ...filt.b, ...filt.other])
  })

  afterAll(async () => {
    await ben?.close()
    await up?.stop('SIGINT')
    home.remove()
  })

  it('a durable name resumes where the last run stopped (for-await, then Observable): no loss, no repeats', async () => {
    const six = SEVERITIES.concat(['low', 'high']).map((s) => anomaly('resume-a', s))
    await publish(six)
    const first = await reconnect()
    const seen: string[] = []
    for await (const f of first.anomalies({ name: 'app-x', source: 'resume-a', since: 'all' })) {
      seen.push(f.id)
      if (seen.length === 3) break
    }
    await first.close()
    expect(seen).toEqual(six.slice(0, 3).map((f) => f.id))

    const second = await reconnect()
    // A stopped subscriber's pull may still be open on the server and take the next facts:
    // they come back after ackWaitMs, so keep it shorter here than the default 30 s. Not much
    // shorter: a fact this subscriber holds un-acked for longer than ackWaitMs (its process or
    // the server starved of CPU for that long) is delivered again, which reads as a repeat. At
    // 2 s a busy machine could do that; 10 s is beyond its stalls.
    const ackWaitMs = 10_000
    const rest = await collect(second.anomalies({ name: 'app-x', source: 'resume-a', since: 'all', ackWaitMs }), 3)
    expect(rest.map((f) => f.id)).toEqual(six.slice(3).map((f) => f.id))
    // It keeps going: what is published now arrives once, after the rest.
    const more = [anomaly('resume-a', 'medium'), anomaly('resume-a', 'critical')]
    await publish(more)
    const later = await collect(second.anomalies({ name: 'app-x', source: 'resume-a', ackWaitMs }), 2)
    expect(later.map((f) => f.id)).toEqual(more.map((f) => f.id))
    await second.close()
  })

  it('a durable name resumes the other way round too (take(3), then for-await), with a severity filter', async () => {
    const eight = ['high', 'low', 'critical', 'high', 'medium', 'critical', 'high', 'critical'].map((s) => anomaly('resume-b', s as Severity))
    const wanted = eight.filter((f) => f.payload.severity === 'high' || f.payload.severity === 'critical')
    expect(wanted).toHaveLength(6)
    await publish(eight)
    const first = await reconnect()
    const head = await firstValueFrom(first.anomalies({ name: 'app-y', source: 'resume-b', severity: 'high', since: 'all' }).pipe(take(3), toArray()))
    await first.close()
    expect(head.map((f) => f.id)).toEqual(wanted.slice(0, 3).map((f) => f.id))

    const second = await reconnect()
    const tail: string[] = []
    for await (const f of second.anomalies({ name: 'app-y', source: 'resume-b', severity: 'high' })) {
      tail.push(f.id)
      if (tail.length === 3) break
    }
    expect(tail).toEqual(wanted.slice(3).map((f) => f.id))
    // Nothing is left behind for this durable: a third run sees nothing within a second.
    const left = await collect(second.anomalies({ name: 'app-y', source: 'resume-b', severity: 'high' }), 0, 1000)
    expect(left).toEqual([])
    await second.close()
  })

  it('filters by exact source, by source glob and by minimum severity; every fact decodes as published', async () => {
    const exact = await collect(ben.anomalies({ source: 'filt-a', severity: 'high', since: 'all' }), 2)
    expect(exact).toEqual(filt.a.slice(2))
    const glob = await collect(ben.anomalies({ source: 'filt-*', severity: 'medium', since: 'all' }), 6)
    expect(glob.map((f) => f.id).sort()).toEqual([...filt.a.slice(1), ...filt.b.slice(1)].map((f) => f.id).sort())
    const critical = await collect(ben.anomalies({ source: '*-c', severity: 'critical', since: 'all' }), 1)
    expect(critical.map((f) => f.id)).toEqual([filt.other[3].id])
    // Byte-identical round trip: what arrives re-encodes to what was published.
    const codec = new FactCodec()
    expect(Buffer.from(codec.encode(exact[0]).data)).toEqual(Buffer.from(codec.encode(filt.a[2]).data))
  })

  it('refuses malformed options with a typed error, and a durable name reused with another source', async () => {
    for (const bad of [{ severity: 'urgent' as Severity }, { source: 'a.b' }, { name: 'x.y' }, { name: 'app', since: { last: 3 } }]) {
      let err: unknown
      try {
        ben.anomalies(bad)
      } catch (e) {
        err = e
      }
      expect(isClientError(err) && err.code, JSON.stringify(bad)).toBe('bad_option')
    }
    await firstValueFrom(ben.anomalies({ name: 'app-z', source: 'filt-a', since: 'all' }))
    const err = await firstValueFrom(ben.anomalies({ name: 'app-z', source: 'filt-b' })).catch((e: unknown) => e)
    expect(isClientError(err) && err.code).toBe('durable_conflict')
  })

  it('follows the incidents Ben opens from those anomalies, filtered by source and severity', async () => {
    // Four anomalies (and the decisions the policy takes on them) join one incident per source.
    // Collected until every anomaly is cited, not for a fixed count and a quiet spell: transitions
    // for the decisions come too, and on a busy machine the last anomaly's may come after a pause.
    const cites = (got: readonly IncidentFact[]) => got.length >= 4 && filt.a.every((a) => got.some((f) => f.payload.factIds.includes(a.id)))
    const all = await collect(ben.incidents({ source: 'filt-a', since: 'all' }), cites, 500)
    expect(all[0].payload).toMatchObject({ transition: 'opened', severity: 'low' })
    expect(all.slice(1).every((f) => f.payload.transition === 'updated')).toBe(true)
    expect(all.every((f) => f.source === 'filt-a' && f.payload.incidentId === all[0].payload.incidentId)).toBe(true)
    expect(filt.a.every((a) => all.some((f) => f.payload.factIds.includes(a.id)))).toBe(true)
    const bothSources = (got: readonly IncidentFact[]) => new Set(got.map((f) => f.source)).size >= 2
    const severe = await collect(ben.incidents({ source: 'filt-*', severity: 'critical', since: 'all' }), bothSources, 1000)
    expect(severe.every((f) => f.payload.severity === 'critical')).toBe(true)
    expect([...new Set(severe.map((f) => f.source))].sort()).toEqual(['filt-a', 'filt-b'])
    expect(all.filter((f) => f.payload.severity !== 'critical').length).toBeGreaterThan(0)
  })

  it('`ben tail anomalies --severity high` prints only high and critical, as JSON lines or text', async () => {
    const r = await runBen(['tail', 'anomalies', '--severity', 'high', '--source', 'filt-*', '--all', '--limit', '4'], env)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const facts = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AnomalyFact)
    expect(facts.map((f) => f.id).sort()).toEqual([...filt.a.slice(2), ...filt.b.slice(2)].map((f) => f.id).sort())
    expect(facts.every((f) => f.kind === 'anomaly' && (f.payload.severity === 'high' || f.payload.severity === 'critical'))).toBe(true)

    const t = await runBen(['tail', 'anomalies', '--severity', 'critical', '--source', 'other-c', '--all', '--limit', '1', '--format', 'text'], env)
    expect(t.code).toBe(0)
    expect(t.stdout.trim()).toBe(
      `${new Date(filt.other[3].ts).toISOString()}  CRITICAL other-c  queue.depth=${filt.other[3].payload.value} score 0.8000 (threshold 0.5000)  ${filt.other[3].explain}`,
    )

    const bad = await runBen(['tail', 'anomalies', '--severity', 'urgent'], env)
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/--severity must be one of low, medium, high, critical/)
  })

  describe('ben incidents', () => {
    let story: { id: string; anomaly: AnomalyFact }

    beforeAll(async () => {
      // An alert and a critical CPU anomaly about one job: the policy decides, act signs a throttle.
      const s = await ben.publish([
        { lane: 'alert', source: 'story-1', ts: T0 + 50_000, rule: 'edr.exec', severity: 'high', message: 'unexpected binary', attrs: { job: 'batch-7' } },
      ])
      expect(s.stored).toBe(1)
      const a = { ...anomaly('story-1', 'critical', { metric: 'cpu.load', labels: { job: 'batch-7' } }), ts: T0 + 50_100 }
      await publish([a])
      const id = await waitFor(
        'the story incident with its command',
        async () => {
          const rows = (await ben.query(`SELECT incident_id FROM incidents FINAL WHERE source = 'story-1' AND length(fact_ids) >= 4`)).rows
          return rows.length === 1 ? String(rows[0][0]) : undefined
        },
        120_000,
        250,
      )
      // The incident can cite a fact a moment before that fact's own projector has written it.
      await waitFor(
        'every cited fact projected',
        async () => {
          const kinds = new Set((await ben.incidentReport(id)).facts.map((f) => f.kind))
          return ['alert', 'anomaly', 'decision', 'command'].every((k) => kinds.has(k as never)) || undefined
        },
        120_000,
        250,
      )
      story = { id, anomaly: a }
    })

    it('list: the latest state of each incident, as JSON (with --open, --since, --severity) and as a table', async () => {
      const r = await runBen(['incidents', 'list', '--format', 'json', '--open', '--since', '1h'], env)
      expect(r.code).toBe(0)
      const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>
      const s = rows.find((x) => x.id === story.id)
      expect(s).toMatchObject({ severity: 'critical', status: 'open', source: 'story-1', entity: { source: 'story-1', job: 'batch-7' }, title: expect.stringMatching(/story-1/) })
      expect(Object.keys(s!).sort()).toEqual(['entity', 'facts', 'id', 'openedAt', 'severity', 'source', 'status', 'title', 'transition', 'updatedAt'])
      expect(s!.openedAt).toBe(T0 + 50_000)
      expect(rows.map((x) => x.source)).toEqual(expect.arrayContaining(['filt-a', 'filt-b', 'other-c', 'resume-a', 'story-1']))
      const updated = rows.map((x) => Number(x.updatedAt))
      expect(updated).toEqual([...updated].sort((a, b) => b - a))

      const none = await runBen(['incidents', '--format', 'json', '--since', new Date(Date.now() + 3_600_000).toISOString()], env)
      expect(JSON.parse(none.stdout)).toEqual([])
      const high = JSON.parse((await runBen(['incidents', 'list', '--severity', 'critical', '--source', 'filt-*', '--format', 'json'], env)).stdout) as Array<{ source: string }>
      expect(high.map((x) => x.source).sort()).toEqual(['filt-a', 'filt-b'])

      const table = await runBen(['incidents'], env)
      expect(table.code).toBe(0)
      expect(table.stdout).toContain(story.id.slice(0, 8))
      expect(table.stdout).toMatch(/\d+ incidents\n$/)
    })

    it('show: a Markdown narrative whose every cited id is a fact in ClickHouse', async () => {
      const r = await runBen(['incidents', 'show', story.id.slice(0, 10), '-o', 'markdown'], env)
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`^# Incident ${story.id.slice(0, 8)}`))
      expect(r.stdout).toMatch(/## What was seen/)
      expect(r.stdout).toMatch(/throttle\\_job/)
      const cited = new Set([...r.stdout.matchAll(/\[([0-9a-f]{8}(?:, [0-9a-f]{8})*)/g)].flatMap((m) => m[1].split(', ')))
      expect(cited.size).toBeGreaterThanOrEqual(4)
      const union = ['anomalies', 'decisions', 'commands', 'acks', 'incident_events', "facts WHERE kind = 'alert'"].map((t) => `SELECT id FROM ${t}`).join(' UNION ALL ')
      const known = (await ben.query(`SELECT DISTINCT substring(id, 1, 8) FROM (${union})`, { maxRows: 100_000 })).rows.map((x) => String(x[0]))
      for (const id of cited) expect(known, id).toContain(id)
      expect(cited).toContain(story.anomaly.id.slice(0, 8))
    })

    it('show --format json: { incident, narrative: { markdown, sentences }, facts } rebuilt exactly from Avro', async () => {
      const r = await runBen(['incidents', 'show', story.id, '--format', 'json'], env)
      expect(r.code).toBe(0)
      const out = JSON.parse(r.stdout) as {
        incident: IncidentFact
        narrative: { markdown: string; sentences: Array<{ text: string; factIds: string[] }> }
        facts: Fact[]
        transitions: IncidentFact[]
      }
      expect(out.incident).toMatchObject({ kind: 'incident', payload: { incidentId: story.id, severity: 'critical' } })
      const shown = await runBen(['incidents', 'show', story.id, '-o', 'markdown'], env)
      expect(shown.code, shown.stderr).toBe(0)
      const md = shown.stdout
      expect(md).toBe(out.narrative.markdown.endsWith('\n') ? out.narrative.markdown : out.narrative.markdown + '\n')
      expect(
        out.facts.map((f) => f.kind),
        JSON.stringify(out.facts.map((f) => [f.kind, f.id.slice(0, 8)])),
      ).toEqual(expect.arrayContaining(['alert', 'anomaly', 'decision', 'command']))
      expect(out.facts.find((f) => f.id === story.anomaly.id)).toEqual(story.anomaly)
      const ids = new Set([...out.facts, ...out.transitions, out.incident].map((f) => f.id))
      expect(out.narrative.sentences.length).toBeGreaterThan(5)
      for (const s of out.narrative.sentences) for (const id of s.factIds) expect(ids, s.text).toContain(id)
      expect(out.transitions.every((t) => t.payload.incidentId === story.id)).toBe(true)

      const missing = await runBen(['incidents', 'show', 'ffffffffffff'], env)
      expect(missing.code).not.toBe(0)
      expect(missing.stderr).toMatch(/no incident has an id starting with 'ffffffffffff'/)
    })
  })
})
