import { defineConfig } from 'vitest/config'
import { LongestFirst } from './test/support/sequencer.js'

/**
 * Unit test files that start a process or a server: they run isolated, with the integration
 * tests. Every other `*.test.ts` outside `test/` is pure (no server, no child process, no global
 * state left behind) and runs in the `unit` project.
 */
const UNIT_WITH_PROCESSES = ['cli/main.test.ts', 'infra/auth/auth.test.ts', 'sidecar/wal/crash.test.ts', 'streams/wire.test.ts']
const EXCLUDE = ['node_modules/**', 'dist/**']

export default defineConfig({
  test: {
    // Deadlines for a machine shared at load 20-35 (2 cores): at 120 s, CPU-bound cases and
    // 100,000-fact ones timed out there though nothing was wrong. A hang still fails.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Integration tests spawn nats-server and chDB, and many spend long stretches waiting on
    // them (a `ben up` starting, a disk held full, a pipeline settling): on 2 cores, a third
    // worker fills that time. Whole `npm test` on this machine, quiet: 668 s with 2 workers,
    // 612 s with 3 (CPU busy 1.68 and 1.74 cores on average).
    maxWorkers: 3,
    reporters: ['default', './test/support/summary-reporter.ts'],
    // The longest files first (measured durations when vitest has them, else test/support/durations.json),
    // so the run does not end on one long file started late.
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        extends: true,
        test: { name: 'integration', include: ['test/**/*.test.ts', ...UNIT_WITH_PROCESSES], exclude: EXCLUDE, setupFiles: ['test/support/leftover-servers.ts'] },
      },
      {
        // Pure unit files share one module graph per worker thread: Ben's modules are imported
        // once per worker, not once per file (that was ~2 minutes of a busy run).
        extends: true,
        test: { name: 'unit', include: ['**/*.test.ts'], exclude: [...EXCLUDE, 'test/**', ...UNIT_WITH_PROCESSES], isolate: false, pool: 'threads' },
      },
    ],
  },
})
