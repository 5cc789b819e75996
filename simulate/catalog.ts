import type { EdgeFact } from '../schemas/index.js'
import type { Rng } from './prng.js'

/**
 * Background log events, diagnostics and low-severity edge alerts: plausible messages with
 * attributes (users, paths, status codes), drawn from a host's own seeded stream. Addresses
 * are in the documentation ranges (RFC 5737); users and paths are invented.
 */

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar', 'peggy', 'trent', 'victor', 'walter'] as const
const PATHS = [
  '/',
  '/login',
  '/logout',
  '/api/v1/orders',
  '/api/v1/orders/{id}',
  '/api/v1/cart',
  '/api/v1/search',
  '/api/v1/users/me',
  '/static/app.js',
  '/static/app.css',
  '/healthz',
  '/metrics',
] as const
const METHODS = ['GET', 'GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE'] as const
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', 'Mozilla/5.0 (Macintosh) Safari/17.4', 'curl/8.5.0', 'okhttp/4.12.0', 'kube-probe/1.30'] as const
const NETS = ['192.0.2', '198.51.100', '203.0.113'] as const
const SUDO = ['systemctl restart nginx', 'journalctl -u app --since -1h', 'apt-get upgrade -y', 'tail -n 200 /var/log/app.log', 'docker ps'] as const
const CRON = ['logrotate', 'backup-db', 'certbot-renew', 'tmp-cleanup', 'metrics-rollup'] as const
const SERVICES = ['nginx', 'app', 'envoy', 'node-exporter'] as const

const ip = (rng: Rng): string => `${rng.pick(NETS)}.${rng.int(1, 254)}`
const statusOf = (rng: Rng): number => {
  const u = rng.next()
  return u < 0.86 ? 200 : u < 0.9 ? 201 : u < 0.93 ? 304 : u < 0.965 ? 404 : u < 0.98 ? 401 : u < 0.99 ? 403 : rng.pick([500, 502, 503])
}

/** What a background event stream needs of its host. */
export interface HostInfo {
  readonly source: string
  readonly jobs: readonly string[]
}

/** One background log event (DESIGN edge shape, lane `event`). */
export function backgroundEvent(rng: Rng, host: HostInfo, ts: number): EdgeFact {
  const u = rng.next()
  const ev = (type: string, message: string, attrs: Record<string, string>): EdgeFact => ({ lane: 'event', source: host.source, ts, type, message, attrs })
  if (u < 0.55) {
    const method = rng.pick(METHODS)
    const path = rng.pick(PATHS).replace('{id}', String(rng.int(1000, 99999)))
    const status = statusOf(rng)
    const dur = Math.max(1, Math.round(rng.exp(status >= 500 ? 900 : 45)))
    const client = ip(rng)
    return ev('http.request', `${method} ${path} ${status} ${dur}ms`, {
      method,
      path,
      status: String(status),
      duration_ms: String(dur),
      client_ip: client,
      user_agent: rng.pick(AGENTS),
    })
  }
  if (u < 0.7) {
    const user = rng.pick(USERS)
    const from = ip(rng)
    const method = rng.pick(['ssh', 'sso', 'sso', 'password'])
    const okay = rng.chance(0.88)
    return okay
      ? ev('auth.login', `login ok for ${user} from ${from} via ${method}`, { user, client_ip: from, method, result: 'ok' })
      : ev('auth.login', `login failed for ${user} from ${from} via ${method}: ${rng.pick(['bad credentials', 'account locked', 'mfa timeout'])}`, {
          user,
          client_ip: from,
          method,
          result: 'failed',
        })
  }
  if (u < 0.75) {
    const user = rng.pick(USERS)
    return ev('auth.logout', `session closed for ${user}`, { user, reason: rng.pick(['logout', 'idle timeout', 'expired']) })
  }
  if (u < 0.87) {
    const job = rng.pick(host.jobs)
    const run = String(rng.int(1, 99999))
    if (rng.chance(0.5)) return ev('job.started', `job ${job} started (run ${run})`, { job, run })
    const exit = rng.chance(0.95) ? 0 : rng.pick([1, 2, 137])
    const secs = Math.round(rng.exp(300)) + 1
    return ev('job.finished', `job ${job} finished in ${secs}s with exit code ${exit}`, { job, run, exit_code: String(exit), duration_s: String(secs) })
  }
  if (u < 0.95) {
    const task = rng.pick(CRON)
    return ev('cron.run', `cron ${task} completed`, { task, exit_code: rng.chance(0.97) ? '0' : '1' })
  }
  if (u < 0.98) {
    const user = rng.pick(USERS)
    const command = rng.pick(SUDO)
    return ev('auth.sudo', `${user} ran sudo ${command}`, { user, command })
  }
  const service = rng.pick(SERVICES)
  return ev('config.reload', `${service} configuration reloaded`, { service, by: rng.pick(['deploy', 'operator', 'cron']) })
}

/** One diagnostic from the host's agent (lane `diag`). */
export function backgroundDiag(rng: Rng, host: HostInfo, ts: number): EdgeFact {
  const d = (component: string, message: string, attrs: Record<string, string>): EdgeFact => ({ lane: 'diag', source: host.source, ts, component, message, attrs })
  const u = rng.next()
  if (u < 0.3) {
    const fill = rng.int(0, 35)
    return d('agent', `buffer ${fill}% full, 0 dropped`, { buffer_pct: String(fill), dropped: '0' })
  }
  if (u < 0.55) {
    const off = (rng.normal() * 3).toFixed(1)
    return d('ntp', `clock offset ${off} ms`, { offset_ms: off })
  }
  if (u < 0.75) {
    const dev = rng.pick(['sda', 'nvme0n1'])
    const n = rng.chance(0.9) ? 0 : rng.int(1, 8)
    return d('disk', n === 0 ? `smart ok on ${dev}` : `smart warning on ${dev}: reallocated sector count ${n}`, { device: dev, reallocated: String(n) })
  }
  if (u < 0.9) {
    const avg = rng.exp(0.6).toFixed(2)
    return d('kernel', `memory pressure some avg10=${avg}`, { psi_avg10: avg })
  }
  const errs = rng.chance(0.92) ? 0 : rng.int(1, 20)
  return d('net', `eth0 rx errors ${errs}`, { iface: 'eth0', rx_errors: String(errs) })
}

/** One low-severity alert raised at the edge (lane `alert`): noise the policy records and ignores. */
export function backgroundAlert(rng: Rng, host: HostInfo, ts: number): EdgeFact {
  const a = (rule: string, message: string, attrs: Record<string, string>): EdgeFact => ({ lane: 'alert', source: host.source, ts, rule, severity: 'low', message, attrs })
  const u = rng.next()
  if (u < 0.35) {
    const path = rng.pick(['/etc/hosts', '/etc/resolv.conf', '/etc/nginx/nginx.conf', '/etc/cron.d/backup'])
    return a('fim.change', `file changed: ${path}`, { path, change: 'modified' })
  }
  if (u < 0.6) {
    const user = rng.pick(USERS)
    return a('auth.new_device', `${user} signed in from a device not seen before`, { user, client_ip: ip(rng) })
  }
  if (u < 0.8) {
    const from = ip(rng)
    return a('net.port_scan', `${rng.int(20, 200)} ports probed from ${from} in 60 s`, { client_ip: from })
  }
  const path = rng.pick(['/usr/local/bin/backup-helper', '/opt/app/bin/migrate', '/tmp/npm-cache/node-gyp'])
  return a('edr.exec', `unsigned binary executed: ${path}`, { path, user: rng.pick(USERS) })
}
