import { WHOLE, type Partition } from '../streams/index.js'
import { isStageName, PIPELINE, STAGE_NAMES, type StageName } from '../processors/pipeline.js'
import type { StageUnit } from '../processors/wiring/index.js'
import { FleetError } from './errors.js'

/** `detect.p1of4`, or `policy` for a stage that runs whole: KV-key and log friendly. */
export function unitKey(u: StageUnit): string {
  const p = u.partition ?? WHOLE
  return p.count <= 1 ? u.stage : `${u.stage}.p${p.index}of${p.count}`
}

/** Inverse of unitKey. */
export function parseUnitKey(key: string): StageUnit {
  const m = /^([a-z]+)(?:\.p(\d+)of(\d+))?$/.exec(key)
  if (!m || !isStageName(m[1])) throw new FleetError('bad_unit', `'${key}' is not a unit: a stage (${STAGE_NAMES.join(', ')}) or <stage>.p<i>of<P>`)
  const stage = m[1] as StageName
  if (m[2] === undefined) return { stage }
  return { stage, partition: checkIndex(stage, Number(m[2]), Number(m[3])) }
}

function checkIndex(stage: StageName, index: number, count: number): Partition | undefined {
  if (!Number.isInteger(count) || count < 1 || count > 1024) throw new FleetError('bad_unit', `partition count ${count} is out of range (1..1024)`)
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new FleetError('bad_unit', `partition ${index} of ${count} does not exist (0..${count - 1})`)
  if (count === 1) return undefined
  if (PIPELINE[stage].partitionKey === null)
    throw new FleetError('bad_unit', `stage ${stage} keeps state across sources and runs as one partition: it has no partition ${index} of ${count}`)
  return { index, count }
}

/** `0-3`, `0,2,5`, `1-2,7` → sorted indices. */
export function parseRange(text: string, count: number): number[] {
  const out = new Set<number>()
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim())
    if (!m) throw new FleetError('bad_unit', `'${text}' is not a partition list (like 0-3 or 0,2,5)`)
    const a = Number(m[1])
    const b = m[2] === undefined ? a : Number(m[2])
    if (b < a) throw new FleetError('bad_unit', `'${part}': the range goes down`)
    for (let i = a; i <= b; i++) {
      if (i >= count) throw new FleetError('bad_unit', `partition ${i} does not exist: there are ${count} (0..${count - 1}; set the count with --of)`)
      out.add(i)
    }
  }
  return [...out].sort((x, y) => x - y)
}

/**
 * The units `ben run <stage...> --partitions <list> --of <P>` owns. A stage without a partition
 * key (state across sources) runs whole, and only where partition 0 is in the list.
 */
export function unitsFor(stages: readonly string[], partitions: string | undefined, count: number): StageUnit[] {
  const names = stages.length === 0 || stages.includes('all') ? STAGE_NAMES : stages
  const indices = partitions === undefined ? [...Array(count).keys()] : parseRange(partitions, count)
  const out: StageUnit[] = []
  for (const n of names) {
    if (!isStageName(n)) throw new FleetError('bad_unit', `unknown stage '${n}': one of ${STAGE_NAMES.join(', ')} (or all)`)
    if (PIPELINE[n].partitionKey === null || count <= 1) {
      if (indices.includes(0)) out.push({ stage: n })
      continue
    }
    for (const i of indices) out.push({ stage: n, partition: { index: i, count } })
  }
  if (out.length === 0) throw new FleetError('bad_unit', `nothing to run: ${names.join(', ')} ${names.length > 1 ? 'have' : 'has'} no partition ${partitions} of ${count}`)
  return out
}

/** Every unit of the graph with P partitions per partitionable stage, in graph order. */
export function allUnits(count: number): StageUnit[] {
  return unitsFor(STAGE_NAMES, undefined, count)
}

/** Deals units to `n` workers: each stage's partitions round-robin, so every worker gets a share of each stage. */
export function deal(units: readonly StageUnit[], n: number): StageUnit[][] {
  const out: StageUnit[][] = Array.from({ length: Math.max(1, n) }, () => [])
  units.forEach((u, i) => out[i % out.length].push(u))
  return out
}
