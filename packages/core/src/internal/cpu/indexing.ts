/**
 * Indexing, sorting and scanning kernels on the CPU: gather and scatter-add
 * along one axis (with leading batch axes), the stable argsort of the last
 * axis, and the cumulative sum. `w` is the element width (2 for complex64).
 */
import { allocHost, type DType, type HostArray } from "../../DType.js"
import { type Shape, sizeOf } from "../shape.js"

/** An index normalized as NumPy (negative from the end) and clamped to [0, n). */
export const clampIndex = (i: number, n: number): number => {
  const k = i < 0 ? i + n : i
  return k < 0 ? 0 : k >= n ? n - 1 : k
}

/** The extents of x [...B, ...P, n, ...Q] and indices [...B, ...J]. */
const extents = (xShape: Shape, idxShape: Shape, axis: number, batchDims: number) => ({
  bs: sizeOf(xShape.slice(0, batchDims)),
  ps: sizeOf(xShape.slice(batchDims, axis)),
  n: xShape[axis]!,
  qs: sizeOf(xShape.slice(axis + 1)),
  js: sizeOf(idxShape.slice(batchDims))
})

export const gatherKernel = (x: HostArray, idx: HostArray, dtype: DType, xShape: Shape, idxShape: Shape, axis: number, batchDims: number, outSize: number): HostArray => {
  const { bs, ps, n, qs, js } = extents(xShape, idxShape, axis, batchDims)
  const w = dtype === "complex64" ? 2 : 1
  const out = allocHost(dtype, outSize)
  let o = 0
  for (let b = 0; b < bs; b++)
    for (let p = 0; p < ps; p++)
      for (let j = 0; j < js; j++) {
        const k = clampIndex(idx[b * js + j]!, n)
        let s = ((b * ps + p) * n + k) * qs * w
        for (let q = 0; q < qs * w; q++) out[o++] = x[s++]!
      }
  return out
}

export const scatterAddKernel = (x: HostArray, idx: HostArray, upd: HostArray, dtype: DType, xShape: Shape, idxShape: Shape, axis: number, batchDims: number): HostArray => {
  const { bs, ps, n, qs, js } = extents(xShape, idxShape, axis, batchDims)
  const w = dtype === "complex64" ? 2 : 1
  const out = allocHost(dtype, x.length)
  out.set(x)
  const isInt = dtype === "int32"
  let u = 0
  for (let b = 0; b < bs; b++)
    for (let p = 0; p < ps; p++)
      for (let j = 0; j < js; j++) {
        const k = clampIndex(idx[b * js + j]!, n)
        let d = ((b * ps + p) * n + k) * qs * w
        if (isInt) for (let q = 0; q < qs; q++, d++) out[d] = (out[d]! + upd[u++]!) | 0
        else for (let q = 0; q < qs * w; q++, d++) out[d] = out[d]! + upd[u++]!
      }
  return out
}

/** The stable sorting permutation of each row of the last axis: NaN last (first when descending), ties by position. */
export const argsortKernel = (x: HostArray, shape: Shape, descending: boolean): Int32Array => {
  const m = shape[shape.length - 1]!
  const out = new Int32Array(x.length)
  const order = Array.from({ length: m }, (_, i) => i)
  const rows = m === 0 ? 0 : x.length / m
  for (let r = 0; r < rows; r++) {
    const base = r * m
    for (let i = 0; i < m; i++) order[i] = i
    order.sort((i, j) => {
      const a = x[base + i]!, b = x[base + j]!
      const an = a !== a, bn = b !== b
      if (an || bn) return an && bn ? i - j : an !== descending ? 1 : -1
      if (a === b) return i - j
      return (a < b) !== descending ? -1 : 1
    })
    for (let i = 0; i < m; i++) out[base + i] = order[i]!
  }
  return out
}

export const cumsumKernel = (x: HostArray, dtype: DType, shape: Shape, axis: number, reverse: boolean): HostArray => {
  const n = shape[axis]!
  const qs = sizeOf(shape.slice(axis + 1))
  const ps = sizeOf(shape.slice(0, axis))
  const w = dtype === "complex64" ? 2 : 1
  const out = allocHost(dtype, x.length)
  const isInt = dtype === "int32"
  for (let p = 0; p < ps; p++)
    for (let q = 0; q < qs * w; q++) {
      let acc = 0
      for (let t = 0; t < n; t++) {
        const k = reverse ? n - 1 - t : t
        const i = (p * n + k) * qs * w + q
        acc = isInt ? (acc + x[i]!) | 0 : acc + x[i]!
        out[i] = acc
      }
    }
  return out
}
