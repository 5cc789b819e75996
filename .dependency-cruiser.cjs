/**
 * Rooms with one door each (issue 12.5), checked by `npm run lint`:
 * - no import cycle between top-level folders (the graph is collapsed to them first);
 * - only streams/ speaks JetStream (`@nats-io/jetstream`); tests and benches may, to set up and measure.
 * Test files and fixtures are left out: a test may reach across folders to build its case.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycle',
      comment: 'Top-level folders import each other one way only: move the shared part down (see README, Architecture).',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'jetstream-only-in-streams',
      comment: 'Only streams/ speaks JetStream: add what you need to streams/ and import it from streams/index.ts.',
      severity: 'error',
      // Known, to move next (issue 12.5): each still opens a JetStreamManager or publishes on its own.
      // The list only shrinks; a new file speaking JetStream outside streams/ fails the lint.
      from: {
        pathNot: [
          '^(streams|bench)/',
          '^cli/streams\\.ts$',
          '^console/api\\.ts$',
          '^fleet/(context|hello)\\.ts$',
          '^infra/(up|supervise|nats-cluster)\\.ts$',
          '^processors/runner/stage-runner\\.ts$',
          '^projections/projector\\.ts$',
          '^replay/replay\\.ts$',
          '^sidecar/(drain|hello|reconcile)\\.ts$',
          '^telemetry/collectors\\.ts$',
        ],
      },
      to: { path: '@nats-io/jetstream' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test)/|\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
