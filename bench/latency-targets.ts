/**
 * The command targets of bench:latency (hosts web-1 … web-N that verify the signed commands and
 * ack them), in a process of their own with their own NATS connection, as sidecars on other hosts
 * are. In Ben's process, on its connection and main event loop, a command waited for whatever that
 * loop ran (the projectors, their GC) before its target saw it: the command → ack hop was partly
 * Ben's own loop delay, a cost no real target pays.
 *
 *   node dist/bench/latency-targets.js --url nats://… --hosts N
 *
 * Prints `ready` once the targets' keys are registered and their subscription is up; stops on SIGTERM.
 */
import { connect } from '@nats-io/transport-node'
import { FactCodec } from '../schemas/index.js'
import { Subjects } from '../streams/index.js'
import { runSimulation } from '../simulate/index.js'

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}

async function main(): Promise<void> {
  const nc = await connect({ servers: arg('url', 'nats://127.0.0.1:4222'), name: 'bench-targets' })
  const sim = await runSimulation(
    { nc, subjects: new Subjects(), codec: new FactCodec(), topo: {} },
    { hosts: Number(arg('hosts', '2')), rate: 1, durationMs: 1, mode: 'backfill', scenarios: [], seed: 'bench' },
  )
  process.once('SIGTERM', () => {
    void (async () => {
      await sim.stop()
      await nc.close()
      process.exit(0)
    })()
  })
  process.stdout.write('ready\n')
}

main().catch((err: Error) => {
  process.stderr.write(`bench:latency targets: ${err.message}\n`)
  process.exit(1)
})
