import { Projector, type Projection } from '../projections/index.js'
import { supervise, type ServiceFactory } from '../infra/index.js'
import { streamName } from '../streams/index.js'

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
        return { stop: () => p.stop(), failed: () => p.failed, progress: () => p.stats.received + p.stats.failures }
      },
    })
    return { name, stop: () => supervised.stop() }
  }
}
