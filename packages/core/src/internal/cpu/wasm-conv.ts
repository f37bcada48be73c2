/**
 * The JavaScript side of the float32 convolution kernels in WebAssembly SIMD
 * (`convF32`, `padF32`, `convF32Narrow` of `assembly/kernels.ts`, the module
 * of `wasm.ts`): placing operands in the layouts the kernels read, and
 * splitting the direct kernel over the worker pool by images (CONV jobs of
 * `worker-source.ts`: each image is padded and convolved by whichever thread
 * claims it, with the same calls as on one thread, so the bits do not depend
 * on the number of threads). Optional: where WebAssembly SIMD is missing, or
 * `setWasmEnabled(false)` turned the kernels off, these return false and
 * `conv.ts` runs im2col on the JavaScript kernels.
 */
import { currentPool } from "./threads.js"
import { linear, sharedWasm, wasm } from "./wasm.js"
import { CONV } from "./worker-source.js"

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

/** At most this many bytes of images (input, and on the pool outputs) are in linear memory at once. */
const BATCH_BYTES = 32 * 2 ** 20

/**
 * Below this many multiply-adds a convolution runs on one thread (each image
 * is a chunk). Not swept: 2²¹ is about 100 µs of work on one thread, well
 * above a worker's wake-up. GEMM_PAR_MIN of `wasm.ts` (2²⁴, swept) is higher
 * because a split product also packs and copies its operands per chunk; the
 * benchmark's CNN layer (1.4·10⁷ multiply-adds over 32 images) had its
 * kernel 1.67× faster split on a quiet machine (1.60 → 0.96 ms, load 2.2).
 */
let CONV_PAR_MIN = 2 ** 21

/** Sets the size threshold of the parallel direct convolution (tests split small ones); returns the previous one. */
export const setConvThreshold = (macs: number): number => {
  const was = CONV_PAR_MIN
  CONV_PAR_MIN = macs
  return was
}

/**
 * y = conv(x, w) for float32 x [n, c, h, w], w [o, c / groups, kh, kw], into
 * out [n, o, oh, ow] (dense), on the direct WebAssembly kernel; x and w are
 * read through their strides (x's columns contiguous). Images are split over
 * the worker pool when the memory is shared and the convolution is large
 * enough. Returns false, doing nothing, when the kernel is unavailable or
 * the operands too large.
 */
