import { parseEdgeFact, type RawFact } from '../schemas/index.js'
import type { FactPublisher, PublishOutcome } from '../streams/index.js'
import { DropReason } from './errors.js'

export interface SinkRejection {
  /** Position in the inputs given to accept(). */
  readonly index: number
  readonly reason: string
  readonly message: string
}

export interface SinkResult {
  readonly accepted: number
  readonly rejected: readonly SinkRejection[]
  /** Some inputs were refused for a reason that passes (WAL full, JetStream down): send them again. */
  readonly retryable: boolean
}

/**
 * Where the doors put what they mapped: objects in the JSON edge shape. Resolves once every
 * accepted fact is durable, so a door answers "accepted" only for what is safe.
 */
export interface IntakeSink {
  /** When set, every fact is this source's (a sidecar speaks only for itself). */
  readonly source?: string
  /** Reads `inputs` before it returns (the caller may let them go while the answer is pending). */
  accept(inputs: readonly unknown[]): Promise<SinkResult>
}

/** What `sidecarSink` needs of a sidecar: its id and its accept (validate, scrub, WAL). */
export interface SidecarTarget {
  readonly id: string
  accept(inputs: readonly unknown[]): Promise<{ readonly accepted: number; readonly rejected: readonly SinkRejection[] }>
}

/** The sidecar's own path: validate (source = its id), scrub, append to the WAL. */
export function sidecarSink(sidecar: SidecarTarget): IntakeSink {
  return {
    source: sidecar.id,
    async accept(inputs) {
      const r = await sidecar.accept(inputs)
      return { accepted: r.accepted, rejected: r.rejected, retryable: r.rejected.some((x) => x.reason === DropReason.WalFull) }
    },
  }
}

/**
 * `ben up`'s path: validate the edge shape (the same zod edge as `ben publish`) and publish the
 * raw fact to `ben.fact.<lane>.<source>` through the acknowledged publisher; the spine's scrub
 * stage redacts it before anything downstream sees it. The same content twice is one fact.
 */
export function publisherSink(publisher: FactPublisher): IntakeSink {
  return {
    accept(inputs) {
      return new Promise<SinkResult>((resolve) => {
        const rejected: SinkRejection[] = []
        let accepted = 0
        let waiting = 1
        let retryable = false
        const done = () => {
          if (--waiting === 0) resolve({ accepted, rejected, retryable })
        }
        const facts: Array<{ fact: RawFact; index: number }> = []
        for (let i = 0; i < inputs.length; i++) {
          const r = parseEdgeFact(inputs[i])
          if (r.ok) facts.push({ fact: r.value, index: i })
          else rejected.push({ index: i, reason: DropReason.Invalid, message: r.error.message })
        }
        void (async () => {
          for (const { fact, index } of facts) {
            waiting++
            const cb = (o: PublishOutcome) => {
              if (o.status === 'failed') {
                retryable = true
                rejected.push({ index, reason: DropReason.PublishFailed, message: `JetStream did not store fact ${o.id}: ${o.error ?? 'unknown'}` })
              } else accepted++
              done()
            }
            if (!publisher.trySend(fact, undefined, cb)) await publisher.send(fact, undefined, cb)
          }
          done()
        })()
      })
    },
  }
}
