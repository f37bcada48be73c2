/**
 * The JavaScript side of the convolution and dense linear-algebra kernels in
 * WebAssembly SIMD (`assembly/dense.ts`, embedded in `wasm-dense-module.ts`):
 * loading, its own linear memory, and placing operands in the layouts the
 * kernels read. Optional, like the GEMM module (`wasm.ts`): where WebAssembly
 * SIMD is missing, or `setWasmEnabled(false)` turned the kernels off, the
 * callers use their JavaScript kernels, which stay the reference.
 */
import { wasm } from "./wasm.js"
import { wasmBase64 } from "./wasm-dense-module.js"

interface Exports {
  readonly memory: WebAssembly.Memory
  readonly heapBase: () => number
  readonly denseVersion: () => number
  readonly convF32: (x: number, w: number, offs: number, y: number, taps: number, xw: number, o4: number, oh: number, ow8: number, sh: number) => void
  readonly padF32: (src: number, srcPlane: number, srcRow: number, dst: number, planes: number, h: number, w: number, xh: number, xw: number, top: number, left: number) => void
  readonly convF32Narrow: (x: number, w: number, ws0: number, ws1: number, ws2: number, poff: number, positions: number, y: number, c: number, kh: number, kw: number, xh: number, xw: number, dh: number, o4: number) => void
  readonly luF64: (a: number, n: number, perm: number) => number
  readonly choleskyF64: (a: number, l: number, n: number) => number
  readonly trisolveF64: (a: number, x: number, n: number, k: number, lower: number, transpose: number, unit: number) => void
}

const VERSION = 3
/** Beyond this much linear memory the JavaScript kernels are used (memory never shrinks). */
const MAX_BYTES = 256 * 2 ** 20

let state: "unloaded" | "failed" | Exports = "unloaded"
let heap = new Float32Array(0)

const load = (): Exports | undefined => {
  try {
    if (typeof WebAssembly !== "object") return undefined
    const bin = atob(wasmBase64)
    const bytes = new Uint8Array(bin.length)
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
    if (!WebAssembly.validate(bytes)) return undefined // no SIMD
    const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as Exports
    if (ex.denseVersion() !== VERSION) return undefined
    heap = new Float32Array(ex.memory.buffer)
    return ex
  } catch {
    return undefined
  }
}

/** The kernels, or undefined when WebAssembly SIMD is unavailable or the wasm kernels are turned off (`setWasmEnabled`). */
const dense = (): Exports | undefined => {
  if (wasm() === undefined) return undefined
  if (state === "unloaded") state = load() ?? "failed"
  return state === "failed" ? undefined : state
}

/** Grows linear memory to at least `bytes`; false past MAX_BYTES. */
const reserve = (ex: Exports, bytes: number): boolean => {
  if (bytes > MAX_BYTES) return false
  const have = ex.memory.buffer.byteLength
  if (bytes > have) {
    ex.memory.grow(Math.ceil((bytes - have) / 65536))
    heap = new Float32Array(ex.memory.buffer)
  }
  return true
}

/**
 * A float32 operand read in place: element (i0, i1, i2, i3) at
 * `offset + Σ ik · strides[k]` of `data` (4 axes; a 1-D convolution's
 * operands have a unit third axis).
 */
export interface Strided4 {
  readonly data: Float32Array
  readonly offset: number
  readonly strides: readonly [number, number, number, number]
}

/** How many elements of `data` from `offset` the operand of `shape` spans (non-negative strides). */
const spanOf = (a: Strided4, shape: ReadonlyArray<number>): number => {
  let last = 0
  for (let d = 0; d < 4; d++) last += (shape[d]! - 1) * a.strides[d]!
  return last + 1
}

/** Copies the span of `a` into linear memory at byte `at` (16-aligned); returns the element index there of its first element. */
const placeSpan = (at: number, a: Strided4, span: number): number => {
  heap.set(a.data.subarray(a.offset, a.offset + span), at >> 2)
  return at >> 2
}

/** A 2-D convolution as the direct kernel reads it (1-D is h = 1). */
export interface DirectConv {
  readonly n: number
  readonly c: number
  readonly h: number
  readonly w: number
  readonly o: number
  readonly groups: number
  readonly kh: number
  readonly kw: number
  readonly oh: number
  readonly ow: number
  /** the row stride (the column stride is 1) */
  readonly sh: number
  readonly dh: number
  readonly dw: number
  /** padding before the first row and column (≥ 0; the padding after follows from the output size) */
  readonly padTop: number
  readonly padLeft: number
}

const align16 = (b: number): number => (b + 15) & ~15

/**
 * y = conv(x, w) for float32 x [n, c, h, w], w [o, c / groups, kh, kw], into
 * out [n, o, oh, ow] (dense), on the direct WebAssembly kernel; x and w are
 * read through their strides (x's columns contiguous). Returns false, doing
 * nothing, when the kernel is unavailable or the operands too large.
 */