export const convF32Direct = (x: Strided4, w: Strided4, out: Float32Array, p: DirectConv): boolean => {
  const ex = wasm()
  if (ex === undefined || x.strides[3] !== 1) return false
  const { n, c, h, o, groups, kh, kw, oh, ow, sh, dh, dw, padTop, padLeft } = p
  const cg = c / groups, og = o / groups
  const o4 = Math.ceil(og / 4) * 4
  const ow8 = Math.ceil(ow / 8) * 8
  const xh = Math.max(h + padTop, (oh - 1) * sh + (kh - 1) * dh + 1)
  const xw = Math.max(p.w + padLeft, ow8 + (kw - 1) * dw)
  const taps = cg * kh * kw
  const [s0, s1, s2] = x.strides
  // images laid out one after another (a dense input, or a view of one): each image's span is copied as its chunk is fed
  const imgSpan = spanOf(x, [1, c, h, p.w])
  const disjoint = n === 1 || s0 >= imgSpan
  const padBytes = align16(4 * c * xh * xw)
  const yBytes = 4 * groups * o4 * oh * ow8
  const pool = currentPool()
  const sw = sharedWasm()
  const par = sw !== undefined && pool.threads > 1 && n > 1 && n * o * oh * ow * taps >= CONV_PAR_MIN
  // on one thread one padded image and one output reused (they stay in cache); on the pool a padded image per
  // thread (taken with a compare-and-swap on its flag) and an output per image (the calling thread copies the
  // workers' images out after the job)
  const slots = par ? pool.threads : 1
  const perImage = (par ? yBytes : 0) + (disjoint ? align16(4 * s0) : 0)
  const nb = Math.max(1, Math.min(n, Math.floor(BATCH_BYTES / Math.max(1, perImage))))
  const wLen = groups * o4 * taps
  const rawBytes = disjoint ? 4 * ((nb - 1) * s0 + imgSpan) : 4 * spanOf(x, [n, c, h, p.w])
  const wB = 0
  const offsB = align16(wB + 4 * wLen)
  const flagsB = align16(offsB + 4 * taps)
  const rawB = align16(flagsB + 4 * slots)
  const padB = align16(rawB + rawBytes)
  const yB = padB + slots * padBytes
  const region = linear(yB + (par ? nb : 1) * yBytes)
  if (region === undefined) return false
  const base = region.base
  const F = new Float32Array(region.buffer)
  const wP = base + wB, offsP = base + offsB, flagsP = base + flagsB, rawP = base + rawB, padP = base + padB, yP = base + yB
  new Int32Array(region.buffer, flagsP, slots).fill(0)
  // the byte offset in x of each tap (ci, u, v), in the weights' order
  const offs = new Int32Array(region.buffer, offsP, taps)
  for (let ci = 0, t = 0; ci < cg; ci++) for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) offs[t++] = 4 * ((ci * xh + u * dh) * xw + v * dw)
  // weights of every group: [o4 / 4][cg][kh][kw][4]
  const wq = wP >> 2
  F.fill(0, wq, wq + wLen)
  const [w0, w1, w2, w3] = w.strides
  for (let g = 0; g < groups; g++)
    for (let oc = 0; oc < og; oc++) {
      const dst = wq + g * o4 * taps + (oc >> 2) * 4 * taps + (oc & 3)
      const src = w.offset + (g * og + oc) * w0
      for (let ci = 0, t = 0; ci < cg; ci++)
        for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++, t++) F[dst + 4 * t] = w.data[src + ci * w1 + u * w2 + v * w3]!
    }
  if (!disjoint) F.set(x.data.subarray(x.offset, x.offset + rawBytes / 4), rawP >> 2)
  const outSize = oh * ow
  for (let b0 = 0; b0 < n; b0 += nb) {
    const count = Math.min(nb, n - b0)
    // the input of image b0 + i at raw + 4·i·s0
    const raw = disjoint ? rawP : rawP + 4 * b0 * s0
    const feed = (i: number) => {
      if (!disjoint) return
      const from = x.offset + (b0 + i) * s0
      F.set(x.data.subarray(from, from + imgSpan), (rawP >> 2) + i * s0)
    }
    // image b0 + i's output from the output at yp
    const copyOut = (i: number, yp: number) => {
      for (let g = 0; g < groups; g++) {
        const dst0 = ((b0 + i) * o + g * og) * outSize
        const yq = (yp + 4 * g * o4 * oh * ow8) >> 2
        if (ow8 === ow) out.set(F.subarray(yq, yq + og * outSize), dst0) // [o4][oh][ow] is the output's layout: one copy
        else
          for (let oc = 0; oc < og; oc++)
            for (let r = 0, src = yq + oc * oh * ow8, dst = dst0 + oc * outSize; r < oh; r++, src += ow8, dst += ow) out.set(F.subarray(src, src + ow), dst)
      }
    }
    if (par) {
      const args = [raw, s0, s1, s2, c, h, p.w, padP, xh, xw, padTop, padLeft, wP, offsP, yP, taps, o4, oh, ow8, sh, groups, padBytes, yBytes, flagsP, slots]
      pool.exec(sw, CONV, args, count, false, { feed, drain: (i) => copyOut(i, yP + i * yBytes) })
    } else
      for (let i = 0; i < count; i++) {
        // the same calls as a CONV chunk of worker-source.ts; each image's output copied out while it is still in cache
        feed(i)
        ex.padF32(raw + 4 * i * s0, s1, s2, padP, c, h, p.w, xh, xw, padTop, padLeft)
        for (let g = 0; g < groups; g++) ex.convF32(padP + 4 * g * cg * xh * xw, wP + 4 * g * o4 * taps, offsP, yP + 4 * g * o4 * oh * ow8, taps, xw, o4, oh, ow8, sh)
        copyOut(i, yP)
      }
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
  const ex = wasm()
  if (ex === undefined || x.strides[3] !== 1 || w.strides[3] !== 1 || p.kw % 4 !== 0) return false
  const { n, c, h, o, kh, kw, oh, ow, sh, sw, dh, padTop, padLeft } = p
  const o4 = Math.ceil(o / 4) * 4
  const positions = oh * ow + ((oh * ow) & 1)
  const xh = Math.max(h + padTop, (oh - 1) * sh + (kh - 1) * dh + 1)
  const xw = Math.max(p.w + padLeft, (ow - 1) * sw + kw)
  const xSpan = spanOf(x, [n, c, h, p.w])
  // the channels past o read whatever lies after w's span (their sums are dropped): keep that inside memory
  const wSpan = spanOf(w, [o, c, kh, kw]) + (o4 - o) * w.strides[0]
  const rawB = 0
  const wB = align16(rawB + 4 * xSpan)
  const xB = align16(wB + 4 * wSpan)
  const pB = align16(xB + 4 * c * xh * xw)
  const yB = align16(pB + 4 * positions)
  const region = linear(yB + 4 * o4 * positions)
  if (region === undefined) return false
  const heap = new Float32Array(region.buffer)
  const rawP = region.base + rawB, wP = region.base + wB, xP = region.base + xB, pP = region.base + pB, yP = region.base + yB
  heap.set(x.data.subarray(x.offset, x.offset + xSpan), rawP >> 2)
  heap.set(w.data.subarray(w.offset, w.offset + Math.min(wSpan, w.data.length - w.offset)), wP >> 2)
  const poff = new Int32Array(region.buffer, pP, positions)
  for (let q = 0; q < oh * ow; q++) poff[q] = 4 * (Math.floor(q / ow) * sh * xw + (q % ow) * sw)
  if (positions > oh * ow) poff[positions - 1] = 0
  const [s0, s1, s2] = x.strides
  const yq = yP >> 2
  const outSize = oh * ow
  for (let b = 0; b < n; b++) {
    ex.padF32(rawP + 4 * b * s0, s1, s2, xP, c, h, p.w, xh, xw, padTop, padLeft)
    ex.convF32Narrow(xP, wP, w.strides[0], w.strides[1], w.strides[2], pP, positions, yP, c, kh, kw, xh, xw, dh, o4)
    for (let oc = 0; oc < o; oc++) out.set(heap.subarray(yq + oc * positions, yq + oc * positions + outSize), (b * o + oc) * outSize)
  }
  return true
}
