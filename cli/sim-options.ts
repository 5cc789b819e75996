import type { Command } from 'commander'
import { scenarioByName, type SimulationOptions } from '../simulate/index.js'
import { CliError } from './output.js'

export function addSimulationOptions(cmd: Command, prefix = ''): Command {
  return cmd
    .option(`--${prefix}hosts <n>`, 'simulated hosts', '5')
    .option(`--${prefix}rate <r>`, 'facts per second across the fleet', '200')
    .option(`--${prefix}scenario <name...>`, 'cpu-runaway, secret-leak, drift (several allowed)', ['cpu-runaway', 'secret-leak', 'drift'])
    .option(`--${prefix}duration <seconds>`, 'how long the fleet runs', '600')
    .option(`--${prefix}seed <seed>`, 'seed: the same seed gives the same telemetry', '7')
    .option('--backfill', 'put the whole run in the past (ending now) and publish it as fast as possible')
}

export function simulationOptions(o: Record<string, unknown>, prefix = ''): SimulationOptions {
  const get = (k: string) => o[prefix ? prefix.replace(/-$/, '') + k[0].toUpperCase() + k.slice(1) : k]
  const num = (k: string, min: number) => {
    const v = Number(get(k))
    if (!Number.isFinite(v) || v < min) throw new CliError(`--${prefix}${k} must be a number ≥ ${min}, not '${String(get(k))}'`)
    return v
  }
  const names = (get('scenario') as string[] | string | undefined) ?? []
  const scenarios = (Array.isArray(names) ? names : [names])
    .flatMap((n) => n.split(','))
    .map((n) => {
      const r = scenarioByName(n.trim())
      if (!r.ok) throw new CliError(r.error.message)
      return r.value
    })
  return {
    hosts: Math.floor(num('hosts', 1)),
    rate: num('rate', 0.001),
    scenarios,
    durationMs: Math.round(num('duration', 1) * 1000),
    seed: String(get('seed') ?? '7'),
    mode: o.backfill ? 'backfill' : 'live',
  }
}