export const convF32Direct = (x: Strided4, w: Strided4, out: Float32Array, p: DirectConv): boolean => {
  const ex = dense()
  if (ex === undefined || x.strides[3] !== 1) return false
  const { n, c, h, o, groups, kh, kw, oh, ow, sh, dh, dw, padTop, padLeft } = p
  const cg = c / groups, og = o / groups
  const o4 = Math.ceil(og / 4) * 4
  const ow8 = Math.ceil(ow / 8) * 8
  const xh = Math.max(h + padTop, (oh - 1) * sh + (kh - 1) * dh + 1)
  const xw = Math.max(p.w + padLeft, ow8 + (kw - 1) * dw)
  const taps = cg * kh * kw
  const xSpan = spanOf(x, [n, c, h, p.w])
  const rawP = align16(ex.heapBase())
  const xP = align16(rawP + 4 * xSpan)
  const xLen = cg * xh * xw
  const wP = align16(xP + 4 * xLen)
  const wLen = groups * o4 * taps
  const oP = align16(wP + 4 * wLen)
  const yP = align16(oP + 4 * taps)
  // one image's output at a time: copied out while it is still in cache (faster than all images, then one copy)
  if (!reserve(ex, yP + 4 * o4 * oh * ow8)) return false
  const F = heap
  const raw = placeSpan(rawP, x, xSpan)
  const wq = wP >> 2, yq = yP >> 2
  // the byte offset in x of each tap (ci, u, v), in the weights' order
  const offs = new Int32Array(ex.memory.buffer, oP, taps)
  for (let ci = 0, t = 0; ci < cg; ci++) for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) offs[t++] = 4 * ((ci * xh + u * dh) * xw + v * dw)
  // weights of every group: [o4 / 4][cg][kh][kw][4]
  F.fill(0, wq, wq + wLen)
  const [w0, w1, w2, w3] = w.strides
  for (let g = 0; g < groups; g++)
    for (let oc = 0; oc < og; oc++) {
      const dst = wq + g * o4 * taps + (oc >> 2) * 4 * taps + (oc & 3)
      const src = w.offset + (g * og + oc) * w0
      for (let ci = 0, t = 0; ci < cg; ci++)
        for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++, t++) F[dst + 4 * t] = w.data[src + ci * w1 + u * w2 + v * w3]!
    }
  const [s0, s1, s2] = x.strides
  const outSize = oh * ow
  for (let b = 0; b < n; b++)
    for (let g = 0; g < groups; g++) {
      ex.padF32(4 * (raw + b * s0 + g * cg * s1), s1, s2, xP, cg, h, p.w, xh, xw, padTop, padLeft)
      ex.convF32(xP, wP + 4 * g * o4 * taps, oP, yP, taps, xw, o4, oh, ow8, sh)
      const dst0 = (b * o + g * og) * outSize
      if (ow8 === ow) out.set(F.subarray(yq, yq + og * outSize), dst0) // [o4][oh][ow] is the output's layout: one copy
      else
        for (let oc = 0; oc < og; oc++)
          for (let r = 0, src = yq + oc * oh * ow8, dst = dst0 + oc * outSize; r < oh; r++, src += ow8, dst += ow) out.set(F.subarray(src, src + ow), dst)
    }
  return true
}

/** A convolution with a small output and a wide kernel (a kernel gradient), as the narrow kernel reads it. */
export interface NarrowConv {
  readonly n: number
  readonly c: number
  readonly h: number
  readonly w: number
  readonly o: number
  readonly kh: number
  readonly kw: number
  readonly oh: number
  readonly ow: number
  readonly sh: number
  readonly sw: number
  /** the kernel's row dilation (its column dilation is 1) */
  readonly dh: number
  readonly padTop: number
  readonly padLeft: number
}

/**
 * y = conv(x, w) for float32 x [n, c, h, w], w [o, c, kh, kw] with kw a
 * multiple of 4 and unit column dilation, groups 1, into out [n, o, oh, ow]
 * (dense), on the narrow kernel (vectorized along the kernel's width); x
 * and w are read through their strides (columns contiguous). False, doing
 * nothing, when it does not apply or the kernel is unavailable.
 */
