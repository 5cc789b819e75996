import { capRaw, defineDetector, scoreOf, type Detector, type Reading } from './detector.js'

export interface PcaParams {
  /** Dimension of the input vectors. */
  readonly dim: number
  /** Principal components kept (the normal subspace), 1 <= components < dim. */
  readonly components: number
  /** Smoothing of the per-dimension mean/variance and of the error statistics. */
  readonly alpha: number
  /** Oja learning rate of the subspace. */
  readonly eta: number
  /** z of the reconstruction error at which a vector is anomalous. */
  readonly threshold: number
  readonly warmup: number
}

export interface PcaState {
  n: number
  mean: number[]
  variance: number[]
  /** components x dim basis, row-major, kept orthonormal. */
  basis: number[]
  errMean: number
  errVar: number
}

/** A multivariate sample: one value per member metric, in the group's order. */
export interface VectorPoint {
  readonly ts: number
  readonly values: ArrayLike<number>
}

let z = new Float64Array(16)
let y = new Float64Array(16)

/**
 * Streaming PCA: each dimension is standardised by an EWMA mean/variance, projected on a
 * k-dimensional subspace learned with Oja's subspace rule (re-orthonormalised by Gram-Schmidt
 * each step), and the reconstruction error (distance from the subspace) is compared with its
 * own EWMA mean and spread. Metrics that usually move together and suddenly do not give a
 * large error even when each value alone looks normal. Deterministic: the basis starts at the
 * first k unit vectors.
 */
export function pcaDetector(p: PcaParams): Detector<PcaState, VectorPoint> {
  const { dim, alpha, eta, threshold, warmup } = p
  const k = Math.max(1, Math.min(p.components, dim - 1))
  return defineDetector<PcaState, VectorPoint>(
    'pca',
    () => {
      const basis = new Array<number>(k * dim).fill(0)
      for (let c = 0; c < k; c++) basis[c * dim + c] = 1
      return { n: 0, mean: new Array<number>(dim).fill(0), variance: new Array<number>(dim).fill(0), basis, errMean: 0, errVar: 0 }
    },
    (s: PcaState, point: VectorPoint, out: Reading, scale: number) => {
      if (z.length < dim) z = new Float64Array(dim * 2)
      if (y.length < k) y = new Float64Array(k * 2)
      const thr = threshold * scale
      const values = point.values
      const first = s.n === 0
      // running averages until 1/n falls below alpha: unbiased early estimates
      const a = s.n < 1 / alpha ? 1 / (s.n + 1) : alpha
      for (let j = 0; j < dim; j++) {
        const v = j < values.length && Number.isFinite(values[j]) ? values[j] : s.mean[j]
        if (first) s.mean[j] = v
        const sd = Math.sqrt(s.variance[j])
        const d = v - s.mean[j]
        z[j] = sd > 1e-9 ? d / sd : 0
        const incr = a * d
        s.mean[j] += incr
        s.variance[j] = (1 - a) * (s.variance[j] + d * incr)
      }
      // project, reconstruct, error
      const W = s.basis
      for (let c = 0; c < k; c++) {
        let acc = 0
        for (let j = 0; j < dim; j++) acc += W[c * dim + j] * z[j]
        y[c] = acc
      }
      let err2 = 0
      for (let j = 0; j < dim; j++) {
        let r = z[j]
        for (let c = 0; c < k; c++) r -= W[c * dim + j] * y[c]
        err2 += r * r
        // Oja subspace rule: W += eta * y * residualᵀ (residual computed with the old basis)
        for (let c = 0; c < k; c++) W[c * dim + j] += eta * y[c] * r
      }
      orthonormalise(W, k, dim)
      const err = Math.sqrt(err2)
      const esd = Math.sqrt(s.errVar)
      const dev = err - s.errMean
      const ready = s.n >= warmup
      const raw = ready && esd > 1e-9 ? capRaw(dev > 0 ? dev / esd : 0) : 0
      out.raw = raw
      out.threshold = thr
      out.score = scoreOf(raw, thr)
      out.centre = s.errMean
      out.spread = esd
      out.direction = raw > 0 ? 1 : 0
      out.anomaly = ready && raw >= thr
      // the error statistics learn from half the warm-up on, once mean and basis have settled
      const m = s.n - (warmup >> 1)
      if (m >= 0) {
        const ea = m < 1 / alpha ? 1 / (m + 1) : alpha
        const eincr = ea * dev
        s.errMean += eincr
        s.errVar = (1 - ea) * (s.errVar + dev * eincr)
      }
      s.n++
    },
  )
}

/** Modified Gram-Schmidt on the rows of W (k x dim). A degenerate row falls back to a unit vector. */
function orthonormalise(W: number[], k: number, dim: number): void {
  for (let c = 0; c < k; c++) {
    const o = c * dim
    for (let prev = 0; prev < c; prev++) {
      const po = prev * dim
      let dot = 0
      for (let j = 0; j < dim; j++) dot += W[o + j] * W[po + j]
      for (let j = 0; j < dim; j++) W[o + j] -= dot * W[po + j]
    }
    let norm = 0
    for (let j = 0; j < dim; j++) norm += W[o + j] * W[o + j]
    norm = Math.sqrt(norm)
    if (norm > 1e-12 && Number.isFinite(norm)) {
      for (let j = 0; j < dim; j++) W[o + j] /= norm
    } else {
      for (let j = 0; j < dim; j++) W[o + j] = j === c ? 1 : 0
    }
  }
}
