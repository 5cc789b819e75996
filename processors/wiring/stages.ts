import { homePaths } from '../../infra/config.js'
import type { RuntimeContext, ServiceFactory } from '../../infra/runtime.js'
import { Keyring, registerKey, TrustWatcher } from '../../keys/index.js'
import { Bucket, type Partition, type Subjects } from '../../streams/index.js'
import type { Fact } from '../../schemas/index.js'
import type { CompiledPack } from '../policy/index.js'
import type { ActConfig } from '../act/index.js'
import type { KeyPair } from '../../keys/index.js'
import { ConfigSource, type LaneInput } from '../runner/index.js'
import { actConfigOf, PIPELINE, specOf, StateScope, type StageName, type StageSpec } from '../pipeline.js'
import { kvName, openBucket } from '../../streams/index.js'
import { LaneSet, stageService } from './service.js'
import { runInAlertThread } from './alert-thread.js'

export { ConfigKey } from '../pipeline.js'

/** A stage's input lanes from the stage graph, with this Ben's subjects. */
export function laneInputs(spec: Pick<StageSpec, 'inputs'> & Partial<Pick<StageSpec, 'partitionKey'>>, s: Subjects): LaneInput[] {
  return spec.inputs.map((l) => ({
    lane: l.lane,
    stream: l.stream,
    filterSubject: l.filter(s),
    ...(l.exclude ? { exclude: l.exclude(s) } : {}),
    ...(l.replaces ? { replaces: l.replaces } : {}),
    ...(l.urgent ? { urgent: true } : {}),
    // State per source (partitioned by source): sources are served fairly inside the lane.
    ...(spec.partitionKey === 'source' && !l.urgent ? { fair: true } : {}),
  }))
}

/** A stage of the graph as a `ben up` service: its lanes, config, and output subjects from PIPELINE. */
function graphService(name: Exclude<StageName, 'act'>, partition?: Partition, lanes: LaneSet = LaneSet.All): ServiceFactory {
  return (ctx) => {
    const spec = specOf(name)
    return stageService(ctx, {
      stage: spec.stage,
      inputs: laneInputs(spec, ctx.subjects),
      config: spec.config,
      subjectFor: (f: Fact) => spec.subjectFor(ctx.subjects, f),
      output: spec.output(ctx.subjects),
      partition: checkPartition(name, partition),
      lanes,
    })
  }
}

/** A stage without a partition key runs whole: only partition 0 of 1 exists. */
function checkPartition(name: StageName, p: Partition | undefined): Partition | undefined {
  if (!p || p.count <= 1) return undefined
  if (PIPELINE[name].partitionKey === null)
    throw new Error(`stage ${name} keeps state across sources (${PIPELINE[name].state}) and runs as one partition; partition ${p.index} of ${p.count} does not exist`)
  if (!Number.isInteger(p.index) || p.index < 0 || p.index >= p.count) throw new Error(`partition ${p.index} of ${p.count} does not exist (0..${p.count - 1})`)
  return p
}

/** One unit of work: a stage, or one partition of it. */
export interface StageUnit {
  readonly stage: StageName
  readonly partition?: Partition
}

/**
 * The service that runs one unit (what a worker process runs, one per unit it owns). With
 * `alertThread` (workers: fleet/worker.ts), a unit with an alert lane runs that lane in the
 * process's alert thread (alert-thread.ts), as `ben up` runs its alert path in one process: a
 * stage without state (scrub) is split, its alert lane there and its other lanes here; a stage
 * with state (policy) runs whole there.
 */
export function unitService(u: StageUnit, opts: { readonly alertThread?: boolean } = {}): ServiceFactory {
  if (u.stage === 'act') return actService(undefined, checkPartition('act', u.partition))
  const stage = u.stage
  if (!opts.alertThread || !PIPELINE[stage].inputs.some((l) => l.urgent)) return graphService(stage, u.partition)
  const partition = checkPartition(stage, u.partition)
  if (PIPELINE[stage].state !== StateScope.None) return (ctx) => runInAlertThread(ctx, { stage, partition, lanes: LaneSet.All })
  return async (ctx) => {
    // Started side by side: the routine lanes do not wait for the thread to load (a worker's start-up).
    const [urgentR, routineR] = await Promise.allSettled([
      runInAlertThread(ctx, { stage, partition, lanes: LaneSet.Urgent }),
      Promise.resolve().then(() => graphService(stage, partition, LaneSet.Routine)(ctx)),
    ])
    if (urgentR.status === 'rejected' || routineR.status === 'rejected') {
      if (urgentR.status === 'fulfilled') await urgentR.value.stop()
      if (routineR.status === 'fulfilled') await routineR.value.stop()
      throw urgentR.status === 'rejected' ? urgentR.reason : (routineR as PromiseRejectedResult).reason
    }
    const urgent = urgentR.value
    const routine = routineR.value
    return {
      name: `${routine.name}+${urgent.name}`,
      async stop() {
        await Promise.all([routine.stop(), urgent.stop()])
      },
    }
  }
}

