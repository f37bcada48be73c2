/**
 * The CPU backend: the readable reference implementation of every primitive
 * on typed arrays, for float32, float64, int32, bool and complex64. A buffer
 * handle is the typed array itself (never mutated once made).
 */
import { allocHost, type DType, type HostArray } from "../../DType.js"
import type { BackendShape, Kernel, KernelArg } from "../../Backend.js"
import type { Prim } from "../primitives.js"
import { sizeOf } from "../shape.js"
import { binaryExpr, binaryReal, castHost, complexBinary, complexUnary, mapComplex1, mapComplex2, unaryExpr, unaryReal } from "./elementwise.js"
import { convKernel } from "./conv.js"
import { choleskyKernel, eighKernel, luKernel, qrKernel, svdKernel, triangularSolveKernel } from "./linalg.js"
import { matmulKernel } from "./matmul.js"
import { broadcastKernel, concatKernel, padKernel, reduceKernel, sliceKernel, transposeKernel } from "./structure.js"
import { cpuFusion } from "./fusion.js"
import { alloc, release } from "./pool.js"
import { randomKernel } from "./random.js"
import { argsortKernel, cumsumKernel, gatherKernel, scatterAddKernel } from "./indexing.js"
import { coreCount, Pool, withPool } from "./threads.js"
import { unaryF32Wasm, wasmUnary } from "./wasm.js"
import { binaryView, dense, matmulView, whereView } from "./views.js"

const h = (x: KernelArg): HostArray => x.handle as HostArray

/**
 * Below this many elements float32 sin/cos/exp/tanh run in JavaScript
 * (same bits as WebAssembly): 4096 for sin, cos, exp; 16 for tanh, whose
 * JavaScript form costs more: one thread,
 * 3 Dec 2026 (`Tensor.tanh` kernel alone): 0.50 / 1.1 / 3.3 / 12 µs at
 * 16 / 64 / 256 / 1,024 elements in JavaScript against 0.45 / 0.8 / 2.3 /
 * 8.1 µs on WebAssembly (and 246 against 370 µs at 32,768; Math.tanh took
 * 420 there).
 */
const WASM_UNARY_MIN: { readonly [op in keyof typeof wasmUnary]: number } = { sin: 4096, cos: 4096, exp: 4096, tanh: 16 }

const unary = (op: keyof typeof unaryExpr): Kernel<any> => ([a], _p, out) => {
  if (a!.dtype === "float32" && out.dtype === "float32" && op in wasmUnary && sizeOf(a!.shape) >= WASM_UNARY_MIN[op as keyof typeof wasmUnary]) {
    const res = alloc("float32", sizeOf(a!.shape)) as Float32Array
    if (unaryF32Wasm(op as keyof typeof wasmUnary, h(a!) as Float32Array, res, Math[op as keyof typeof wasmUnary])) return res
  }
  if (a!.dtype === "complex64") {
    if (op === "abs") {
      const src = h(a!)
      const res = new Float32Array(src.length / 2)
      for (let i = 0; i < res.length; i++) res[i] = Math.hypot(src[2 * i]!, src[2 * i + 1]!)
      return res
    }
    return mapComplex1(complexUnary[op]!, h(a!) as Float32Array)
  }
  return unaryReal(op, h(a!), a!.dtype, out.dtype)
}

const binary = (op: keyof typeof binaryExpr): Kernel<any> => ([a, b], _p, out) => {
  if (a!.dtype === "complex64") {
    if (op === "equal") {
      const x = h(a!), y = h(b!)
      const res = new Uint8Array(x.length / 2)
      for (let i = 0; i < res.length; i++) res[i] = x[2 * i] === y[2 * i] && x[2 * i + 1] === y[2 * i + 1] ? 1 : 0
      return res
    }
    return mapComplex2(complexBinary[op]!, h(a!) as Float32Array, h(b!) as Float32Array)
  }
  return binaryReal(op, h(a!), h(b!), a!.dtype, out.dtype)
}

const partOf = (which: 0 | 1): Kernel<any> => ([a]) => {
  const src = h(a!)
  if (a!.dtype !== "complex64") return which === 0 ? src : allocHost(a!.dtype, src.length)
  const res = new Float32Array(src.length / 2)
  for (let i = 0; i < res.length; i++) res[i] = src[2 * i + which]!
  return res
}