export const convF32NarrowRun = (x: Strided4, w: Strided4, out: Float32Array, p: NarrowConv): boolean => {
  const ex = dense()
  if (ex === undefined || x.strides[3] !== 1 || w.strides[3] !== 1 || p.kw % 4 !== 0) return false
  const { n, c, h, o, kh, kw, oh, ow, sh, sw, dh, padTop, padLeft } = p
  const o4 = Math.ceil(o / 4) * 4
  const positions = oh * ow + ((oh * ow) & 1)
  const xh = Math.max(h + padTop, (oh - 1) * sh + (kh - 1) * dh + 1)
  const xw = Math.max(p.w + padLeft, (ow - 1) * sw + kw)
  const xSpan = spanOf(x, [n, c, h, p.w])
  // the channels past o read whatever lies after w's span (their sums are dropped): keep that inside memory
  const wSpan = spanOf(w, [o, c, kh, kw]) + (o4 - o) * w.strides[0]
  const rawP = align16(ex.heapBase())
  const wP = align16(rawP + 4 * xSpan)
  const xP = align16(wP + 4 * wSpan)
  const pP = align16(xP + 4 * c * xh * xw)
  const yP = align16(pP + 4 * positions)
  if (!reserve(ex, yP + 4 * o4 * positions)) return false
  const raw = placeSpan(rawP, x, xSpan)
  heap.set(w.data.subarray(w.offset, w.offset + Math.min(wSpan, w.data.length - w.offset)), wP >> 2)
  const poff = new Int32Array(ex.memory.buffer, pP, positions)
  for (let q = 0; q < oh * ow; q++) poff[q] = 4 * (Math.floor(q / ow) * sh * xw + (q % ow) * sw)
  if (positions > oh * ow) poff[positions - 1] = 0
  const [s0, s1, s2] = x.strides
  const yq = yP >> 2
  const outSize = oh * ow
  for (let b = 0; b < n; b++) {
    ex.padF32(4 * (raw + b * s0), s1, s2, xP, c, h, p.w, xh, xw, padTop, padLeft)
    ex.convF32Narrow(xP, wP, w.strides[0], w.strides[1], w.strides[2], pP, positions, yP, c, kh, kw, xh, xw, dh, o4)
    for (let oc = 0; oc < o; oc++) out.set(heap.subarray(yq + oc * positions, yq + oc * positions + outSize), (b * o + oc) * outSize)
  }
  return true
}

// ------------------------------------------------------------------ dense linear algebra (float64)

/** Copies `len` numbers of `src` from `off` into linear memory at byte `at` as float64. */
const placeF64 = (at: number, src: ArrayLike<number>, off: number, len: number): Float64Array => {
  const D = new Float64Array(heap.buffer, at, len)
  if (src instanceof Float64Array) D.set(src.subarray(off, off + len))
  else for (let i = 0; i < len; i++) D[i] = src[off + i]!
  return D
}

const base = (ex: Exports): number => (ex.heapBase() + 15) & ~15

/**
 * LU with partial pivoting of the n × n matrix src[off …] in float64 (as
 * `luKernel`): writes the packed factors into `lu` (float64, n × n) and the
 * permutation into `perm`; returns the number of row swaps, or undefined
 * (nothing done) when the kernel is unavailable.
 */
export const luF64Wasm = (src: ArrayLike<number>, off: number, n: number, lu: Float64Array, perm: Int32Array): number | undefined => {
  const ex = dense()
  if (ex === undefined) return undefined
  const aP = base(ex), pP = aP + 8 * n * n
  if (!reserve(ex, pP + 4 * n)) return undefined
  const D = placeF64(aP, src, off, n * n)
  const swaps = ex.luF64(aP, n, pP)
  lu.set(D)
  perm.set(new Int32Array(heap.buffer, pP, n))
  return swaps
}

/**
 * The Cholesky factor of the n × n matrix src[off …] (its lower triangle) in
 * float64 into `l`: −1 when it succeeds, the row of the first non-positive
 * pivot otherwise, undefined (nothing done) when the kernel is unavailable.
 */
export const choleskyF64Wasm = (src: ArrayLike<number>, off: number, n: number, l: Float64Array): number | undefined => {
  const ex = dense()
  if (ex === undefined) return undefined
  const aP = base(ex), lP = aP + 8 * n * n
  if (!reserve(ex, lP + 8 * n * n)) return undefined
  placeF64(aP, src, off, n * n)
  const bad = ex.choleskyF64(aP, lP, n)
  l.set(new Float64Array(heap.buffer, lP, n * n))
  return bad
}

/**
 * Solves op(A) X = B (as `triangularSolveKernel`) for A = a[aOff …] (n × n)
 * and B = b[bOff …] (n × k) in float64 into `x`; false (nothing done) when
 * the kernel is unavailable.
 */
export const trisolveF64Wasm = (a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, n: number, k: number, lower: boolean, transpose: boolean, unit: boolean, x: Float64Array): boolean => {
  const ex = dense()
  if (ex === undefined) return false
  const aP = base(ex), xP = aP + 8 * n * n
  if (!reserve(ex, xP + 8 * n * k)) return false
  placeF64(aP, a, aOff, n * n)
  const X = placeF64(xP, b, bOff, n * k)
  ex.trisolveF64(aP, xP, n, k, lower ? 1 : 0, transpose ? 1 : 0, unit ? 1 : 0)
  x.set(X)
  return true
}
