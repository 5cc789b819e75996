import type { Command } from 'commander'
import { connect } from '../client/index.js'
import { FactCodec } from '../schemas/index.js'
import { runSimulation } from '../simulate/index.js'
import { printLive } from './live.js'
import { addSimulationOptions, simulationOptions } from './sim-options.js'
import { outputOf, outputOption, formatAlias, toJson } from './output.js'

type Sim = Awaited<ReturnType<typeof runSimulation>>

/**
 * Progress on stderr: at once, then every 5 s (on a terminal, one line rewritten in place):
 * facts published, facts/s, time left, and the scenarios still due.
 */
function startProgress(sim: Sim, opts: ReturnType<typeof simulationOptions>): { stop(): void } {
  const t0 = Date.now()
  const tty = Boolean(process.stderr.isTTY)
  let last = { at: t0, n: 0 }
  const line = () => {
    const now = Date.now()
    const n = sim.stats.published
    const rate = now > last.at ? Math.round(((n - last.n) * 1000) / (now - last.at)) : 0
    last = { at: now, n }
    const elapsed = now - t0
    const left = Math.max(0, Math.round((opts.durationMs - elapsed) / 1000))
    const simNow = sim.fleet.startTs + (opts.mode === 'live' ? elapsed : opts.durationMs)
    const due = sim.fleet
      .scenarios()
      .filter((s) => s.startTs > simNow)
      .map((s) => `${s.kind} on ${s.source} in ${Math.round((s.startTs - simNow) / 1000)} s`)
    const text = `simulate: ${n} facts published, ${rate} facts/s, ${opts.mode === 'live' ? `${left} s left` : 'backfill'}; ${due.length ? `due: ${due.join(', ')}` : 'no scenario left to start'}`
    process.stderr.write(tty ? `\r\x1b[2K${text}` : `${text}\n`)
  }
  line()
  const timer = setInterval(line, 5000)
  timer.unref()
  return {
    stop() {
      clearInterval(timer)
      if (tty) process.stderr.write('\n')
    },
  }
}

export function registerSimulate(program: Command): void {
  addSimulationOptions(
    program.command('simulate').description('run a simulated fleet against a running Ben: realistic telemetry, injected scenarios, targets that verify commands and ack them'),
  )
    .option('--quiet', 'do not print anomalies, decisions and commands as they happen, nor progress')
    .option('--verbose', 'every explain and incident update in the live lines')
    .addOption(outputOption(['table', 'json']))
    .addOption(formatAlias(['table', 'json']))
    .addHelpText(
      'after',
      `
Scenarios: cpu-runaway (one job pins the CPU; the default pack throttles it), secret-leak
(a secret in a log line plus an edge alert; scrub redacts it, policy proposes quarantine),
drift (a metric creeps up; the detectors recalibrate). The same seed gives the same facts.

Examples:
  ben simulate --hosts 5 --rate 200 --scenario cpu-runaway --duration 300
  ben simulate --scenario secret-leak drift --duration 120
  ben simulate --backfill --duration 900 --rate 2000 --quiet -o json`,
    )
    .action(async (o: Record<string, unknown>) => {
      const format = outputOf(o)
      const opts = simulationOptions(o)
      const ben = await connect()
      const live = o.quiet ? undefined : printLive(ben.nc, ben.subjects, { verbose: Boolean(o.verbose) })
      const sim = await runSimulation({ nc: ben.nc, subjects: ben.subjects, codec: new FactCodec(), topo: {} }, opts)
      if (format === 'table')
        process.stdout.write(
          `simulating ${opts.hosts} hosts at ${opts.rate} facts/s for ${opts.durationMs / 1000} s (${opts.mode}); scenarios: ${
            sim.fleet
              .scenarios()
              .map((s) => `${s.kind} on ${s.source}${s.job ? `/${s.job}` : ''} at +${Math.round((s.startTs - sim.fleet.startTs) / 1000)} s`)
              .join(', ') || 'none'
          }\n`,
        )
      const progress = o.quiet || format === 'json' ? undefined : startProgress(sim, opts)
      let interrupted = false
      const onSignal = () => {
        interrupted = true
        void sim.stop()
      }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      await sim.published
      // Give the pipeline a moment to answer the last commands before the targets stop.
      if (!interrupted && opts.mode === 'backfill') await new Promise((r) => setTimeout(r, 3000))
      progress?.stop()
      await sim.stop()
      live?.unsubscribe()
      const summary = { ...sim.stats, scenarios: sim.fleet.scenarios() }
      if (format === 'json') process.stdout.write(toJson(summary) + '\n')
      else
        process.stdout.write(
          `published ${sim.stats.published} facts (stored ${sim.stats.stored}, duplicate ${sim.stats.duplicate}, failed ${sim.stats.failed}); commands handled ${sim.stats.commands}; acks ${toJson(sim.stats.acks)}\n`,
        )
      await ben.close()
    })
}
