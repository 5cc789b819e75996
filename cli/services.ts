import {
  acksProjection,
  anomaliesProjection,
  commandsProjection,
  decisionsProjection,
  factsProjection,
  incidentEventsProjection,
  incidentsProjection,
  Projector,
  rebuildSubject,
  serveRebuilds,
  warnDetachedParts,
  type Projection,
} from '../projections/index.js'
import { supervise, type ServiceFactory } from '../infra/index.js'
import { streamName } from '../streams/index.js'

/** The projections `ben up` runs, by name (ClickHouse is fed from the scrubbed stream: an unscrubbed fact never reaches it). */
export function projectionsByName(): Map<string, Projection> {
  const all = [factsProjection({ fromScrubbed: true }), anomaliesProjection, commandsProjection, decisionsProjection, acksProjection, incidentEventsProjection, incidentsProjection]
  return new Map(all.map((p) => [p.name, p]))
}

/** The projectors of this process, for `ben rebuild`. */
const running = new Set<Projector>()

/**
 * A projector as a `ben up` service, under a supervisor: a projector whose consumer ended or
 * was deleted, or that stalls with input waiting, is replaced by a fresh one that resumes at the
 * ack floor (its id check keeps the table free of duplicates).
 */
export function projectorService(projection: Projection): ServiceFactory {
  return async (ctx) => {
    const name = `projector:${projection.name}`
    const supervised = await supervise({
      name,
      nc: ctx.nc,
      log: ctx.log,
      durables: [{ stream: streamName(ctx.topo, projection.stream), durable: `proj-${projection.name}` }],
      start: async () => {
        const p = new Projector(projection, ctx.warehouse.client, { log: ctx.log })
        try {
          await p.start(ctx.nc, ctx.codec, ctx.subjects, ctx.topo, ctx.dlq(`project-${projection.name}`))
        } catch (err) {
          await p.stop().catch(() => undefined)
          throw err
        }
        running.add(p)
        return {
          stop: () => {
            running.delete(p)
            return p.stop()
          },
          failed: () => p.failed,
          progress: () => p.stats.received + p.stats.failures,
        }
      },
    })
    return { name, stop: () => supervised.stop() }
  }
}

/**
 * Detached ClickHouse parts: warned about at start (rows a broken part took out of a
 * projection), re-projected from JetStream on `<prefix>.svc.rebuild` (`ben rebuild <table>`).
 */
export function rebuildService(): ServiceFactory {
  return async (ctx) => {
    await warnDetachedParts(ctx.warehouse.client, ctx.log).catch((err: Error) => ctx.log.warn({ err: err.message }, 'cannot read system.detached_parts'))
    const sub = serveRebuilds(ctx.nc, ctx.warehouse.client, rebuildSubject(ctx.subjects.prefix), () => [...running], ctx.log)
    return { name: 'rebuild', stop: async () => sub.unsubscribe() }
  }
}
