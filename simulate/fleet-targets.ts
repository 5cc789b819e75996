import { createHash } from 'node:crypto'
import { generateKeyPair, trustKey, type KeyPair, type TrustStore } from '../keys/index.js'
import type { Fleet } from './fleet.js'
import { createSimTarget, type SimTarget, type SimTargetOptions } from './target.js'

/**
 * A deterministic sidecar key for a simulated host, derived from the fleet seed. For the
 * simulator only: anyone who knows the seed knows the key.
 */
export function simSidecarKey(seed: string | number, source: string): KeyPair {
  const bytes = createHash('sha256')
    .update(`ben.simulate.sidecar\u0000${String(seed)}\u0000${source}`)
    .digest()
  return generateKeyPair('sidecar', new Uint8Array(bytes))
}

/** Registers each sidecar key bound to its host (owner), so acks verify with `verifyAck`. */
export function trustSidecars(trust: TrustStore, keys: ReadonlyMap<string, KeyPair>): TrustStore {
  let t = trust
  for (const [source, key] of keys) t = trustKey(t, key, source)
  return t
}

export interface FleetTargets {
  /** One simulated target per host, by source; each reports its effects to the fleet. */
  readonly targets: ReadonlyMap<string, SimTarget>
  /** The sidecar key pairs, by source (publish the public halves to ben-keys). */
  readonly keys: ReadonlyMap<string, KeyPair>
  /** `trust` plus the sidecar keys, each bound to its host. */
  readonly trust: TrustStore
}

/**
 * Simulated targets for every host of a fleet, wired so an executed command changes what the
 * fleet generates (`fleet.applyEffect`): a throttle ends the job's runaway.
 */
export function fleetTargets(
  fleet: Fleet,
  o: { readonly trust: TrustStore; readonly now: () => number; readonly keys?: ReadonlyMap<string, KeyPair> } & Pick<SimTargetOptions, 'verbs' | 'require' | 'handlers'>,
): FleetTargets {
  const keys = new Map<string, KeyPair>()
  for (const source of fleet.sources) keys.set(source, o.keys?.get(source) ?? simSidecarKey(fleet.options.seed, source))
  const trust = trustSidecars(o.trust, keys)
  const targets = new Map<string, SimTarget>()
  for (const source of fleet.sources) {
    targets.set(
      source,
      createSimTarget({
        id: source,
        keyPair: keys.get(source)!,
        trust,
        now: o.now,
        jobs: fleet.jobsOf(source),
        ...(o.verbs ? { verbs: o.verbs } : {}),
        ...(o.require ? { require: o.require } : {}),
        ...(o.handlers ? { handlers: o.handlers } : {}),
        onEffect: (e) => {
          fleet.applyEffect(e)
        },
      }),
    )
  }
  return { targets, keys, trust }
}
