import { homePaths, Keyring, registerKey, TrustWatcher, type RuntimeContext, type ServiceFactory } from '../../infra/index.js'
import { Bucket } from '../../streams/index.js'
import type { Fact } from '../../schemas/index.js'
import { defaultManifest, loadManifest, scrubStage } from '../scrub/index.js'
import { defaultDetectorConfig, detectStage, loadDetectorConfig } from '../detect/index.js'
import { defaultPack, loadPolicyPack, policyStage, type CompiledPack } from '../policy/index.js'
import { actConfig, actStage, defaultVerbs, type ActConfig, type KeyPair } from '../act/index.js'
import { ConfigSource, openBucket } from '../runner/index.js'
import { defaultIncidentConfig, incidentStage, loadIncidentConfig } from '../incident/index.js'
import { kvName } from '../../streams/index.js'
import { lane, stageService } from './service.js'

/** KV keys holding each stage's active config. */
export const ConfigKey = { Manifest: 'manifest', Detectors: 'detectors', Pack: 'pack', Incidents: 'incidents' } as const

/** scrub: raw FACTS → `ben.scrubbed.<kind>.<source>`. Alerts first. */
export function scrubService(): ServiceFactory {
  return (ctx) => {
    const s = ctx.subjects
    return stageService(ctx, {
      stage: scrubStage,
      // The routine lane reads every raw subject but the alert lane's: metrics, events,
      // diagnostics, and whatever else is stored in FACTS (an unknown or mistyped lane, a
      // missing source), which is dead-lettered with the reason instead of being ignored.
      inputs: [
        lane('alert', 'FACTS', `${s.prefix}.fact.alert.>`),
        { ...lane('routine', 'FACTS', s.factsAll), exclude: `${s.prefix}.fact.alert.>`, replaces: ['metric', 'event', 'diag'] },
      ],
      config: { bucket: Bucket.Redaction, key: ConfigKey.Manifest, load: (t) => loadManifest(t), fallback: () => defaultManifest() },
      subjectFor: (f: Fact) => s.forFact(f, { scrubbed: true }),
      output: { stream: 'DERIVED', filterSubject: s.scrubbedAll },
    })
  }
}

/** detect: scrubbed metrics → `ben.anomaly.<severity>.<source>`. */
export function detectService(): ServiceFactory {
  return (ctx) =>
    stageService(ctx, {
      stage: detectStage,
      inputs: [lane('metric', 'DERIVED', `${ctx.subjects.prefix}.scrubbed.metric.>`)],
      config: { bucket: Bucket.Detectors, key: ConfigKey.Detectors, load: (t) => loadDetectorConfig(t), fallback: () => defaultDetectorConfig().value },
      subjectFor: (f: Fact) => ctx.subjects.forFact(f),
      output: { stream: 'DERIVED', filterSubject: ctx.subjects.anomalyAll },
    })
}

const loadPack = (t: string) => loadPolicyPack(t, { knownVerbs: defaultVerbs().keys() })
const builtinPack = (): CompiledPack => {
  const r = defaultPack({ knownVerbs: defaultVerbs().keys() })
  if (!r.ok) throw r.error
  return r.value
}

/** policy: scrubbed alerts (first) and anomalies → `ben.decision.<outcome>.<source>`. */
export function policyService(): ServiceFactory {
  return (ctx) =>
    stageService(ctx, {
      stage: policyStage,
      inputs: [lane('alert', 'DERIVED', `${ctx.subjects.prefix}.scrubbed.alert.>`), lane('anomaly', 'DERIVED', ctx.subjects.anomalyAll)],
      config: { bucket: Bucket.Policy, key: ConfigKey.Pack, load: loadPack, fallback: builtinPack },
      subjectFor: (f: Fact) => ctx.subjects.forFact(f),
      output: { stream: 'DERIVED', filterSubject: ctx.subjects.decisionAll },
    })
}

/**
 * act: decisions → signed commands on `ben.cmd.<target>`. Its config follows the policy pack
 * (verb settings, ttl) and signs with the issuer key of this `ben up`.
 */
