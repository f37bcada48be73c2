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

/** Rows at least this long are copied with `set` (a memcpy) rather than element by element. */
const BLOCK_COPY = 16

export const gatherKernel = (x: HostArray, idx: HostArray, dtype: DType, xShape: Shape, idxShape: Shape, axis: number, batchDims: number, outSize: number): HostArray => {
  const { bs, ps, n, qs, js } = extents(xShape, idxShape, axis, batchDims)
  const w = dtype === "complex64" ? 2 : 1
  const out = allocHost(dtype, outSize)
  const len = qs * w
  let o = 0
  for (let b = 0; b < bs; b++)
    for (let p = 0; p < ps; p++) {
      const rowBase = (b * ps + p) * n
      if (len >= BLOCK_COPY)
        for (let j = 0; j < js; j++, o += len) {
          const s = (rowBase + clampIndex(idx[b * js + j]!, n)) * len
          out.set(x.subarray(s, s + len), o)
        }
      else if (len === 1) for (let j = 0; j < js; j++) out[o++] = x[rowBase + clampIndex(idx[b * js + j]!, n)]!
      else
        for (let j = 0; j < js; j++) {
          let s = (rowBase + clampIndex(idx[b * js + j]!, n)) * len
          for (let q = 0; q < len; q++) out[o++] = x[s++]!
        }
    }
  return out
}

/**
 * x with `upd` added at the indices. `x` is either an array (copied first)
 * or one number every element starts from (x a broadcast scalar: the zeros
 * of a gather's gradient need no array of their own).
 */
export const scatterAddKernel = (x: HostArray | number, idx: HostArray, upd: HostArray, dtype: DType, xShape: Shape, idxShape: Shape, axis: number, batchDims: number): HostArray => {
  const { bs, ps, n, qs, js } = extents(xShape, idxShape, axis, batchDims)
  const w = dtype === "complex64" ? 2 : 1
  const out = allocHost(dtype, sizeOf(xShape))
  if (typeof x !== "number") out.set(x)
  else if (x !== 0) out.fill(x)
  const isInt = dtype === "int32"
  const len = qs * w
  let u = 0
  for (let b = 0; b < bs; b++)
    for (let p = 0; p < ps; p++)
      for (let j = 0; j < js; j++) {
        const k = clampIndex(idx[b * js + j]!, n)
        let d = ((b * ps + p) * n + k) * len
        if (isInt) for (let q = 0; q < qs; q++, d++) out[d] = (out[d]! + upd[u++]!) | 0
        else for (let q = 0; q < len; q++, d++) out[d] = out[d]! + upd[u++]!
      }
  return out
}

/** The stable sorting permutation of each row of the last axis: NaN last (first when descending), ties by position. */
export const argsortKernel = (x: HostArray, shape: Shape, descending: boolean): Int32Array => {
  const m = shape[shape.length - 1]!
  const out = new Int32Array(x.length)
  const rows = m === 0 ? 0 : x.length / m
  if (m >= RADIX_MIN && (x instanceof Float32Array || x instanceof Int32Array)) {
    const keys = sortKeys(x, descending)
    const scratch = { k: new Uint32Array(m), i: new Int32Array(m), k2: new Uint32Array(m) }
    for (let r = 0; r < rows; r++) radixArgsort(keys, r * m, m, out, scratch)
    return out
  }
  const order = Array.from({ length: m }, (_, i) => i)
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

/** Rows at least this long are sorted by radix (float32 and int32; its histograms have 5120 bins); shorter ones by comparison. */
const RADIX_MIN = 2048

/**
 * 32-bit keys whose unsigned order is the sorting order: float32 bits with
 * the sign flipped (negative numbers complemented), −0 as +0, every NaN
 * above +∞; int32 with the sign bit flipped. Descending complements them
 * (a stable sort of the complements keeps ties in position order, NaN first).
 */
const sortKeys = (x: Float32Array | Int32Array, descending: boolean): Uint32Array => {
  const keys = new Uint32Array(x.length)
  const flip = descending ? 0xffffffff : 0
  if (x instanceof Int32Array) {
    for (let i = 0; i < x.length; i++) keys[i] = ((x[i]! ^ 0x80000000) ^ flip) >>> 0
    return keys
  }
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length)
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!
    let k: number
    if (v !== v) k = 0xffffffff
    else if (v === 0) k = 0x80000000
    else {
      const b = bits[i]!
      k = b & 0x80000000 ? ~b : b | 0x80000000
    }
    keys[i] = (k ^ flip) >>> 0
  }
  return keys
}

/** A stable LSD radix sort (digits of 11, 11 and 10 bits) of keys[base, base + m); writes the permutation to out[base …]. */
const radixArgsort = (keys: Uint32Array, base: number, m: number, out: Int32Array, scratch: { k: Uint32Array; i: Int32Array; k2: Uint32Array }): void => {
  const h0 = new Int32Array(2048), h1 = new Int32Array(2048), h2 = new Int32Array(1024)
  for (let i = 0; i < m; i++) {
    const k = keys[base + i]!
    h0[k & 2047]!++
    h1[(k >>> 11) & 2047]!++
    h2[k >>> 22]!++
  }
  const prefix = (h: Int32Array) => {
    let s = 0
    for (let d = 0; d < h.length; d++) {
      const c = h[d]!
      h[d] = s
      s += c
    }
  }
  prefix(h0)
  prefix(h1)
  prefix(h2)
  const k1 = scratch.k, i1 = scratch.i
  const k2 = scratch.k2, i2 = out.subarray(base, base + m)
  // pass 1: keys → (k1, i1) by the low digit
  for (let i = 0; i < m; i++) {
    const k = keys[base + i]!
    const at = h0[k & 2047]!++
    k1[at] = k
    i1[at] = i
  }
  // pass 2: (k1, i1) → (k2, i2) by the middle digit
  for (let i = 0; i < m; i++) {
    const k = k1[i]!
    const at = h1[(k >>> 11) & 2047]!++
    k2[at] = k
    i2[at] = i1[i]!
  }
  // pass 3: (k2, i2) → i1 by the high digit, then back into out
  for (let i = 0; i < m; i++) i1[h2[k2[i]! >>> 22]!++] = i2[i]!
  i2.set(i1.subarray(0, m))
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
