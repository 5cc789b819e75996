import type { Command } from 'commander'
import { connect } from '../client/index.js'
import { FactCodec } from '../schemas/index.js'
import { runSimulation } from '../simulate/index.js'
import { printLive } from './live.js'
import { addSimulationOptions, simulationOptions } from './sim-options.js'
import { parseFormat, toJson } from './output.js'

export function registerSimulate(program: Command): void {
  addSimulationOptions(
    program
      .command('simulate')
      .description('run a simulated fleet against a running Ben: realistic telemetry, injected scenarios, targets that verify commands and ack them'),
  )
    .option('--quiet', 'do not print anomalies, decisions and commands as they happen')
    .option('--format <format>', 'summary as table or json', 'table')
    .addHelpText(
      'after',
      `
Scenarios: cpu-runaway (one job pins the CPU; the default pack throttles it), secret-leak
(a secret in a log line plus an edge alert; scrub redacts it, policy proposes quarantine),
drift (a metric creeps up; the detectors recalibrate). The same seed gives the same facts.

Examples:
  ben simulate --hosts 5 --rate 200 --scenario cpu-runaway --duration 300
  ben simulate --scenario secret-leak drift --duration 120
  ben simulate --backfill --duration 900 --rate 2000 --quiet --format json`,
    )
    .action(async (o: Record<string, unknown>) => {
      const format = parseFormat(String(o.format))
      const opts = simulationOptions(o)
      const ben = await connect()
      const live = o.quiet ? undefined : printLive(ben.nc, ben.subjects)
      const sim = await runSimulation({ nc: ben.nc, subjects: ben.subjects, codec: new FactCodec(), topo: {} }, opts)
      if (format === 'table') process.stdout.write(`simulating ${opts.hosts} hosts at ${opts.rate} facts/s for ${opts.durationMs / 1000} s (${opts.mode}); scenarios: ${sim.fleet.scenarios().map((s) => `${s.kind} on ${s.source}${s.job ? `/${s.job}` : ''} at +${Math.round((s.startTs - sim.fleet.startTs) / 1000)} s`).join(', ') || 'none'}\n`)
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
      await sim.stop()
      live?.unsubscribe()
      const summary = { ...sim.stats, scenarios: sim.fleet.scenarios() }
      if (format === 'json') process.stdout.write(toJson(summary) + '\n')
      else process.stdout.write(`published ${sim.stats.published} facts (stored ${sim.stats.stored}, duplicate ${sim.stats.duplicate}, failed ${sim.stats.failed}); commands handled ${sim.stats.commands}; acks ${toJson(sim.stats.acks)}\n`)
      await ben.close()
    })
}
