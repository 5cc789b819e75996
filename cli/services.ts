import { Projector, rebuildSubject, serveRebuilds, warnDetachedParts, type Projection } from '../projections/index.js'
import type { ServiceFactory } from '../infra/index.js'

/** The projectors of this process, for `ben rebuild`. */
const running = new Set<Projector>()

/** A projector as a `ben up` service. */
export function projectorService(projection: Projection): ServiceFactory {
  return async (ctx) => {
    const p = new Projector(projection, ctx.warehouse.client, { log: ctx.log })
    await p.start(ctx.nc, ctx.codec, ctx.subjects, ctx.topo, ctx.dlq(`project-${projection.name}`))
    running.add(p)
    return {
      name: `projector:${projection.name}`,
      stop: () => {
        running.delete(p)
        return p.stop()
      },
    }
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
