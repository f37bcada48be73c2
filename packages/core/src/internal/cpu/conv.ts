/**
 * The CPU `conv` kernel. float32 convolutions in 1 or 2 spatial dims with
 * no input dilation and non-negative padding run on WebAssembly SIMD
 * kernels (`wasm-conv.ts`), reading their operands in place through
 * strides (conv is a view kernel: the transposes of a kernel gradient are
 * not materialized): with unit stride along the last axis and outputs at
 * least `DIRECT_MIN_WIDTH` wide (the forward pass of a CNN layer and its
 * input gradient) the direct kernel, vectorized along the output's width
 * and split over the worker pool by images; narrower outputs with a kernel
 * width that is a multiple of 4 (a layer's kernel gradient, where the image
 * is the kernel) the narrow kernel, vectorized along the kernel's width.
 * Everything else (transposed convolutions, other narrow ones, float64,
 * 3-D) goes through im2col, then
 * one GEMM per image and group on the existing matmul kernels (the
 * WebAssembly SIMD GEMM for float32).
 *
 * For image n and group g, `cols` is the `[C/g · K, outSize]` matrix whose
 * column p holds the input values under the kernel at output position p
 * (zero where the kernel reads padding or a hole of the input dilation),
 * and the output block `[O/g, outSize]` is `w_g [O/g, C/g · K] @ cols`,
 * written in place into `[N, O, ...out]`. The input index of each (output
 * position, kernel tap) pair along each spatial axis is tabulated once.
 */
import type { Kernel, KernelArg } from "../../Backend.js"
import type { HostArray } from "../../DType.js"
import { sizeOf, stridesOf } from "../shape.js"
import { gemmAny } from "./matmul.js"
import { alloc, allocUninitialized, release } from "./pool.js"
import { dense } from "./views.js"
import { convF32Direct, convF32NarrowRun, type Strided4 } from "./wasm-conv.js"

/** Narrower outputs waste most of the direct kernel's 8-column tiles: the narrow kernel or im2col instead. */
const DIRECT_MIN_WIDTH = 6

type Params = Parameters<Kernel<"conv">>[1]

/** A float32 operand of 3 or 4 axes as the WebAssembly kernels read it (in place, through its strides). */
const strided4 = (a: KernelArg): Strided4 | undefined => {
  const data = a.handle
  if (!(data instanceof Float32Array)) return undefined
  const st = a.strides ?? stridesOf(a.shape)
  const strides: [number, number, number, number] = a.shape.length === 4 ? [st[0]!, st[1]!, st[2]!, st[3]!] : [st[0]!, st[1]!, 0, st[2]!]
  return strides.every((s) => s >= 0) ? { data, offset: a.offset ?? 0, strides } : undefined
}

/**
 * The WebAssembly kernels, when the convolution is one they run: float32,
 * 1 or 2 spatial dims, unit column stride, no input dilation, padding
 * before ≥ 0. Outputs at least DIRECT_MIN_WIDTH wide take the direct kernel
 * (a CNN layer, its input gradient); narrower ones with a kernel width that
 * is a multiple of 4, unit column dilation and one group take the narrow
 * kernel (a layer's kernel gradient, where the image is the kernel). False
 * when neither applies (nothing written).
 */
const tryWasm = (xa: KernelArg, wa: KernelArg, p: Params, outShape: ReadonlyArray<number>, res: HostArray): boolean => {
  if (!(res instanceof Float32Array)) return false
  const sd = xa.shape.length - 2
  if (sd < 1 || sd > 2 || p.lhsDilation.some((d) => d !== 1) || p.padding.some(([lo]) => lo < 0)) return false
  const x = strided4(xa), w = strided4(wa)
  if (x === undefined || w === undefined) return false
  const two = sd === 2
  const [n, c] = xa.shape as [number, number]
  const o = wa.shape[0]!
  const ow = outShape[outShape.length - 1]!
  const common = {
    n, c, o,
    h: two ? xa.shape[2]! : 1,
    w: xa.shape[sd + 1]!,
    kh: two ? wa.shape[2]! : 1,
    kw: wa.shape[sd + 1]!,
    oh: two ? outShape[2]! : 1,
    ow,
    sh: two ? p.strides[0]! : 1,
    dh: two ? p.rhsDilation[0]! : 1,
    padTop: two ? p.padding[0]![0] : 0,
    padLeft: p.padding[sd - 1]![0]
  }
  if (ow >= DIRECT_MIN_WIDTH)
    return p.strides[sd - 1] === 1 && convF32Direct(x, w, res, { ...common, groups: p.groups, dw: p.rhsDilation[sd - 1]! })
  return p.groups === 1 && p.rhsDilation[sd - 1] === 1 && convF32NarrowRun(x, w, res, { ...common, sw: p.strides[sd - 1]! })
}

