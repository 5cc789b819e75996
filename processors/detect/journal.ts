import type { Labels } from '../../schemas/index.js'
import { ByteReader, type ChunkWriter } from '../runner/index.js'
import type { StateJournal, StateRestore } from '../stage.js'
import { plainCodec, readShape, writeShape, type Shape } from './codec.js'
import { reviveEnsembleState, type EnsembleState } from './ensemble.js'
import { indexSeries, newDetectState, Table, type DetectState, type GroupRecord, type SeriesRecord } from './state.js'

/**
 * The detect state as a log of binary segments (the runner's incremental checkpoints). A
 * segment is frames:
 *
 * | type | frame |
 * | --- | --- |
 * | 0 header | counters (evicted, late, refused, idle, created) |
 * | 4 settings | index, a settings fingerprint (once per segment, then referenced by index) |
 * | 5 shape | index, a state shape (`codec.ts`; once per segment) |
 * | 1 series | key, source, metric, labels, lastTs, ord, settings index, shape index, the ensemble state's numbers |
 * | 2 group | key, source, group, lastTs, ord, settings index, shape index, `{ values, seen, pca }` |
 * | 3 tombstone | table, key |
 *
 * A segment holds the series and groups changed since the previous one (and a steady sweep of
 * unchanged ones, see runner/changelog.ts). Restoring applies the retained segments in order and
 * re-inserts the records in creation order, so the restored state equals the saved one.
 */
const Frame = { Header: 0, Series: 1, Group: 2, Tombstone: 3, Settings: 4, Shape: 5 } as const

/**
 * A series read back from a checkpoint. Its detector state stays in its stored bytes (checked,
 * not decoded) until the series' next point needs it: a restart reads only each record's head,
 * and a series that gets no point until the next checkpoints is copied forward byte for byte.
 * Decoded, it is the very state an eager restore builds, so outputs do not change.
 */
export class StoredSeries implements SeriesRecord {
  lastId?: string
  private decoded: EnsembleState | undefined

  constructor(
    readonly key: string,
    readonly source: string,
    readonly metric: string,
    readonly labels: Labels,
    public lastTs: number,
    public settingsKey: string,
    public ord: number,
    lastId: string | undefined,
    /** The stored detector state (with `shape`), until decoded. */
    private bytes: Uint8Array | undefined,
    readonly shape: Shape,
  ) {
    if (lastId !== undefined) this.lastId = lastId
  }

  get ens(): EnsembleState {
    if (this.decoded === undefined) {
      this.decoded = reviveEnsembleState(plainCodec.read(new ByteReader(this.bytes!), this.shape) as EnsembleState)
      this.bytes = undefined
    }
    return this.decoded
  }

  set ens(v: EnsembleState) {
    this.decoded = v
    this.bytes = undefined
  }

  /** The stored bytes of the detector state while it is not decoded. */
  get packed(): Uint8Array | undefined {
    return this.bytes
  }

  /** The plain record (same fields, same order as a series built by the stage). */
  toJSON(): SeriesRecord {
    const { key, source, metric, labels, lastTs, settingsKey, ord, lastId } = this
    return { key, source, metric, labels, lastTs, settingsKey, ord, ens: this.ens, ...(lastId !== undefined ? { lastId } : {}) }
  }
}

interface SegmentTables {
  readonly settings: Map<string, number>
  readonly shapes: Map<Shape, number>
}