export function actService(key?: KeyPair): ServiceFactory {
  return async (ctx: RuntimeContext) => {
    // The issuer key of this Ben: made on first start under $BEN_HOME/keys, registered in ben-keys.
    let issuer = key ?? new Keyring(homePaths(ctx.env.home).keys).loadOrGenerate('issuer', 'issuer')
    await registerKey(await openBucket(ctx.nc, kvName(ctx.topo, Bucket.Keys)), issuer)
    const packs = await ConfigSource.open<CompiledPack>(await openBucket(ctx.nc, kvName(ctx.topo, Bucket.Policy)), {
      bucket: Bucket.Policy,
      key: ConfigKey.Pack,
      load: loadPack,
      fallback: builtinPack,
      log: ctx.log,
    })
    // Revocations and rotations reach act through its ben-keys watch: a revoked issuer key
    // signs nothing more (decisions are held as `rejected` commands with reason revoked_key).
    const trust = await TrustWatcher.open(ctx.nc, kvName(ctx.topo, Bucket.Keys))
    const revokedAt = (): number | null => {
      const k = trust.get().keys.get(issuer.keyId)
      return k?.revokedAt != null && k.revokedAt <= Date.now() ? k.revokedAt : null
    }
    let held: number | null = revokedAt()
    const toAct = (p: CompiledPack): ActConfig => {
      const r = actConfig({ issuer, settings: p.verbs, defaultTtlMs: p.defaultTtlMs, issuerRevokedAt: held })
      if (!r.ok) throw r.error
      return r.value
    }
    const acts = ConfigSource.fixed(Bucket.Policy, packs.get().revision, toAct(packs.get().value))
    packs.onChange((v) => acts.set(v.revision, toAct(v.value)))
    const sayHeld = () =>
      held !== null
        ? ctx.log.warn({ keyId: issuer.keyId, revokedAt: new Date(held).toISOString() }, `act holds decisions: issuer key ${issuer.keyId} is revoked in ben-keys and signs nothing; rotate it with \`ben keys rotate --name issuer\``)
        : ctx.log.info({ keyId: issuer.keyId }, `act signs with issuer key ${issuer.keyId}`)
    if (held !== null) sayHeld()
    const recheck = () => {
      const now = revokedAt()
      if (now === held) return
      held = now
      acts.set(packs.get().revision, toAct(packs.get().value))
      sayHeld()
    }
    trust.onChange(recheck)
    // `ben keys rotate --name issuer` replaces the key file: sign with the new key from then on.
    const ring = new Keyring(homePaths(ctx.env.home).keys)
    const rotation = setInterval(() => {
      if (!key) {
        try {
          const current = ring.load('issuer')
          if (current.keyId !== issuer.keyId) {
            issuer = current
            held = revokedAt()
            acts.set(packs.get().revision, toAct(packs.get().value))
            ctx.log.info({ keyId: issuer.keyId }, 'act now signs with the rotated issuer key')
            if (held !== null) sayHeld()
          }
        } catch (err) {
          ctx.log.warn({ err: (err as Error).message }, 'cannot read the issuer key file')
        }
      }
      recheck() // a revocation with a grace period (--grace) takes effect when it ends
    }, 2000)
    rotation.unref()
    const svc = await stageService(ctx, {
      stage: actStage,
      inputs: [lane('decision', 'DERIVED', ctx.subjects.decisionAll)],
      config: acts,
      subjectFor: (f: Fact) => ctx.subjects.forFact(f),
      output: { stream: 'COMMANDS', filterSubject: ctx.subjects.cmdAll },
    })
    return {
      ...svc,
      async stop() {
        clearInterval(rotation)
        trust.close()
        await svc.stop()
      },
    }
  }
}

/** incident: anomalies, scrubbed alerts, decisions, commands, acks → `ben.incident.<source>`. */
export function incidentService(): ServiceFactory {
  return (ctx) => {
    const s = ctx.subjects
    return stageService(ctx, {
      stage: incidentStage,
      inputs: [
        lane('alert', 'DERIVED', `${s.prefix}.scrubbed.alert.>`),
        lane('anomaly', 'DERIVED', s.anomalyAll),
        lane('decision', 'DERIVED', s.decisionAll),
        lane('command', 'COMMANDS', s.cmdAll),
        lane('ack', 'COMMANDS', s.ackAll),
      ],
      config: { bucket: Bucket.Incidents, key: ConfigKey.Incidents, load: (t) => loadIncidentConfig(t), fallback: () => defaultIncidentConfig().value },
      subjectFor: (f: Fact) => s.forFact(f),
      output: { stream: 'DERIVED', filterSubject: s.incidentAll },
    })
  }
}
