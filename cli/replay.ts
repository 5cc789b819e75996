import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import type { Command } from 'commander'
import { Presets, SingleBar } from 'cli-progress'
import { connect } from '../client/index.js'
import { isReplayError, parseDuration, parseTime, ReadFrom, replayDeps, replayIncident, replayWindow, type ReplayOptions, type ReplayResult } from '../replay/index.js'
import { CliError, ExitCode, formatAlias, outputOf, outputOption, toJson } from './output.js'
import { failureOf } from './exit.js'

interface ReplayFlags {
  from?: string
  to?: string
  source?: string
  whatIf?: string
  lookback?: string
  read: string
  publish?: boolean
  json?: boolean
  maxDiffs: string
}

const iso = (ms: number) => new Date(ms).toISOString()
const short = (id: string) => id.slice(0, 8)

function text(r: ReplayResult & { incident?: { incidentId: string; sources: readonly string[]; transitions: number } }, out: NodeJS.WritableStream): void {
  const w = (s = '') => out.write(s + '\n')
  if (r.incident) w(`incident ${r.incident.incidentId} on ${r.incident.sources.join(', ')}, ${iso(r.window.from)} → ${iso(r.window.to)} (${r.incident.transitions} transitions)`)
  else w(`window ${iso(r.window.from)} → ${iso(r.window.to)}, sources: ${r.sources ? r.sources.join(', ') || '(none match)' : 'all'}`)
  w(
    r.startedAfterScrub
      ? 'rebuilt from ClickHouse scrubbed facts: the rebuild started after scrub (detect, policy, act, incident re-run)'
      : 'rebuilt from JetStream FACTS raw facts (scrub, detect, policy, act, incident re-run)',
  )
  if (r.window.lookbackFrom !== null) w(`look-back from ${iso(r.window.lookbackFrom)}`)
  const c = r.counts
  if (r.identical) w(`identical (${c.compared} facts)`)
  else w(`different: ${c.changed} changed, ${c.missing} missing from the rebuild, ${c.extra} extra in the rebuild (of ${c.compared} recorded facts)`)
  if (r.whatIf) {
    w('')
    w(`what-if ${r.whatIf.path} (${r.whatIf.kind}): ${r.whatIf.changes.length} decisions/commands would differ`)
    for (const ch of r.whatIf.changes) {
      const a = ch.recorded
      const b = ch.whatIf
      const desc = (s: typeof a) =>
        s
          ? `${s.outcome}${s.rule ? ` by ${s.rule}` : ''}${s.verb ? ` ${s.verb}${s.target ? ` on ${s.target}` : ''}` : ''}${s.suppressed ? ` (suppressed ×${s.suppressed})` : ''}${s.blocked ? ` [blocked: ${s.blocked}]` : ''}`
          : '(none)'
      w(
        `  ${ch.status} ${ch.kind} ${short(ch.id)} ${ch.source} ${iso(ch.ts)} (input ${short(ch.input)}): ${ch.status === 'added' ? desc(b) : ch.status === 'removed' ? desc(a) : `${desc(a)} → ${desc(b)}`}`,
      )
      if (b?.explain) w(`      what-if: ${b.explain}`)
      if (a?.explain && ch.status !== 'added') w(`      recorded: ${a.explain}`)
    }
    const other = Object.entries(r.whatIf.otherDifferences)
    if (other.length) w(`  other facts that differ: ${other.map(([k, n]) => `${n} ${k}`).join(', ')}`)
  } else if (!r.identical) {
    for (const d of r.diffs) {
      w(`  ${d.status} ${d.kind} ${d.id} (${d.source}, ${iso(d.ts)})`)
      for (const f of d.fields) w(`      ${f.path}: recorded ${toJson(f.recorded)} | rebuilt ${toJson(f.rebuilt)}`)
    }
    if (r.diffs.length < c.changed + c.missing + c.extra) w(`  … ${c.changed + c.missing + c.extra - r.diffs.length} more (raise --max-diffs)`)
  }
  for (const n of r.notes) w(`note: ${n}`)
  if (r.narrative) {
    w('')
    w(r.narrative.markdown.trimEnd())
  } else if (!r.incident && r.incidents.length) {
    w('')
    w(`incidents rebuilt in the window: ${r.incidents.length}`)
    for (const i of r.incidents.slice(0, 20)) w(`  ${short(i.payload.incidentId)} ${i.payload.transition} ${i.payload.severity} ${i.payload.title}`)
  }
  w('')
  w(`${r.stats.inputFacts} facts replayed, ${r.stats.recordedFacts} recorded facts read, in ${(r.stats.elapsedMs / 1000).toFixed(2)} s (${r.stats.factsPerSecond} facts/s)`)
}

