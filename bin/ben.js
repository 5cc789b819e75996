#!/usr/bin/env node
import('../dist/cli/main.js').then((m) => m.main(process.argv)).then(() => {
  // A failed command ends now: a connection attempt to a server that does not answer must not
  // keep the process alive after its message was printed.
  if (process.exitCode) process.exit()
}).catch((err) => {
  process.stderr.write(`ben: ${err?.message ?? err}\n`)
  process.exit(1)
})
