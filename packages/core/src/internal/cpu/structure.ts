/**
 * Data movement on the CPU: broadcast, transpose, slice, pad, concat, and the
 * reductions. All of them are a strided walk over the output with an inner
 * loop on the last axis. `w` is the element width (2 for complex64).
 */
import { allocHost, type DType, type HostArray } from "../../DType.js"
import { type Shape, sizeOf, stridesOf } from "../shape.js"
import { allocUninitialized } from "./pool.js"
import { reduceRuns, sumLeadingAxes } from "./reduce.js"

type Arr = HostArray

/**
 * out[idx] = src[offset + Σ idx[d] * srcStrides[d]] for every output index,
 * element width w. Strides are in elements.
 */
export const gather = (src: Arr, dtype: DType, outShape: Shape, srcStrides: ReadonlyArray<number>, offset = 0, w = dtype === "complex64" ? 2 : 1): Arr => {
  const n = sizeOf(outShape)
  // every element is written: a free buffer of the pool serves (a transposed vector of a loop's step, each step)
  const out = allocUninitialized(dtype, n)
  if (n === 0) return out
  const r = outShape.length
  if (r === 0) {
    for (let k = 0; k < w; k++) out[k] = src[offset * w + k]!
    return out
  }
  const inner = outShape[r - 1]!
  const innerStride = srcStrides[r - 1]!
  const idx = new Array<number>(r).fill(0)
  let o = 0
  let base = offset
  const rows = n / inner
  for (let row = 0; row < rows; row++) {
    if (w === 1) {
      if (innerStride === 1) {
        for (let j = 0; j < inner; j++) out[o + j] = src[base + j]!
      } else if (innerStride === 0) {
        const v = src[base]!
        for (let j = 0; j < inner; j++) out[o + j] = v
      } else {
        for (let j = 0, s = base; j < inner; j++, s += innerStride) out[o + j] = src[s]!
      }
    } else {
      for (let j = 0, s = base; j < inner; j++, s += innerStride) {
        out[2 * (o + j)] = src[2 * s]!
        out[2 * (o + j) + 1] = src[2 * s + 1]!
      }
    }
    o += inner
    // advance the multi-index over axes r-2 .. 0
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++
      base += srcStrides[d]!
      if (idx[d]! < outShape[d]!) break
      base -= srcStrides[d]! * outShape[d]!
      idx[d] = 0
    }
  }
  return out
}

export const broadcastKernel = (src: Arr, dtype: DType, inShape: Shape, outShape: Shape, dims: ReadonlyArray<number>): Arr => {
  const inStrides = stridesOf(inShape)
  const strides = new Array<number>(outShape.length).fill(0)
  dims.forEach((d, i) => (strides[d] = inShape[i] === 1 ? 0 : inStrides[i]!))
  return gather(src, dtype, outShape, strides)
}

export const transposeKernel = (src: Arr, dtype: DType, inShape: Shape, perm: ReadonlyArray<number>): Arr => {
  const inStrides = stridesOf(inShape)
  return gather(src, dtype, perm.map((p) => inShape[p]!), perm.map((p) => inStrides[p]!))
}

export const sliceKernel = (src: Arr, dtype: DType, inShape: Shape, starts: ReadonlyArray<number>, stops: ReadonlyArray<number>): Arr => {
  const inStrides = stridesOf(inShape)
  const offset = starts.reduce((acc, s, i) => acc + s * inStrides[i]!, 0)
  return gather(src, dtype, starts.map((s, i) => stops[i]! - s), inStrides, offset)
}

/** Writes `src` (shape `inShape`) into `out` (shape `outShape`) at `starts`. */
const scatterInto = (out: Arr, outShape: Shape, src: Arr, inShape: Shape, starts: ReadonlyArray<number>, w: number): void => {
  const n = sizeOf(inShape)
  if (n === 0) return
  const outStrides = stridesOf(outShape)
  const r = inShape.length
  if (r === 0) {
    for (let k = 0; k < w; k++) out[k] = src[k]!
    return
  }
  const inner = inShape[r - 1]!
  const idx = new Array<number>(r).fill(0)
  let base = starts.reduce((acc, s, i) => acc + s * outStrides[i]!, 0)
  let s = 0
  for (let row = 0; row < n / inner; row++) {
    for (let j = 0; j < inner * w; j++) out[base * w + j] = src[s * w + j]!
    s += inner
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++
      base += outStrides[d]!
      if (idx[d]! < inShape[d]!) break
      base -= outStrides[d]! * inShape[d]!
      idx[d] = 0
    }
  }
}

export const padKernel = (src: Arr, dtype: DType, inShape: Shape, before: ReadonlyArray<number>, after: ReadonlyArray<number>): Arr => {
  const outShape = inShape.map((d, i) => d + before[i]! + after[i]!)
  const out = allocHost(dtype, sizeOf(outShape))
  scatterInto(out, outShape, src, inShape, before, dtype === "complex64" ? 2 : 1)
  return out
}

export const concatKernel = (srcs: ReadonlyArray<{ data: Arr; shape: Shape }>, dtype: DType, outShape: Shape, axis: number): Arr => {
  const out = allocHost(dtype, sizeOf(outShape))
  let at = 0
  for (const { data, shape } of srcs) {
    const starts = outShape.map((_, i) => (i === axis ? at : 0))
    scatterInto(out, outShape, data, shape, starts, dtype === "complex64" ? 2 : 1)
    at += shape[axis]!
  }
  return out
}

/**
 * Reduces over sorted `axes`: transposes the reduced axes to the end (a
 * no-op when they already are), then folds each contiguous run. Real sums
 * and maxima add in the fixed blocked order of `reduce.ts` (split over the
 * worker pool when large: the same bits on any number of threads).
 */
export const reduceKernel = (src: Arr, dtype: DType, outDtype: DType, inShape: Shape, axes: ReadonlyArray<number>, kind: "sum" | "max"): Arr => {
  const keep = inShape.map((_, i) => i).filter((i) => !axes.includes(i))
  const outN = sizeOf(keep.map((i) => inShape[i]!))
  const m = sizeOf(axes.map((i) => inShape[i]!))
  // leading axes (a bias gradient): whole rows added into float64 sums, no transpose
  if (kind === "sum" && dtype !== "complex64" && keep.length > 0 && axes.every((a, i) => a === i)) return sumLeadingAxes(src, outDtype, outN, m)
  const perm = [...keep, ...axes]
  const isIdentity = perm.every((p, i) => p === i)
  const data = isIdentity ? src : transposeKernel(src, dtype, inShape, perm)
  if (dtype !== "complex64") return reduceRuns(data, outDtype, outN, m, kind)
  const out = allocHost(outDtype, outN)
  for (let o = 0; o < outN; o++) {
    let re = 0
    let im = 0
    for (let j = 0, s = o * m; j < m; j++, s++) {
      re += data[2 * s]!
      im += data[2 * s + 1]!
    }
    out[2 * o] = re
    out[2 * o + 1] = im
  }
  return out
}
