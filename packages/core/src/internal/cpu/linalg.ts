/**
 * CPU kernels of the linear-algebra primitives: the reference algorithms,
 * computed in float64 whatever the dtype (float32 results are rounded once,
 * at the end), one matrix of the batch at a time. The packed output layouts
 * are described in `primitives.ts`. cholesky, triangularSolve and lu run the
 * same algorithms in WebAssembly SIMD (f64x2, `wasm-dense.ts`) where it is
 * available; the JavaScript loops here are the reference and the fallback.
 *
 * - cholesky: the row-oriented Cholesky–Banachiewicz recurrence;
 * - triangularSolve: forward / back substitution on whole rows of `b`;
 * - lu: Doolittle elimination with partial pivoting (LAPACK's getrf order);
 * - qr: Householder reflections (LAPACK's sign choice, R's diagonal may be negative);
 * - eigh: cyclic Jacobi rotations, eigenvalues sorted ascending;
 * - svd: one-sided Jacobi (Hestenes) rotations, singular values descending.
 */
import type { Kernel, KernelArg } from "../../Backend.js"
import { allocHost, type HostArray } from "../../DType.js"
import { LinalgError } from "../../Errors.js"
import { fmt, sizeOf } from "../shape.js"
import { choleskyF64Wasm, luF64Wasm, trisolveF64Wasm } from "./wasm-dense.js"

const h = (x: KernelArg): HostArray => x.handle as HostArray
const last2 = (shape: ReadonlyArray<number>): [number, number] => [shape[shape.length - 2]!, shape[shape.length - 1]!]
const EPS = 2.220446049250313e-16

/** Matrix `b` of a batch (m × n, row-major) as a float64 copy. */
const matrixAt = (src: HostArray, b: number, m: number, n: number): Float64Array => {
  const out = new Float64Array(m * n)
  const off = b * m * n
  for (let i = 0; i < m * n; i++) out[i] = src[off + i]!
  return out
}

/**
 * The LinalgError of a cholesky whose matrix `matrix` of the batch `shape`
 * (of `dtype`) is not positive-definite: the words of every backend (the GPU
 * backends repeat the CPU's). `order`: the leading minor found not positive
 * (from 0); undefined where a GPU backend could not tell which (its float32
 * rounding and the host's disagree).
 */
export const notPositiveDefinite = (dtype: string, shape: ReadonlyArray<number>, matrix: number, order: number | undefined): LinalgError => {
  const minor = order === undefined ? "a leading minor is not positive in the GPU's float32 arithmetic" : `its leading minor of order ${order + 1} is not positive`
  const batch = sizeOf(shape.slice(0, -2))
  return new LinalgError({
    message: `cholesky: the matrix is not positive-definite (${minor}) in ${dtype} ${fmt(shape)}${batch > 1 ? ` (matrix ${matrix} of the batch)` : ""}`
  })
}

export const choleskyKernel: Kernel<"cholesky"> = ([a], _p, out) => {
  const [n] = last2(a!.shape)
  const batch = sizeOf(a!.shape.slice(0, -2))
  const src = h(a!)
  const res = allocHost(out.dtype, batch * n * n)
  for (let b = 0; b < batch; b++) {
    const l = new Float64Array(n * n)
    const notPositive = (i: number) => notPositiveDefinite(out.dtype, a!.shape, b, i)
    const bad = choleskyF64Wasm(src, b * n * n, n, l)
    if (bad !== undefined) {
      if (bad >= 0) throw notPositive(bad)
      res.set(l, b * n * n)
      continue
    }
    const x = matrixAt(src, b, n, n)
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = x[i * n + j]!
        for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!
        if (i === j) {
          if (!(s > 0)) throw notPositive(i)
          l[i * n + i] = Math.sqrt(s)
        } else l[i * n + j] = s / l[j * n + j]!
      }
    }
    res.set(l, b * n * n)
  }
  return res
}

