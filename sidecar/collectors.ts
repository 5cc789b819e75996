import { Gauge, type Registry } from 'prom-client'
import type { SidecarStatus } from './types.js'

/**
 * A sidecar's WAL and drain as gauges, read from its status when Prometheus scrapes. One
 * sidecar per process (the `sidecar` label is its id: one value per process, not per fact).
 */
export function registerSidecarCollectors(status: () => SidecarStatus, registry: Registry, now: () => number = Date.now): void {
  const g = (name: string, help: string, read: (s: SidecarStatus) => number) => {
    registry.removeSingleMetric(name) // a restart in the same process replaces, never doubles
    return new Gauge({
      name,
      help,
      labelNames: ['sidecar'],
      registers: [registry],
      collect() {
        const s = status()
        this.reset()
        this.set({ sidecar: s.id }, read(s))
      },
    })
  }
  g('ben_sidecar_wal_depth_records', 'Facts in the WAL not yet acknowledged by JetStream', (s) => s.wal.depthRecords)
  g('ben_sidecar_wal_depth_bytes', 'Bytes in the WAL not yet acknowledged by JetStream', (s) => s.wal.depthBytes)
  g('ben_sidecar_wal_fullness_ratio', 'WAL size over its bound (1 = full)', (s) => s.wal.fullness)
  g('ben_sidecar_wal_oldest_unsent_age_seconds', 'Age of the oldest fact not yet acknowledged by JetStream (0 when none)', (s) =>
    s.wal.oldestUnsentAt ? Math.max(0, (now() - s.wal.oldestUnsentAt) / 1000) : 0,
  )
  g('ben_sidecar_wal_refused', 'Facts refused because the WAL was full, since start', (s) => s.wal.refused)
  g('ben_sidecar_connected', '1 when the sidecar is connected to NATS', (s) => (s.connected ? 1 : 0))
  g('ben_sidecar_routine_window', 'Routine facts the drain may have in flight now: lower while JetStream answers slowly (BEN_PUBLISH_DELAY_MS)', (s) => s.drain.routineWindow)
  g('ben_sidecar_delivered', 'Facts JetStream stored from this sidecar since start', (s) => s.drain.stored)
  g('ben_sidecar_resyncs', 'Drain resynchronisations (disconnects, failed publishes) since start', (s) => s.drain.resyncs)
  g('ben_sidecar_intake_accepted', 'Facts accepted into the WAL since start', (s) => s.intake.accepted)
}