const h = (x: KernelArg): HostArray => x.handle as HostArray

/**
 * The conv kernel; its operands may be strided views (it is one of the CPU
 * backend's `viewKernels`): the WebAssembly kernels read them in place, the
 * im2col path materializes them.
 */
export const convKernel: Kernel<"conv"> = ([xv, wv], { strides, padding, lhsDilation, rhsDilation, groups }, out) => {
  if (sizeOf(out.shape) > 0 && wv!.shape.slice(1).every((d) => d > 0)) {
    // the WebAssembly kernels write every element
    const res = allocUninitialized(out.dtype, sizeOf(out.shape))
    if (tryWasm(xv!, wv!, { strides, padding, lhsDilation, rhsDilation, groups }, out.shape, res)) return res
    release(res)
  }
  const xa = xv!.strides === undefined ? xv! : { handle: dense(xv!), shape: xv!.shape, dtype: xv!.dtype }
  const wa = wv!.strides === undefined ? wv! : { handle: dense(wv!), shape: wv!.shape, dtype: wv!.dtype }
  const x = h(xa), w = h(wa)
  const [n, c, ...xs] = xa.shape as [number, number, ...number[]]
  const [o, cg, ...ks] = wa.shape as [number, number, ...number[]]
  const os = out.shape.slice(2)
  const sd = xs.length
  const outSize = sizeOf(os), kSize = sizeOf(ks), inSize = sizeOf(xs)
  const og = o / groups
  const res = alloc(out.dtype, sizeOf(out.shape))
  if (res.length === 0 || cg * kSize === 0) return res
  // table[d][p * K_d + t]: the input index along axis d for output index p and tap t, or -1
  const tables = xs.map((inD, d) => {
    const k = ks[d]!, od = os[d]!
    const t = new Int32Array(od * k)
    for (let p = 0; p < od; p++)
      for (let q = 0; q < k; q++) {
        const pos = p * strides[d]! - padding[d]![0] + q * rhsDilation[d]!
        const ld = lhsDilation[d]!
        t[p * k + q] = pos >= 0 && pos % ld === 0 && pos / ld < inD ? pos / ld : -1
      }
    return t
  })
  const inStrides = stridesOf(xs)
  const outIdx = new Int32Array(sd), kIdx = new Int32Array(sd)
  const rows = cg * kSize
  const cols = alloc(out.dtype, rows * outSize)
  // for each (output position, tap): the offset in one input channel, or -1 (computed once)
  const offsets = new Int32Array(outSize * kSize)
  for (let p = 0; p < outSize; p++) {
    let r = p
    for (let d = sd - 1; d >= 0; d--) {
      outIdx[d] = r % os[d]!
      r = Math.floor(r / os[d]!)
    }
    for (let t = 0; t < kSize; t++) {
      let q = t
      for (let d = sd - 1; d >= 0; d--) {
        kIdx[d] = q % ks[d]!
        q = Math.floor(q / ks[d]!)
      }
      let off = 0
      for (let d = 0; d < sd; d++) {
        const i = tables[d]![outIdx[d]! * ks[d]! + kIdx[d]!]!
        if (i < 0) {
          off = -1
          break
        }
        off += i * inStrides[d]!
      }
      offsets[t * outSize + p] = off
    }
  }
  for (let b = 0; b < n; b++)
    for (let g = 0; g < groups; g++) {
      for (let ci = 0; ci < cg; ci++) {
        const base = (b * c + g * cg + ci) * inSize
        for (let t = 0; t < kSize; t++) {
          const row = (ci * kSize + t) * outSize
          const offRow = t * outSize
          for (let p = 0; p < outSize; p++) {
            const off = offsets[offRow + p]!
            cols[row + p] = off < 0 ? 0 : x[base + off]!
          }
        }
      }
      gemmAny(out.dtype, w, g * og * rows, { rs: rows, cs: 1 }, cols, 0, { rs: outSize, cs: 1 }, res, (b * o + g * og) * outSize, og, rows, outSize)
    }
  release(cols)
  return res
}
