#!/usr/bin/env node
const debug = process.argv.includes('--debug') || Boolean(process.env.BEN_DEBUG)
// --debug: stack traces name the sources, not the bundle's lines (scripts/bundle.mjs).
if (debug) process.setSourceMapsEnabled(true)
import('../dist/bundle/main.js')
  .then((m) => m.main(process.argv))
  .then(() => {
    // A failed command ends now: a connection attempt to a server that does not answer must not
    // keep the process alive after its message was printed.
    if (process.exitCode) process.exit()
  })
  .catch((err) => {
    process.stderr.write(`ben: ${String(err?.message ?? err).replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}\n`)
    if (debug) process.stderr.write(`${err?.stack}\n`)
    process.exit(70)
  })