export const triangularSolveKernel: Kernel<"triangularSolve"> = ([a, rhs], { lower, transpose, unitDiagonal }, out) => {
  const [n] = last2(a!.shape)
  const k = rhs!.shape[rhs!.shape.length - 1]!
  const batch = sizeOf(a!.shape.slice(0, -2))
  const sa = h(a!), sb = h(rhs!)
  const res = allocHost(out.dtype, batch * n * k)
  // op(A) is lower triangular (solved top-down) when A is lower and not transposed, or upper and transposed
  const forward = lower !== transpose
  for (let b = 0; b < batch; b++) {
    if (n > 0 && k > 0) {
      const x = new Float64Array(n * k)
      if (trisolveF64Wasm(sa, b * n * n, sb, b * n * k, n, k, lower, transpose, unitDiagonal, x)) {
        res.set(x, b * n * k)
        continue
      }
    }
    const m = matrixAt(sa, b, n, n)
    const x = matrixAt(sb, b, n, k)
    const coef = transpose ? (i: number, j: number) => m[j * n + i]! : (i: number, j: number) => m[i * n + j]!
    for (let step = 0; step < n; step++) {
      const i = forward ? step : n - 1 - step
      const row = i * k
      const lo = forward ? 0 : i + 1
      const hi = forward ? i : n
      for (let j = lo; j < hi; j++) {
        const c = coef(i, j)
        if (c === 0) continue
        const rj = j * k
        for (let c2 = 0; c2 < k; c2++) x[row + c2] = x[row + c2]! - c * x[rj + c2]!
      }
      if (!unitDiagonal) {
        const d = m[i * n + i]!
        for (let c2 = 0; c2 < k; c2++) x[row + c2] = x[row + c2]! / d
      }
    }
    res.set(x, b * n * k)
  }
  return res
}

export const luKernel: Kernel<"lu"> = ([a], _p, out) => {
  const [n] = last2(a!.shape)
  const batch = sizeOf(a!.shape.slice(0, -2))
  const src = h(a!)
  const size = (n + 2) * n
  const res = allocHost(out.dtype, batch * size)
  for (let b = 0; b < batch; b++) {
    const x = new Float64Array(n * n)
    const wasmPerm = new Int32Array(n)
    const swaps = n > 0 ? luF64Wasm(src, b * n * n, n, x, wasmPerm) : undefined
    if (swaps !== undefined) {
      let sign = swaps % 2 === 0 ? 1 : -1
      for (let i = 0; i < n; i++) sign *= Math.sign(x[i * n + i]!)
      const o = b * size
      res.set(x, o)
      for (let j = 0; j < n; j++) {
        res[o + n * n + j] = wasmPerm[j]!
        res[o + n * n + n + j] = sign
      }
      continue
    }
    x.set(matrixAt(src, b, n, n))
    const perm = Array.from({ length: n }, (_, i) => i)
    let sign = 1
    for (let c = 0; c < n; c++) {
      let p = c
      let best = Math.abs(x[c * n + c]!)
      for (let i = c + 1; i < n; i++) {
        const v = Math.abs(x[i * n + c]!)
        if (v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
          best = v
          p = i
        }
      }
      if (p !== c) {
        for (let j = 0; j < n; j++) {
          const t = x[c * n + j]!
          x[c * n + j] = x[p * n + j]!
          x[p * n + j] = t
        }
        const t = perm[c]!
        perm[c] = perm[p]!
        perm[p] = t
        sign = -sign
      }
      const pivot = x[c * n + c]!
      if (pivot === 0) continue // singular: the column below is zero already
      for (let i = c + 1; i < n; i++) {
        const l = x[i * n + c]! / pivot
        x[i * n + c] = l
        if (l === 0) continue
        for (let j = c + 1; j < n; j++) x[i * n + j] = x[i * n + j]! - l * x[c * n + j]!
      }
    }
    for (let i = 0; i < n; i++) sign *= Math.sign(x[i * n + i]!)
    const o = b * size
    res.set(x, o)
    for (let j = 0; j < n; j++) {
      res[o + n * n + j] = perm[j]!
      res[o + n * n + n + j] = sign
    }
  }
  return res
}

