import type { Command } from 'commander'
// Leaf modules, not the barrels: `ben status` is the quick check, and the barrels load all of Ben.
import { homePaths, readEnv } from '../infra/config.js'
import { locateBen, runningForUser, userConfigDir } from '../infra/locate.js'
import { connectNats } from '../infra/nats-connect.js'
import { Bucket, kvName } from '../streams/topology.js'
import { openBucket } from '../streams/kv.js'
import { readFleet, type FleetEntry } from '../fleet/registry.js'
import { addOutputOption, CliError, ExitCode, outputOf, toJson } from './output.js'

const since = (iso: string): string => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

/** `ben status`: which Ben the other commands talk to, how it was found, and whether it answers. */
export function registerStatus(program: Command): void {
  const cmd = program
    .command('status')
    .description('which Ben the other commands talk to, how it was found, and whether it answers')
    .addHelpText(
      'after',
      `
A command talks to: --server / BEN_NATS_URL when given; else --home / BEN_HOME; else ./.ben of
the current directory when a Ben runs there; else the most recent \`ben up\` of this user (each
\`ben up\` records itself under ~/.config/ben/running/, XDG_CONFIG_HOME respected).
Exit 0 when that Ben answers, 5 when none is found or it does not answer.

Examples:
  ben status
  ben status -o json
  ben --home /var/lib/ben status`,
    )
  addOutputOption(cmd, ['table', 'json'])
  cmd.action(async (o: Record<string, unknown>) => {
    const format = outputOf(o)
    const found = locateBen()
    const env = readEnv({ ...process.env, BEN_HOME: found.home })
    const e = found.endpoints
    const url = env.natsUrl ?? e?.natsUrl
    let answers = false
    let problem: string | undefined
    let rttMs: number | undefined
    let fleet: FleetEntry[] = []
    if (url) {
      try {
        const nc = await connectNats(url, env, 'ben-status')
        rttMs = await nc.rtt()
        answers = true
        // the fleet registry the orchestrator keeps (absent before any orchestrator ran)
        fleet = await openBucket(nc, kvName({}, Bucket.Fleet))
          .then((kv) => readFleet(kv))
          .catch(() => [])
        await nc.close()
      } catch (err) {
        problem = (err as Error).message
      }
    }
    const others = runningForUser().filter((r) => r.home !== found.home)
    const doc = {
      foundBy: found.by,
      how: found.how,
      home: found.home,
      running: Boolean(e),
      answers,
      natsUrl: url ?? null,
      rttMs: rttMs ?? null,
      pid: e?.pid ?? null,
      version: e?.version ?? null,
      startedAt: e?.startedAt ?? null,
      clickhouse: e?.clickhouse ?? null,
      prefix: e?.prefix ?? env.prefix,
      endpointsFile: homePaths(found.home).endpoints,
      userRecords: userConfigDir(),
      otherBens: others.map((r) => ({ home: r.home, pid: r.pid, natsUrl: r.natsUrl, startedAt: r.startedAt })),
      problem: problem ?? null,
      fleet,
    }
    if (format === 'json') process.stdout.write(toJson(doc) + '\n')
    else {
      const w = (s: string) => process.stdout.write(s + '\n')
      if (found.by === 'none') w(`no Ben found: ${found.how}`)
      else w(`Ben ${e ? `${e.version} ` : ''}at ${found.home}`)
      w(`  found by    ${found.how}`)
      if (e) w(`  running     pid ${e.pid}, up ${since(e.startedAt)}`)
      else if (found.by !== 'none') w(`  running     no \`ben up\` recorded in ${doc.endpointsFile}`)
      if (url) w(`  NATS        ${url}: ${answers ? `answers (${rttMs} ms)` : `does not answer: ${problem}`}`)
      if (e) w(`  ClickHouse  ${e.clickhouse.kind === 'embedded' ? `embedded chDB at ${e.clickhouse.location}` : e.clickhouse.location}`)
      for (const r of others) w(`  also        ${r.home} (pid ${r.pid}, ${r.natsUrl}): ben --home ${r.home} …`)
      if (fleet.length) w(`  fleet       (registry in KV ${Bucket.Fleet}, kept by the orchestrator)`)
      for (const f of fleet) {
        const units = f.component === 'worker' ? ` units ${f.holding.length}/${f.units.length}${f.holding.length ? ` (${f.holding.join(',')})` : ''}` : ''
        w(
          `    ${f.component.padEnd(8)} ${f.id.padEnd(20)} ${f.state.padEnd(10)} v${f.version} pid ${f.pid ?? '?'} seen ${since(f.lastSeen)} ago${f.restarts ? `, restarted ${f.restarts}×` : ''}${units}`,
        )
      }
    }
    if (!answers)
      throw new CliError(
        found.by === 'none' ? 'no running Ben found: start one with `ben up`' : `the Ben at ${found.home} does not answer${problem ? `: ${problem}` : ''}`,
        ExitCode.Unavailable,
      )
  })
}
