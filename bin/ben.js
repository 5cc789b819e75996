#!/usr/bin/env node
import('../dist/cli/main.js').then((m) => m.main(process.argv)).catch((err) => {
  process.stderr.write(`ben: ${err?.message ?? err}\n`)
  process.exit(1)
})
