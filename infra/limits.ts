import { StreamName, type StreamLimits } from '../streams/index.js'
import { parseDuration } from '../schemas/index.js'
import { InfraError } from './errors.js'

const BYTES: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 }

/**
 * Stream limits from the environment: `BEN_<STREAM>_MAX_AGE` (e.g. 7d, 12h), `BEN_<STREAM>_MAX_BYTES`
 * (e.g. 50GB, 512MiB), `BEN_<STREAM>_MAX_MSGS` for FACTS, DERIVED, COMMANDS, DLQ, HELLO. A bad
 * value is refused with the variable's name and what it should look like.
 */
export function streamLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<Record<StreamName, Partial<StreamLimits>>> {
  const out: Partial<Record<StreamName, Partial<StreamLimits>>> = {}
  for (const name of Object.values(StreamName)) {
    const l: { maxAgeMs?: number; maxBytes?: number; maxMsgs?: number } = {}
    const age = env[`BEN_${name}_MAX_AGE`]
    if (age) {
      const ms = parseDuration(age)
      if (ms === undefined) throw new InfraError('bad_config', `BEN_${name}_MAX_AGE=${age}: expected a duration like 90s, 12h, 7d or 4w`)
      l.maxAgeMs = ms
    }
    const bytes = env[`BEN_${name}_MAX_BYTES`]
    if (bytes) {
      const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(bytes.trim())
      const unit = m ? BYTES[m[2].toLowerCase()] : undefined
      if (!m || !unit) throw new InfraError('bad_config', `BEN_${name}_MAX_BYTES=${bytes}: expected a size like 500MB, 10GiB or 1073741824`)
      l.maxBytes = Math.floor(Number(m[1]) * unit)
    }
    const msgs = env[`BEN_${name}_MAX_MSGS`]
    if (msgs) {
      const n = Number(msgs)
      if (!Number.isSafeInteger(n) || n <= 0) throw new InfraError('bad_config', `BEN_${name}_MAX_MSGS=${msgs}: expected a positive whole number`)
      l.maxMsgs = n
    }
    if (Object.keys(l).length) out[name] = l
  }
  return out
}