/** The JSON shape: the result without the rebuilt facts themselves (diffs keep their fields). */
function jsonOf(r: ReplayResult & { incident?: unknown }): unknown {
  return {
    incident: r.incident ?? null,
    window: r.window,
    sources: r.sources,
    readFrom: r.readFrom,
    startedAfterScrub: r.startedAfterScrub,
    identical: r.identical,
    counts: r.counts,
    byKind: r.byKind,
    diffs: r.diffs.map((d) => ({ status: d.status, kind: d.kind, id: d.id, source: d.source, ts: d.ts, fields: d.fields })),
    whatIf: r.whatIf ?? null,
    incidents: r.incidents.map((i) => ({ incidentId: i.payload.incidentId, transition: i.payload.transition, severity: i.payload.severity, title: i.payload.title, ts: i.ts })),
    narrative: r.narrative?.markdown ?? null,
    notes: r.notes,
    stats: r.stats,
  }
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .argument('[incident-id]', 'an incident id (or a unique prefix of one)')
    .description('rebuild an incident (or any window) from the recorded facts with the same stage code and recorded config revisions, and compare')
    .option('--from <time>', 'window start instead of an incident: ISO-8601, epoch ms, now, -1h')
    .option('--to <time>', 'window end (default now)')
    .option('--source <pattern>', 'with --from: sources matching this glob (default all)')
    .option('--what-if <file>', 'replay under this policy pack, detector config or redaction manifest instead, and show what differs')
    .option('--lookback <duration>', 'warm state from this long before the window (default: everything retained)')
    .option('--read <where>', 'auto, jetstream (raw facts) or clickhouse (scrubbed facts: the rebuild starts after scrub)', 'auto')
    .option('--publish', 'publish the rebuilt facts on <prefix>.replay.<run>.> (core NATS)')
    .option('--max-diffs <n>', 'diffs shown in full at most', '50')
    .addOption(outputOption(['text', 'json']))
    .addOption(formatAlias(['text', 'json']))
    .option('--json', 'same as -o json')
    .addHelpText(
      'after',
      `
Exit codes: 0 identical, 1 different (or the what-if changed something), 2 bad usage,
4 unknown incident, 5 Ben unreachable.

Examples:
  ben replay 1a2b3c4d
  ben replay 1a2b3c4d --what-if stricter-pack.yaml
  ben replay --from -1h --source 'web-*' -o json`,
    )
    .action(async (id: string | undefined, o: ReplayFlags) => {
      o.json = outputOf(o) === 'json'
      if (!id && !o.from) throw new CliError('name an incident id, or a window with --from (see ben replay --help)', 2)
      if (id && o.from) throw new CliError('give an incident id or --from/--to, not both', 2)
      if (!(Object.values(ReadFrom) as string[]).includes(o.read)) throw new CliError(`--read must be auto, jetstream or clickhouse, not '${o.read}'`, 2)
      let whatIf: ReplayOptions['whatIf']
      if (o.whatIf) {
        try {
          whatIf = { path: o.whatIf, text: readFileSync(o.whatIf, 'utf8') }
        } catch (err) {
          throw new CliError(`cannot read ${o.whatIf}: ${(err as Error).message}`, 2)
        }
      }
      const bar =
        !o.json && process.stderr.isTTY
          ? new SingleBar({ format: 'replay [{bar}] {percentage}% | {value}/{total} messages', stream: process.stderr, hideCursor: true }, Presets.shades_classic)
          : undefined
      let started = false
      const ben = await connect()
      try {
        const options: ReplayOptions = {
          read: o.read as ReadFrom,
          lookbackMs: o.lookback ? parseDuration(o.lookback, '--lookback') : undefined,
          whatIf,
          publish: o.publish ? { run: randomBytes(4).toString('hex') } : undefined,
          maxDiffs: Number(o.maxDiffs) || 50,
          onProgress: bar
            ? (read, total) => {
                if (!started) {
                  bar.start(total, read)
                  started = true
                }
                bar.setTotal(Math.max(total, read))
                bar.update(read)
              }
            : undefined,
        }
        const deps = replayDeps(ben)
        const now = Date.now()
        const r = id
          ? await replayIncident(deps, id, options)
          : await replayWindow(deps, { from: parseTime(o.from!, now, '--from'), to: o.to ? parseTime(o.to, now, '--to') : now, source: o.source }, options)
        if (started) bar?.stop()
        if (o.json) process.stdout.write(toJson(jsonOf(r)) + '\n')
        else text(r, process.stdout)
        process.exitCode = r.identical ? 0 : 1
      } catch (err) {
        if (started) bar?.stop()
        if (isReplayError(err)) {
          if (o.json) process.stdout.write(toJson({ error: { code: err.code, message: err.message } }) + '\n')
          throw new CliError(err.message, failureOf(err).exitCode === ExitCode.Failed ? ExitCode.Usage : failureOf(err).exitCode)
        }
        throw err
      } finally {
        await ben.close()
      }
    })
}