/** Some lanes of a stage's partition (a worker's alert thread runs them: alert-path-thread.ts). */
export function laneUnitService(u: { readonly stage: Exclude<StageName, 'act'>; readonly partition?: Partition; readonly lanes: LaneSet }): ServiceFactory {
  if (u.lanes !== LaneSet.All && PIPELINE[u.stage].state !== StateScope.None)
    throw new Error(`stage ${u.stage} keeps state (${PIPELINE[u.stage].state}): its lanes run together, not split (${u.lanes})`)
  return graphService(u.stage, u.partition, u.lanes)
}

/**
 * scrub: raw FACTS → `ben.scrubbed.<kind>.<source>`. Alerts first. `lanes`: only its alert lane
 * (the alert path runs it in a thread of its own, alert-path.ts), or all but that one.
 */
export const scrubService = (lanes: LaneSet = LaneSet.All): ServiceFactory => graphService('scrub', undefined, lanes)
/** detect: scrubbed metrics → `ben.anomaly.<severity>.<source>`. */
export const detectService = (): ServiceFactory => graphService('detect')
/** policy: scrubbed alerts (first) and anomalies → `ben.decision.<outcome>.<source>`. */
export const policyService = (): ServiceFactory => graphService('policy')
/** incident: anomalies, scrubbed alerts, decisions, commands, acks → `ben.incident.<source>`. */
export const incidentService = (): ServiceFactory => graphService('incident')

/**
 * act: decisions → signed commands on `ben.cmd.<target>`. Its config follows the policy pack
 * (verb settings, ttl) and signs with the issuer key of this `ben up`.
 */
export function actService(key?: KeyPair, partition?: Partition): ServiceFactory {
  return async (ctx: RuntimeContext) => {
    // The issuer key of this Ben: made on first start under $BEN_HOME/keys, registered in ben-keys.
    let issuer = key ?? new Keyring(homePaths(ctx.env.home).keys).loadOrGenerate('issuer', 'issuer')
    await registerKey(await openBucket(ctx.nc, kvName(ctx.topo, Bucket.Keys)), issuer)
    const spec = PIPELINE.act
    const packs = await ConfigSource.open<CompiledPack>(await openBucket(ctx.nc, kvName(ctx.topo, spec.config.bucket)), { ...spec.config, log: ctx.log })
    // Revocations and rotations reach act through its ben-keys watch: a revoked issuer key
    // signs nothing more (decisions are held as `rejected` commands with reason revoked_key).
    const trust = await TrustWatcher.open(ctx.nc, kvName(ctx.topo, Bucket.Keys))
    const revokedAt = (): number | null => {
      const k = trust.get().keys.get(issuer.keyId)
      return k?.revokedAt != null && k.revokedAt <= Date.now() ? k.revokedAt : null
    }
    let held: number | null = revokedAt()
    const toAct = (p: CompiledPack): ActConfig => {
      const r = actConfigOf(p, issuer, held)
      if (!r.ok) throw r.error
      return r.value
    }
    const acts = ConfigSource.fixed(Bucket.Policy, packs.get().revision, toAct(packs.get().value))
    packs.onChange((v) => acts.set(v.revision, toAct(v.value)))
    const sayHeld = () =>
      held !== null
        ? ctx.log.warn(
            { keyId: issuer.keyId, revokedAt: new Date(held).toISOString() },
            `act holds decisions: issuer key ${issuer.keyId} is revoked in ben-keys and signs nothing; rotate it with \`ben keys rotate --name issuer\``,
          )
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
      stage: spec.stage,
      inputs: laneInputs(spec, ctx.subjects),
      config: acts,
      subjectFor: (f: Fact) => spec.subjectFor(ctx.subjects, f),
      output: spec.output(ctx.subjects),
      partition,
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