export function detectJournal(): StateJournal<DetectState> {
  /** Last shape seen per settings fingerprint: a hint (checked against each record). */
  const shapeCache = new Map<string, Shape>()

  const settingsRef = (w: ChunkWriter, t: SegmentTables, key: string): number => {
    let i = t.settings.get(key)
    if (i === undefined) {
      t.settings.set(key, (i = t.settings.size))
      w.beginFrame()
      w.u8(Frame.Settings)
      w.u32(i)
      w.str(key)
      w.endFrame()
    }
    return i
  }
  const shapeRef = (w: ChunkWriter, t: SegmentTables, cacheKey: string, value: unknown): { shape: Shape; index: number } => {
    const hint = shapeCache.get(cacheKey)
    const shape = plainCodec.shapeOf(value, hint)
    if (shape !== hint) shapeCache.set(cacheKey, shape)
    return { shape, index: shapeIndex(w, t, shape) }
  }
  const shapeIndex = (w: ChunkWriter, t: SegmentTables, shape: Shape): number => {
    let i = t.shapes.get(shape)
    if (i === undefined) {
      t.shapes.set(shape, (i = t.shapes.size))
      w.beginFrame()
      w.u8(Frame.Shape)
      w.u32(i)
      writeShape(w, shape)
      w.endFrame()
    }
    return i
  }

  const writeSeries = (w: ChunkWriter, t: SegmentTables, rec: SeriesRecord): void => {
    const si = settingsRef(w, t, rec.settingsKey)
    // a restored series not stepped since: its stored bytes, as they are
    const packed = rec instanceof StoredSeries ? rec.packed : undefined
    const { shape, index } = packed ? { shape: (rec as StoredSeries).shape, index: shapeIndex(w, t, (rec as StoredSeries).shape) } : shapeRef(w, t, rec.settingsKey, rec.ens)
    w.beginFrame()
    w.u8(Frame.Series)
    w.str(rec.key)
    w.str(rec.source)
    w.str(rec.metric)
    const names = Object.keys(rec.labels)
    w.u32(names.length)
    for (const k of names) {
      w.str(k)
      w.str(String(rec.labels[k]))
    }
    w.f64(rec.lastTs)
    w.f64(rec.ord)
    w.str(rec.lastId ?? '')
    w.u32(si)
    w.u32(index)
    if (packed) w.raw(packed)
    else plainCodec.write(w, shape, rec.ens)
    w.endFrame()
  }

  const writeGroup = (w: ChunkWriter, t: SegmentTables, rec: GroupRecord): void => {
    const si = settingsRef(w, t, rec.settingsKey)
    const value = { values: rec.values, seen: rec.seen, pca: rec.pca }
    const { shape, index } = shapeRef(w, t, `group\u0000${rec.settingsKey}`, value)
    w.beginFrame()
    w.u8(Frame.Group)
    w.str(rec.key)
    w.str(rec.source)
    w.str(rec.group)
    w.f64(rec.lastTs)
    w.f64(rec.ord)
    w.str(rec.lastId ?? '')
    w.u32(si)
    w.u32(index)
    plainCodec.write(w, shape, value)
    w.endFrame()
  }

  const writeTombstone = (w: ChunkWriter, table: number, key: string): void => {
    w.beginFrame()
    w.u8(Frame.Tombstone)
    w.u8(table)
    w.str(key)
    w.endFrame()
  }

  return {
    write(state, seq, w) {
      const t: SegmentTables = { settings: new Map(), shapes: new Map() }
      const start = w.bytes
      w.beginFrame()
      w.u8(Frame.Header)
      w.f64(state.evicted)
      w.f64(state.late)
      w.f64(state.refused)
      w.f64(state.idle)
      w.f64(state.created)
      w.endFrame()
      const plan = state.journal.seal(
        seq,
        {
          record(table, key) {
            const b0 = w.bytes
            const rec = table === Table.Series ? state.series.get(key) : state.groups.get(key)
            if (!rec) writeTombstone(w, table, key)
            else if (table === Table.Series) writeSeries(w, t, rec as SeriesRecord)
            else writeGroup(w, t, rec as GroupRecord)
            return w.bytes - b0
          },
          tombstone(table, key) {
            const b0 = w.bytes
            writeTombstone(w, table, key)
            return w.bytes - b0
          },
        },
        w.bytes - start,
      )
      return { keepFrom: plan.keepFrom, keep: plan.keep, records: plan.records }
    },

    restore(): StateRestore<DetectState> {
      const state = newDetectState()
      const series = new Map<string, StoredSeries>()
      const groups = new Map<string, GroupRecord>()
      let seg = -1
      let settings: string[] = []
      let shapes: Shape[] = []
      return {
        frame(seq, frame) {
          if (seq !== seg) {
            seg = seq
            settings = []
            shapes = []
          }
          const r = new ByteReader(frame)
          const bytes = frame.length + 4
          const type = r.u8()
          switch (type) {
            case Frame.Header:
              state.evicted = r.f64()
              state.late = r.f64()
              state.refused = r.f64()
              state.idle = r.f64()
              state.created = r.f64()
              state.journal.restoredBytes(seq, bytes)
              return
            case Frame.Settings:
              settings[r.u32()] = r.str()
              state.journal.restoredBytes(seq, bytes)
              return
            case Frame.Shape:
              shapes[r.u32()] = readShape(r)
              state.journal.restoredBytes(seq, bytes)
              return
            case Frame.Series: {
              const key = r.str()
              const source = r.str()
              const metric = r.str()
              const labels: Record<string, string> = {}
              for (let n = r.u32(); n > 0; n--) {
                const k = r.str()
                labels[k] = r.str()
              }
              const lastTs = r.f64()
              const ord = r.f64()
              const lastId = r.str() || undefined
              const settingsKey = settings[r.u32()]
              const shape = shapes[r.u32()]
              if (settingsKey === undefined || shape === undefined) throw new RangeError(`checkpoint segment ${seq}: series ${key} refers to an undefined settings or shape entry`)
              const packed = r.rest()
              plainCodec.skip(r, shape)
              if (!r.done) throw new RangeError(`checkpoint segment ${seq}: series ${key} has ${frame.length - r.pos} bytes more than its state`)
              series.set(key, new StoredSeries(key, source, metric, labels as Labels, lastTs, settingsKey, ord, lastId, packed, shape))
              state.journal.restored(Table.Series, key, seq, bytes)
              return
            }
            case Frame.Group: {
              const key = r.str()
              const source = r.str()
              const group = r.str()
              const lastTs = r.f64()
              const ord = r.f64()
              const lastId = r.str() || undefined
              const settingsKey = settings[r.u32()]
              const shape = shapes[r.u32()]
              if (settingsKey === undefined || shape === undefined) throw new RangeError(`checkpoint segment ${seq}: group ${key} refers to an undefined settings or shape entry`)
              const v = plainCodec.read(r, shape) as Pick<GroupRecord, 'values' | 'seen' | 'pca'>
              groups.delete(key)
              groups.set(key, { key, source, group, lastTs, settingsKey, ord, values: v.values, seen: v.seen, pca: v.pca, ...(lastId ? { lastId } : {}) })
              state.journal.restored(Table.Groups, key, seq, bytes)
              return
            }
            case Frame.Tombstone: {
              const table = r.u8()
              const key = r.str()
              if (table === Table.Series) series.delete(key)
              else groups.delete(key)
              state.journal.restoredTombstone(table, key, seq, bytes)
              return
            }
            default:
              throw new RangeError(`checkpoint segment ${seq}: unknown frame type ${type}`)
          }
        },
        finish() {
          for (const rec of [...series.values()].sort((a, b) => a.ord - b.ord)) indexSeries(state, rec)
          for (const rec of [...groups.values()].sort((a, b) => a.ord - b.ord)) state.groups.set(rec.key, rec)
          state.journal.restoredAll()
          return state
        },
      }
    },
  }
}
