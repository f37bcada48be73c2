/**
 * The Backend service: buffer allocation and reading, and one kernel per
 * primitive (nothing higher level). Tensors are evaluated on the Backend of
 * the Effect that reads them; the default is the CPU backend, so providing
 * `CpuBackend.layer` or `WebGLBackend.layer()` is the only change a program
 * needs to move.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Backend, CpuBackend, Tensor } from "@diffect/core"
 * const program = Effect.gen(function* () {
 *   const backend = yield* Backend
 *   return [backend.name, yield* Tensor.toArray(Tensor.add(1, Tensor.arange(3)))]
 * })
 * Effect.runPromise(program.pipe(Effect.provide(CpuBackend.layer)))
 * ```
 * @module
 */
import * as Context from "effect/Context"
import type { DType, HostArray } from "./DType.js"
import type { Aval } from "./internal/bind.js"
import { cpuBackend } from "./internal/cpu/backend.js"
import type { Prim, PrimParams } from "./internal/primitives.js"

export type { Aval } from "./internal/bind.js"
export type { Prim, PrimParams } from "./internal/primitives.js"
export { prims } from "./internal/primitives.js"

/** A buffer argument of a kernel: the backend's handle with its shape and dtype. */
export interface KernelArg {
  readonly handle: unknown
  readonly shape: ReadonlyArray<number>
  readonly dtype: DType
  /**
   * Only for `viewKernels`: the operand is a strided view of `handle`, its
   * element `idx` at `handle[offset + Σ idx[d] · strides[d]]` (in elements).
   * Absent: `handle` holds the operand itself, row-major.
   */
  readonly strides?: ReadonlyArray<number> | undefined
  readonly offset?: number | undefined
}

/**
 * A kernel: computes one primitive application and returns a new buffer
 * handle for `out`. Kernels never modify their arguments (buffers are
 * immutable, so a kernel may return an argument's handle unchanged, as
 * `reshape` does on the CPU). A failure is thrown as a `BackendError`.
 * A kernel may also return a Promise of the handle (a backend that must
 * first read its operands back asynchronously, as WebGPU's host-computed
 * kernels do); the evaluation waits for it without blocking, and a
 * rejection with a `BackendError` is the evaluation's typed failure.
 */
export type Kernel<P extends Prim> = (args: ReadonlyArray<KernelArg>, params: PrimParams[P], out: Aval) => unknown

/**
 * One operation of a fused elementwise program (see `BackendShape.fusion`):
 * its operands index the kernel's arguments first, then the results of the
 * operations before it.
 */
export interface FusedOp {
  readonly prim: Prim
  readonly operands: ReadonlyArray<number>
  readonly dtype: DType
}

/** Elementwise fusion: a backend that can run several elementwise primitives in one pass. */
export interface Fusion {
  /** Whether an application of `prim` to operands of dtypes `ins`, giving `dtype`, may be fused. */
  readonly canFuse: (prim: Prim, dtype: DType, ins: ReadonlyArray<DType>) => boolean
  /**
   * Computes the last operation of `program` (every operation has the
   * output's shape) from `args`, which may be strided views; returns a new
   * buffer, as a kernel does.
   */
  readonly kernel: (program: ReadonlyArray<FusedOp>, args: ReadonlyArray<KernelArg>, out: Aval) => unknown
}

/** What every backend implements. */
export interface BackendShape {
  /** A short name ("cpu", "webgl"). */
  readonly name: string
  /** Whether buffers of this dtype can be made. */
  readonly supports: (dtype: DType) => boolean
  /** Copies host data (complex64 interleaved) into a new buffer. */
  readonly upload: (host: HostArray, aval: Aval) => unknown
  /**
   * Reads a buffer back to the host, synchronously. A backend that can only
   * read asynchronously (WebGPU maps buffers with `mapAsync`) also gives
   * `downloadAsync`, and may throw a `BackendError` here for buffers that
   * live on its device.
   */
  readonly download: (handle: unknown, aval: Aval) => HostArray
  /**
   * Optional: reads a buffer back to the host asynchronously. Where present,
   * every read (`Tensor.data`, `toArray`, `item`, ...) goes through it, so a
   * read never blocks the page; it stays an Effect on top. A rejection with
   * a `BackendError` is that read's typed failure.
   */
  readonly downloadAsync?: (handle: unknown, aval: Aval) => Promise<HostArray>
  /**
   * Optional: a second handle to the values of `handle` (both are disposed,
   * each once), for backends whose buffers cannot be copied through the
   * host synchronously. Without it the evaluator copies through `download`.
   */
  readonly share?: (handle: unknown, aval: Aval) => unknown
  /** Releases a buffer (called once per buffer; a no-op where the GC suffices). */
  readonly dispose: (handle: unknown) => void
  /** One kernel per primitive: a backend without one does not compile. */
  readonly kernels: { readonly [P in Prim]: Kernel<P> }
  /**
   * Optional kernels that also accept strided operands (`KernelArg.strides`):
   * when an operand is a chain of `transpose` / `broadcast` / `slice` /
   * `reshape` nodes not evaluated yet, the evaluator passes a view of the
   * node below the chain instead of materializing it (a transposed matrix
   * fed to `matmul`, a bias broadcast to `add`). Used in place of `kernels`
   * for those primitives.
   */
  readonly viewKernels?: { readonly [P in Prim]?: Kernel<P> }
  /**
   * Optional elementwise fusion: the evaluator groups an elementwise node
   * with the elementwise nodes of the same shape that only it uses and that
   * are not read otherwise, and runs the group in one call (one pass, no
   * intermediate buffers). Results must equal those of the separate kernels.
   */
  readonly fusion?: Fusion
  /**
   * Optional: buffers are host memory that the garbage collector reclaims
   * (typed arrays), and `dispose` does nothing; the evaluator then registers
   * no finalizer for them (the CPU backend).
   */
  readonly hostBuffers?: boolean
  /** The number of live buffers, for leak tests (where the backend counts them). */
  readonly liveBuffers?: () => number
}

/**
 * The current backend. A `Context.Reference` whose default is the CPU
 * backend: provide a Layer (`CpuBackend.layer`, `WebGLBackend.layer()`) to
 * choose another.
 */
export class Backend extends Context.Reference<BackendShape>("diffect/Backend", {
  defaultValue: () => cpuBackend
}) {}
