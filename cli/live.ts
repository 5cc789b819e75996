import type { NatsConnection } from '@nats-io/nats-core'
import { merge, type Subscription } from 'rxjs'
import { defaultRegistry, type Fact } from '../schemas/index.js'
import { followSubjects, type Subjects } from '../streams/index.js'

const COLOUR = process.stdout.isTTY ? { anomaly: '\x1b[33m', decision: '\x1b[36m', command: '\x1b[35m', ack: '\x1b[32m', reset: '\x1b[0m' } : { anomaly: '', decision: '', command: '', ack: '', reset: '' }

/** One line per derived fact, with its explain: what `npm start` shows as it happens. */
export function describe(f: Fact): string | undefined {
  const t = new Date(f.ts).toISOString().slice(11, 23)
  switch (f.kind) {
    case 'anomaly':
      return `${COLOUR.anomaly}${t} ANOMALY  ${f.payload.severity.padEnd(8)} ${f.source}: ${f.explain ?? ''}${COLOUR.reset}`
    case 'decision':
      return `${COLOUR.decision}${t} DECISION ${f.payload.outcome.padEnd(8)} ${f.source}: ${f.explain ?? f.payload.reason}${COLOUR.reset}`
    case 'command':
      return `${COLOUR.command}${t} COMMAND  ${f.payload.status.padEnd(8)} ${f.payload.verb} → ${f.payload.target}: ${f.explain ?? ''}${COLOUR.reset}`
    case 'ack':
      return `${COLOUR.ack}${t} ACK      ${f.payload.status.padEnd(8)} ${f.payload.verb} on ${f.payload.target}${f.payload.reason ? ` (${f.payload.reason})` : ''}${COLOUR.reset}`
    case 'incident':
      return `${t} INCIDENT ${f.payload.transition.padEnd(8)} ${f.source}: ${f.explain ?? f.payload.title}`
    default:
      return undefined
  }
}

/** Prints anomalies, decisions, commands, acks and incidents as they are published. */
export function printLive(nc: NatsConnection, subjects: Subjects, out: NodeJS.WritableStream = process.stdout): Subscription {
  const reg = defaultRegistry()
  const patterns = [subjects.anomalyAll, subjects.decisionAll, subjects.cmdAll, subjects.ackAll, subjects.incidentAll]
  return merge(...patterns.map((p) => followSubjects(nc, reg, p, { deliver: 'new' }))).subscribe({
    next: (d) => {
      if (!d.result.ok) return
      const f = d.result.value as Fact
      // Low-severity anomalies are kept (tables, `ben tail`) but would drown the live view.
      if (f.kind === 'anomaly' && f.payload.severity === 'low') return
      const line = describe(f)
      if (line) out.write(line + '\n')
    },
    error: () => undefined,
  })
}
