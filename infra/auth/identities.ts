import { nkeys } from '@nats-io/nats-core'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { InfraError } from '../errors.js'

/** An nkey identity: its seed lives in `<dir>/<name>.nk` (mode 0600), its public key goes into the server config. */
export interface Identity {
  readonly name: string
  /** Public user nkey (`U…`). */
  readonly publicKey: string
  /** Path of the seed file (`S…`), what `BEN_NATS_NKEY` points at. */
  readonly seedFile: string
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/
const SEED_SUFFIX = '.nk'

export const seedFilePath = (dir: string, name: string): string => join(dir, `${name}${SEED_SUFFIX}`)

/** The creds folder, created owner-only (0700). */
export function ensureCredsDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
}

/** Reads a seed file: the `S…` seed, surrounding whitespace ignored. */
export function readSeed(file: string): Uint8Array {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new InfraError('bad_config', `cannot read the nkey seed file ${file}: ${(cause as Error).message}`, { cause })
  }
  const seed = text.trim()
  if (!/^SU[A-Z2-7]{56}$/.test(seed))
    throw new InfraError('bad_config', `${file} does not hold a user nkey seed (one line, SU…, 58 characters); regenerate it or point BEN_NATS_NKEY at the right file`)
  return new TextEncoder().encode(seed)
}

/** The identity stored in a seed file. */
export function readIdentity(file: string): Identity {
  const seed = readSeed(file)
  let publicKey: string
  try {
    publicKey = nkeys.fromSeed(seed).getPublicKey()
  } catch (cause) {
    throw new InfraError('bad_config', `${file} holds a damaged nkey seed (${(cause as Error).message}); delete it and regenerate`, { cause })
  }
  return Object.freeze({ name: basename(file, SEED_SUFFIX), publicKey, seedFile: file })
}

/**
 * The identity `name` under `dir`: read when its seed file exists, else a new user nkey is
 * made and written owner-only. Never overwrites a seed: a concurrent creator loses the race and
 * reads the winner's file.
 */
export function ensureIdentity(dir: string, name: string): Identity {
  if (!NAME_RE.test(name)) throw new InfraError('bad_config', `identity name '${name}' must be 1-128 letters, digits, '-' or '_'`)
  ensureCredsDir(dir)
  const file = seedFilePath(dir, name)
  if (!existsSync(file)) {
    const kp = nkeys.createUser()
    try {
      writeFileSync(file, new TextDecoder().decode(kp.getSeed()) + '\n', { mode: 0o600, flag: 'wx' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    } finally {
      kp.clear()
    }
  }
  chmodSync(file, 0o600)
  return readIdentity(file)
}

/** Every identity with a seed file under `dir`, by name. */
export function listIdentities(dir: string): Identity[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith(SEED_SUFFIX) && NAME_RE.test(f.slice(0, -SEED_SUFFIX.length)))
    .sort()
    .map((f) => readIdentity(join(dir, f)))
}