export const qrKernel: Kernel<"qr"> = ([a], _p, out) => {
  const [m, n] = last2(a!.shape)
  const k = Math.min(m, n)
  const batch = sizeOf(a!.shape.slice(0, -2))
  const src = h(a!)
  const size = (m + n) * k
  const res = allocHost(out.dtype, batch * size)
  for (let b = 0; b < batch; b++) {
    const r = matrixAt(src, b, m, n)
    const vs: Float64Array[] = []
    const taus: number[] = []
    for (let j = 0; j < k; j++) {
      let norm = 0
      for (let i = j; i < m; i++) norm += r[i * n + j]! ** 2
      norm = Math.sqrt(norm)
      const v = new Float64Array(m - j)
      if (norm === 0) {
        vs.push(v)
        taus.push(0)
        continue
      }
      const alpha = r[j * n + j]!
      const beta = alpha >= 0 ? -norm : norm
      const v0 = alpha - beta
      v[0] = 1
      for (let i = j + 1; i < m; i++) v[i - j] = r[i * n + j]! / v0
      const tau = (beta - alpha) / beta
      // R[j:, j:] -= tau v (vᵀ R[j:, j:])
      for (let c = j; c < n; c++) {
        let dot = 0
        for (let i = j; i < m; i++) dot += v[i - j]! * r[i * n + c]!
        dot *= tau
        for (let i = j; i < m; i++) r[i * n + c] = r[i * n + c]! - dot * v[i - j]!
      }
      r[j * n + j] = beta
      for (let i = j + 1; i < m; i++) r[i * n + j] = 0
      vs.push(v)
      taus.push(tau)
    }
    // Q = H₀ H₁ … applied to the first k columns of the identity
    const q = new Float64Array(m * k)
    for (let i = 0; i < k; i++) q[i * k + i] = 1
    for (let j = k - 1; j >= 0; j--) {
      const v = vs[j]!, tau = taus[j]!
      if (tau === 0) continue
      for (let c = 0; c < k; c++) {
        let dot = 0
        for (let i = j; i < m; i++) dot += v[i - j]! * q[i * k + c]!
        dot *= tau
        for (let i = j; i < m; i++) q[i * k + c] = q[i * k + c]! - dot * v[i - j]!
      }
    }
    const o = b * size
    res.set(q, o)
    for (let c = 0; c < n; c++) for (let i = 0; i < k; i++) res[o + (m + c) * k + i] = i <= c ? r[i * n + c]! : 0
  }
  return res
}

/** Eigen-decomposition of a symmetric n × n matrix (read from its lower triangle) by cyclic Jacobi. */
const jacobiEigh = (x: Float64Array, n: number): { w: Float64Array; v: Float64Array } => {
  const a = new Float64Array(n * n)
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      a[i * n + j] = x[i * n + j]!
      a[j * n + i] = x[i * n + j]!
    }
  const v = new Float64Array(n * n)
  for (let i = 0; i < n; i++) v[i * n + i] = 1
  let total = 0
  for (let i = 0; i < n * n; i++) total += a[i]! ** 2
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2
    if (off <= EPS * EPS * total * 1e-4 || off === 0 || !Number.isFinite(off)) break
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!
        if (apq === 0) continue
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq)
        const t = Math.abs(theta) > 1e150 ? 1 / (2 * theta) : (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1))
        const c = 1 / Math.sqrt(t * t + 1)
        const s = t * c
        for (let i = 0; i < n; i++) {
          const aip = a[i * n + p]!, aiq = a[i * n + q]!
          a[i * n + p] = c * aip - s * aiq
          a[i * n + q] = s * aip + c * aiq
        }
        for (let i = 0; i < n; i++) {
          const api = a[p * n + i]!, aqi = a[q * n + i]!
          a[p * n + i] = c * api - s * aqi
          a[q * n + i] = s * api + c * aqi
        }
        a[p * n + q] = 0
        a[q * n + p] = 0
        for (let i = 0; i < n; i++) {
          const vip = v[i * n + p]!, viq = v[i * n + q]!
          v[i * n + p] = c * vip - s * viq
          v[i * n + q] = s * vip + c * viq
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i * n + i]! - a[j * n + j]!)
  const w = new Float64Array(n)
  const vs = new Float64Array(n * n)
  order.forEach((src, dst) => {
    w[dst] = a[src * n + src]!
    for (let i = 0; i < n; i++) vs[i * n + dst] = v[i * n + src]!
  })
  return { w, v: vs }
}

export const eighKernel: Kernel<"eigh"> = ([a], _p, out) => {
  const [n] = last2(a!.shape)
  const batch = sizeOf(a!.shape.slice(0, -2))
  const src = h(a!)
  const size = (n + 1) * n
  const res = allocHost(out.dtype, batch * size)
  for (let b = 0; b < batch; b++) {
    const { w, v } = jacobiEigh(matrixAt(src, b, n, n), n)
    res.set(w, b * size)
    res.set(v, b * size + n)
  }
  return res
}

