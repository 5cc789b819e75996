import { afterAll } from 'vitest'
import { stopLeftoverServers } from '../../infra/nats-server.js'

/**
 * Setup file of the integration tests. A nats-server Ben starts is detached (a session of its
 * own), and vitest ends a test file's worker without the 'exit' event that would stop it: a test
 * that threw before its clean-up left its server running after the run. After each file's own
 * hooks, the servers it started and did not stop are stopped here, and counted out loud.
 */
afterAll(() => {
  const n = stopLeftoverServers()
  if (n > 0) console.warn(`leftover servers: ${n} nats-server(s) started by this file and not stopped by it; stopped now`)
})
