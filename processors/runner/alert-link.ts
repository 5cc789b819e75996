import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/nats-core'
import type { FactCodec } from '../../schemas/index.js'
import { FactPublisher, type PublisherOptions, type Subjects } from '../../streams/index.js'

/**
 * The alert lane's own NATS connection and publisher (issue 8, the lanes' promise under a flood).
 * On one shared connection, an alert delivered to a stage waits in the socket behind every
 * routine delivery the server has already written (a flood fills the server's write buffer, the
 * kernel's and the client's), and an alert's derived fact leaves behind every routine output
 * queued before it. Urgent lanes (LaneInput.urgent) consume and publish through this connection
 * instead: the server writes to it independently, and the process reads it as soon as it is
 * readable.
 */
export interface AlertLink {
  readonly nc: NatsConnection
  readonly publisher: FactPublisher
}

interface Shared {
  readonly link: Promise<AlertLink>
  users: number
}

/** One link per main connection, shared by every stage runner of the process, closed with the last user. */
const links = new WeakMap<NatsConnection, Shared>()

/**
 * The alert link of `nc`'s process: a second connection with `nc`'s options (servers,
 * credentials, reconnect policy) and its own publisher. `release` closes it after its last user.
 */
export async function acquireAlertLink(
  nc: NatsConnection,
  subjects: Subjects,
  codec: FactCodec,
  opts: PublisherOptions = {},
): Promise<{ link: AlertLink; release(): Promise<void> }> {
  let shared = links.get(nc)
  if (!shared) {
    const options = (nc as unknown as { options: Parameters<typeof connect>[0] & { name?: string } }).options
    const link = connect({ ...options, name: `${options.name ?? 'ben'}-alert` }).then((alertNc) => ({ nc: alertNc, publisher: new FactPublisher(alertNc, subjects, codec, opts) }))
    shared = { link, users: 0 }
    links.set(nc, shared)
    // A failed connect is not cached: the next user tries again.
    link.catch(() => links.get(nc) === shared && links.delete(nc))
  }
  const s = shared
  s.users++
  let link: AlertLink
  try {
    link = await s.link
  } catch (err) {
    s.users--
    throw err
  }
  let released = false
  return {
    link,
    async release() {
      if (released) return
      released = true
      if (--s.users > 0) return
      if (links.get(nc) === s) links.delete(nc)
      await link.publisher.close()
      await link.nc.drain().catch(() => link.nc.close())
    },
  }
}
