/**
 * The sidecar of bench:otlp, run as its own process so that its CPU time can be measured (and
 * profiled with `--cpu-prof`) apart from the clients': a sidecar (fsync batch, the default
 * manifest: every record validated and scrubbed) with its NDJSON intake and its OTLP door on
 * loopback ports. Speaks to the parent over the IPC channel:
 *
 *   → { type: 'ready', ndjsonPort, otlpPort }
 *   ← { type: 'status' }  → { type: 'status', deliveredSeq, stored, accepted, rejected, cpuMicros }
 *   ← { type: 'close' }   → { type: 'closed' }, then exits
 */
import { connect } from '@nats-io/transport-node'
import { generateKeyPair } from '../keys/index.js'
import { defaultManifest } from '../processors/scrub/index.js'
import { createSidecar } from '../sidecar/index.js'
import { serveNdjson, serveOtlp, sidecarSink } from '../intake/index.js'
import { readEnv } from '../infra/index.js'

const arg = (name: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`otlp-sidecar: --${name} is required`)
  return process.argv[i + 1]
}

type Ask = { type: 'status' } | { type: 'close' }

async function main(): Promise<void> {
  const nc = await connect({ servers: arg('url'), maxReconnectAttempts: -1 })
  const sc = await createSidecar({
    id: arg('id'),
    nats: nc,
    walDir: arg('wal'),
    keyPair: generateKeyPair('sidecar'),
    manifest: defaultManifest({ hashKey: 'bench-hash-key-0123456789' }),
    registerKey: false,
    // BEN_PUBLISH_DELAY_MS as `ben sidecar` reads it (for an A/B of the drain's delay window)
    drain: { delayTargetMs: readEnv().publishDelayMs },
  })
  await sc.online
  const ndjson = await serveNdjson(sc, { kind: 'tcp', host: '127.0.0.1', port: 0 })
  const otlp = await serveOtlp(sidecarSink(sc), { host: '127.0.0.1', port: 0 })
  const send = (m: object) => process.send!(m)
  process.on('message', (m: Ask) => {
    if (m.type === 'status') {
      const s = sc.status()
      const cpu = process.cpuUsage()
      send({
        type: 'status',
        deliveredSeq: s.drain.deliveredSeq,
        stored: s.drain.stored,
        accepted: s.intake.accepted,
        rejected: s.intake.rejected,
        cpuMicros: cpu.user + cpu.system,
      })
    } else if (m.type === 'close') {
      void (async () => {
        await otlp.close()
        await ndjson.close()
        await sc.close()
        await nc.close()
        send({ type: 'closed' })
        process.exit(0) // writes the --cpu-prof profile
      })()
    }
  })
  send({ type: 'ready', ndjsonPort: Number(ndjson.address.split(':').pop()), otlpPort: otlp.port })
}

main().catch((err) => {
  process.stderr.write(`otlp-sidecar failed: ${(err as Error).stack}\n`)
  process.exit(1)
})