const kernels: { readonly [P in Prim]: Kernel<P> } = {
  neg: unary("neg"),
  exp: unary("exp"),
  log: unary("log"),
  sin: unary("sin"),
  cos: unary("cos"),
  tanh: unary("tanh"),
  sqrt: unary("sqrt"),
  abs: unary("abs"),
  sign: unary("sign"),
  log1p: unary("log1p"),
  expm1: unary("expm1"),
  erf: unary("erf"),
  floor: unary("floor"),
  add: binary("add"),
  sub: binary("sub"),
  mul: binary("mul"),
  div: binary("div"),
  pow: binary("pow"),
  max: binary("max"),
  min: binary("min"),
  atan2: binary("atan2"),
  greater: binary("greater"),
  less: binary("less"),
  equal: binary("equal"),
  where: ([c, x, y], _p, out) => {
    const cond = h(c!), a = h(x!), b = h(y!)
    const res = allocHost(out.dtype, cond.length)
    if (out.dtype === "complex64") {
      for (let i = 0; i < cond.length; i++) {
        const s = cond[i] ? a : b
        res[2 * i] = s[2 * i]!
        res[2 * i + 1] = s[2 * i + 1]!
      }
    } else for (let i = 0; i < cond.length; i++) res[i] = cond[i] ? a[i]! : b[i]!
    return res
  },
  sum: ([a], { axes }, out) => reduceKernel(h(a!), a!.dtype, out.dtype, a!.shape, axes, "sum"),
  reduceMax: ([a], { axes }, out) => reduceKernel(h(a!), a!.dtype, out.dtype, a!.shape, axes, "max"),
  reshape: ([a]) => a!.handle,
  broadcast: ([a], { shape, dims }) => broadcastKernel(h(a!), a!.dtype, a!.shape, shape, dims),
  transpose: ([a], { perm }) => transposeKernel(h(a!), a!.dtype, a!.shape, perm),
  slice: ([a], { starts, stops }) => sliceKernel(h(a!), a!.dtype, a!.shape, starts, stops),
  pad: ([a], { before, after }) => padKernel(h(a!), a!.dtype, a!.shape, before, after),
  concat: (args, { axis }, out) => concatKernel(args.map((x) => ({ data: h(x), shape: x.shape })), out.dtype, out.shape, axis),
  matmul: ([a, b], _p, out) => {
    const r = a!.shape.length
    const m = a!.shape[r - 2]!, k = a!.shape[r - 1]!, n = b!.shape[r - 1]!
    return matmulKernel(h(a!), h(b!), out.dtype, sizeOf(a!.shape.slice(0, r - 2)), m, k, n)
  },
  cast: ([a], { dtype }) => castHost(h(a!), a!.dtype, dtype),
  stopGradient: ([a]) => a!.handle,
  real: partOf(0),
  imag: partOf(1),
  complex: ([re, im]) => {
    const x = h(re!), y = h(im!)
    const res = new Float32Array(2 * x.length)
    for (let i = 0; i < x.length; i++) {
      res[2 * i] = x[i]!
      res[2 * i + 1] = y[i]!
    }
    return res
  },
  conj: ([a]) => (a!.dtype === "complex64" ? mapComplex1(complexUnary.conj!, h(a!) as Float32Array) : a!.handle),
  random: ([k], params) => randomKernel(h(k!), params),
  gather: ([x, i], { axis, batchDims }, out) => gatherKernel(h(x!), h(i!), out.dtype, x!.shape, i!.shape, axis, batchDims, sizeOf(out.shape)),
  scatterAdd: ([x, i, u], { axis, batchDims }, out) => scatterAddKernel(h(x!), h(i!), h(u!), out.dtype, x!.shape, i!.shape, axis, batchDims),
  argsort: ([x], { descending }) => argsortKernel(h(x!), x!.shape, descending),
  cumsum: ([x], { axis, reverse }) => cumsumKernel(h(x!), x!.dtype, x!.shape, axis, reverse),
  cholesky: choleskyKernel,
  triangularSolve: triangularSolveKernel,
  lu: luKernel,
  qr: qrKernel,
  eigh: eighKernel,
  svd: svdKernel,
  conv: convKernel
}


/** Kernels reading strided views of their operands (see `views.ts`). */
const viewKernels: BackendShape["viewKernels"] = {
  matmul: matmulView,
  conv: convKernel,
  add: binaryView("add", kernels.add),
  sub: binaryView("sub", kernels.sub),
  mul: binaryView("mul", kernels.mul),
  div: binaryView("div", kernels.div),
  pow: binaryView("pow", kernels.pow),
  max: binaryView("max", kernels.max),
  min: binaryView("min", kernels.min),
  greater: binaryView("greater", kernels.greater),
  less: binaryView("less", kernels.less),
  equal: binaryView("equal", kernels.equal),
  where: whereView(kernels.where),
  // x a broadcast scalar (the zeros of take's gradient): filled, never materialized
  scatterAdd: (args, params, out) => {
    const [x, i, u] = args
    if (x!.strides !== undefined && out.dtype !== "complex64" && x!.strides.every((s) => s === 0))
      return scatterAddKernel(h(x!)[x!.offset ?? 0]!, dense(i!), dense(u!), out.dtype, x!.shape, i!.shape, params.axis, params.batchDims)
    return kernels.scatterAdd([x, i, u].map((a) => (a!.strides === undefined ? a! : { handle: dense(a!), shape: a!.shape, dtype: a!.dtype })), params, out)
  }
}

/** A kernel that runs with `pool` as the current worker pool (the kernels that split their work). */
const inPool = <P extends Prim>(pool: Pool, k: Kernel<P>): Kernel<P> => (args, params, out) => withPool(pool, () => k(args, params, out))

/** The CPU backend whose large kernels run on `pool` (`CpuBackend.layerWith`). */
export const makeCpuBackend = (pool: Pool): BackendShape => ({
  name: "cpu",
  supports: (_dtype: DType) => true,
  upload: (host) => host,
  download: (handle) => handle as HostArray,
  dispose: release,
  hostBuffers: true,
  kernels: {
    ...kernels,
    matmul: inPool(pool, kernels.matmul),
    conv: inPool(pool, kernels.conv),
    sin: inPool(pool, kernels.sin),
    cos: inPool(pool, kernels.cos),
    exp: inPool(pool, kernels.exp),
    sum: inPool(pool, kernels.sum),
    reduceMax: inPool(pool, kernels.reduceMax)
  },
  viewKernels: { ...viewKernels, matmul: inPool(pool, viewKernels!.matmul!), conv: inPool(pool, convKernel) },
  fusion: { canFuse: cpuFusion.canFuse, kernel: (program, args, out) => withPool(pool, () => cpuFusion.kernel(program, args, out)) }
})

/** The worker pool of the default CPU backend: one thread per core, started on first use, never keeping the process alive. */
export const defaultPool = new Pool(coreCount())

/** The CPU backend value (its Layer is `CpuBackend.layer`). */
export const cpuBackend: BackendShape = makeCpuBackend(defaultPool)
