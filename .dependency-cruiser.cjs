/**
 * Rooms with one door each (issue 12.5), checked by `npm run lint`:
 * - no import cycle between top-level folders (the graph is collapsed to them first);
 * - only streams/ speaks JetStream (`@nats-io/jetstream`, `@nats-io/kv`, `@nats-io/obj`); tests and benches may, to set up and measure.
 * - only projections/ (and infra/, which opens the client) imports the ClickHouse client or chDB;
 *   SQL strings outside projections/ fail eslint (eslint.config.js).
 * - the scrub corpus generator (bench/corpus/) imports nothing outside itself.
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
      comment:
        'Only streams/ speaks JetStream (@nats-io/jetstream, @nats-io/kv, @nats-io/obj): add what you need to streams/ (admin.ts, kv.ts, hello.ts...) and import it from streams/index.ts.',
      severity: 'error',
      from: { pathNot: '^(streams|bench)/' },
      to: { path: '@nats-io/(jetstream|kv|obj)(/|$)' },
    },
    {
      name: 'clickhouse-only-in-projections',
      comment: 'Only projections/ talks to ClickHouse (and infra/, which opens the client): add a query helper to projections/ and import it from projections/index.ts.',
      severity: 'error',
      from: { pathNot: '^(projections|infra|bench)/' },
      to: { path: '(@clickhouse/client|(^|/)chdb)(/|$)' },
    },
    {
      name: 'corpus-shares-nothing',
      comment:
        'The labelled scrub corpus (bench/corpus/) is outside data, written from public documentation: it shares no code with what it tests (non-negotiable 6). Keep it self-contained.',
      severity: 'error',
      from: { path: '^bench/corpus/' },
      to: { pathNot: '^bench/corpus/|^node:|^(crypto|fs|path|os|util|buffer|zlib)$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|test)/|\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
