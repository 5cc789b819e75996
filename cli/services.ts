import { Projector, type Projection } from '../projections/index.js'
import type { ServiceFactory } from '../infra/index.js'

/** A projector as a `ben up` service. */
export function projectorService(projection: Projection): ServiceFactory {
  return async (ctx) => {
    const p = new Projector(projection, ctx.warehouse.client, { log: ctx.log })
    await p.start(ctx.nc, ctx.codec, ctx.subjects, ctx.topo, ctx.dlq(`project-${projection.name}`))
    return { name: `projector:${projection.name}`, stop: () => p.stop() }
  }
}
