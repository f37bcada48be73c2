/**
 * Batched matrix product on the CPU: `[batch, m, k] @ [batch, k, n]`.
 *
 * Real dtypes use a register-tiled kernel: four rows of the output are
 * accumulated together while walking one row of `b`, so each loaded `b`
 * element feeds four multiply-adds; `k` is blocked so that the active rows of
 * `b` stay in cache. The inner loops allocate nothing.
 */
import { allocHost, type DType, type HostArray } from "../../DType.js"

const KB = 256

const matmulReal = (a: HostArray, b: HostArray, out: HostArray, aOff: number, bOff: number, oOff: number, m: number, k: number, n: number): void => {
  for (let k0 = 0; k0 < k; k0 += KB) {
    const k1 = Math.min(k, k0 + KB)
    let i = 0
    for (; i + 3 < m; i += 4) {
      const r0 = oOff + i * n
      const r1 = r0 + n
      const r2 = r1 + n
      const r3 = r2 + n
      const a0 = aOff + i * k
      const a1 = a0 + k
      const a2 = a1 + k
      const a3 = a2 + k
      for (let p = k0; p < k1; p++) {
        const x0 = a[a0 + p]!
        const x1 = a[a1 + p]!
        const x2 = a[a2 + p]!
        const x3 = a[a3 + p]!
        const bRow = bOff + p * n
        for (let j = 0; j < n; j++) {
          const y = b[bRow + j]!
          out[r0 + j] = out[r0 + j]! + x0 * y
          out[r1 + j] = out[r1 + j]! + x1 * y
          out[r2 + j] = out[r2 + j]! + x2 * y
          out[r3 + j] = out[r3 + j]! + x3 * y
        }
      }
    }
    for (; i < m; i++) {
      const r0 = oOff + i * n
      const a0 = aOff + i * k
      for (let p = k0; p < k1; p++) {
        const x0 = a[a0 + p]!
        const bRow = bOff + p * n
        for (let j = 0; j < n; j++) out[r0 + j] = out[r0 + j]! + x0 * b[bRow + j]!
      }
    }
  }
}

const matmulComplex = (a: HostArray, b: HostArray, out: HostArray, aOff: number, bOff: number, oOff: number, m: number, k: number, n: number): void => {
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const ar = a[2 * (aOff + i * k + p)]!
      const ai = a[2 * (aOff + i * k + p) + 1]!
      for (let j = 0; j < n; j++) {
        const bi = 2 * (bOff + p * n + j)
        const oi = 2 * (oOff + i * n + j)
        out[oi] = out[oi]! + ar * b[bi]! - ai * b[bi + 1]!
        out[oi + 1] = out[oi + 1]! + ar * b[bi + 1]! + ai * b[bi]!
      }
    }
  }
}

export const matmulKernel = (a: HostArray, b: HostArray, dtype: DType, batch: number, m: number, k: number, n: number): HostArray => {
  const out = allocHost(dtype, batch * m * n)
  const f = dtype === "complex64" ? matmulComplex : matmulReal
  for (let t = 0; t < batch; t++) f(a, b, out, t * m * k, t * k * n, t * m * n, m, k, n)
  if (dtype === "int32") for (let i = 0; i < out.length; i++) out[i] = out[i]! | 0
  return out
}