/**
 * Reduced SVD of an m × n matrix with m ≥ n (row-major `x`): U (m × n), s,
 * V (n × n), by one-sided Jacobi on the columns.
 */
const jacobiSvdTall = (x: Float64Array, m: number, n: number): { u: Float64Array; s: Float64Array; v: Float64Array } => {
  const cu: Float64Array[] = Array.from({ length: n }, (_, j) => {
    const c = new Float64Array(m)
    for (let i = 0; i < m; i++) c[i] = x[i * n + j]!
    return c
  })
  const cv: Float64Array[] = Array.from({ length: n }, (_, j) => {
    const c = new Float64Array(n)
    c[j] = 1
    return c
  })
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0
    for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
    return s
  }
  const rotate = (a: Float64Array, b: Float64Array, c: number, s: number) => {
    for (let i = 0; i < a.length; i++) {
      const ai = a[i]!, bi = b[i]!
      a[i] = c * ai - s * bi
      b[i] = s * ai + c * bi
    }
  }
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const alpha = dot(cu[p]!, cu[p]!), beta = dot(cu[q]!, cu[q]!), gamma = dot(cu[p]!, cu[q]!)
        if (gamma === 0 || Math.abs(gamma) <= EPS * Math.sqrt(alpha * beta) || !Number.isFinite(gamma)) continue
        rotated = true
        const zeta = (beta - alpha) / (2 * gamma)
        const t = Math.abs(zeta) > 1e150 ? 1 / (2 * zeta) : (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta))
        const c = 1 / Math.sqrt(1 + t * t)
        const s = c * t
        rotate(cu[p]!, cu[q]!, c, s)
        rotate(cv[p]!, cv[q]!, c, s)
      }
    if (!rotated) break
  }
  const norms = cu.map((c) => Math.sqrt(dot(c, c)))
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => norms[j]! - norms[i]!)
  const s = new Float64Array(n)
  const us: Float64Array[] = []
  const u = new Float64Array(m * n)
  const v = new Float64Array(n * n)
  order.forEach((src, dst) => {
    s[dst] = norms[src]!
    const c = cu[src]!
    const col = new Float64Array(m)
    const sv = norms[src]!
    if (sv > 0) for (let i = 0; i < m; i++) col[i] = c[i]! / sv
    us.push(col)
    for (let i = 0; i < n; i++) v[i * n + dst] = cv[src]![i]!
  })
  // columns of zero singular values: complete U to orthonormal columns (Gram–Schmidt on the unit vectors)
  let e = 0
  for (let j = 0; j < n; j++) {
    if (s[j]! > 0) continue
    const col = us[j]!
    for (; e < m; e++) {
      col.fill(0)
      col[e] = 1
      for (let r = 0; r < 2; r++)
        for (let l = 0; l < n; l++) {
          if (l === j || (s[l]! === 0 && l > j)) continue
          const d = dot(col, us[l]!)
          for (let i = 0; i < m; i++) col[i] = col[i]! - d * us[l]![i]!
        }
      const nrm = Math.sqrt(dot(col, col))
      if (nrm > 0.5) {
        for (let i = 0; i < m; i++) col[i] = col[i]! / nrm
        e++
        break
      }
    }
  }
  us.forEach((col, j) => {
    for (let i = 0; i < m; i++) u[i * n + j] = col[i]!
  })
  return { u, s, v }
}

export const svdKernel: Kernel<"svd"> = ([a], _p, out) => {
  const [m, n] = last2(a!.shape)
  const k = Math.min(m, n)
  const batch = sizeOf(a!.shape.slice(0, -2))
  const src = h(a!)
  const size = (m + 1 + n) * k
  const res = allocHost(out.dtype, batch * size)
  for (let b = 0; b < batch; b++) {
    const x = matrixAt(src, b, m, n)
    let u: Float64Array, s: Float64Array, v: Float64Array
    if (m >= n) ({ u, s, v } = jacobiSvdTall(x, m, n))
    else {
      // Aᵀ = U' S V'ᵀ, so A = V' S U'ᵀ
      const xt = new Float64Array(n * m)
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) xt[j * m + i] = x[i * n + j]!
      const r = jacobiSvdTall(xt, n, m)
      u = r.v
      s = r.s
      v = r.u
    }
    const o = b * size
    res.set(u, o)
    res.set(s, o + m * k)
    res.set(v, o + (m + 1) * k)
  }
  return res
}
