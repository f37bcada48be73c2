/**
 * The JavaScript side of the dense linear-algebra kernels (float64) in
 * WebAssembly SIMD (`assembly/dense.ts`, embedded in `wasm-dense-module.ts`):
 * loading, its own linear memory, and placing operands in the layouts the
 * kernels read (the convolutions are in the GEMM module: `wasm-conv.ts`). Optional, like the GEMM module (`wasm.ts`): where WebAssembly
 * SIMD is missing, or `setWasmEnabled(false)` turned the kernels off, the
 * callers use their JavaScript kernels, which stay the reference.
 */
import { wasm } from "./wasm.js"
import { wasmBase64 } from "./wasm-dense-module.js"

interface Exports {
  readonly memory: WebAssembly.Memory
  readonly heapBase: () => number
  readonly denseVersion: () => number
  readonly luF64: (a: number, n: number, perm: number) => number
  readonly choleskyF64: (a: number, l: number, n: number) => number
  readonly trisolveF64: (a: number, x: number, n: number, k: number, lower: number, transpose: number, unit: number) => void
}

const VERSION = 4
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
