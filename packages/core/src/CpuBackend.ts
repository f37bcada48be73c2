/**
 * The CPU backend as a Layer: the reference implementation of every
 * primitive on typed arrays (float32, float64, int32, bool, complex64).
 *
 * Large float32 matrix products (and convolutions, which are products) and
 * the float32 `sin`, `cos` and `exp` kernels are split over a pool of
 * worker threads sharing the WebAssembly memory: node:worker_threads in
 * Node, Web Workers in a cross-origin-isolated page (elsewhere in a browser
 * the kernels run on the calling thread). The results are the same bits for
 * any number of threads.
 *
 * @example
 * ```ts
 * Effect.runPromise(program.pipe(Effect.provide(CpuBackend.layer)))
 * // two threads, shut down when the program's scope closes
 * Effect.runPromise(program.pipe(Effect.provide(CpuBackend.layerWith({ threads: 2 }))))
 * ```
 * @module
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Backend, type BackendShape } from "./Backend.js"
import { OptionsError } from "./Errors.js"
import { cpuBackend, makeCpuBackend } from "./internal/cpu/backend.js"
import { coreCount, Pool } from "./internal/cpu/threads.js"
import { describeValue } from "./internal/guard.js"

/** The CPU backend value (its worker pool: one thread per core, started on first use, never keeping the process alive). */
export const backend: BackendShape = cpuBackend

/**
 * The Layer providing the CPU backend with the default worker pool: one
 * thread per core, started by the first kernel large enough to split. Its
 * workers sleep when idle and never keep a process alive; they live as
 * long as the process. Use {@link layerWith} to choose the number of
 * threads or to shut the workers down with a Scope.
 */
export const layer: Layer.Layer<never> = Layer.succeed(Backend, cpuBackend)

/** Options of {@link layerWith}. */
export interface Options {
  /**
   * Threads in all, the calling one included (a positive integer; default:
   * the number of cores). `1` runs every kernel on the calling thread.
   */
  readonly threads?: number | undefined
}

/** More threads than this is an OptionsError (a likely mistake, not a machine). */
const MAX_THREADS = 256

const checkOptions = (options: unknown): OptionsError | number => {
  const op = "CpuBackend.layerWith"
  if (options === null || typeof options !== "object" || Array.isArray(options))
    return new OptionsError({ message: `${op}: options must be an object { threads? }, got ${describeValue(options)}` })
  for (const key of Object.keys(options))
    if (key !== "threads") return new OptionsError({ message: `${op}: unknown option "${key}" (expected threads)` })
  const threads = (options as Options).threads
  if (threads === undefined) return coreCount()
  if (typeof threads !== "number" || !Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)
    return new OptionsError({ message: `${op}: threads must be a positive integer (at most ${MAX_THREADS}), got ${describeValue(threads)}` })
  return threads
}

/**
 * The CPU backend with its own worker pool of `options.threads` threads
 * (default: one per core). The workers start with the first kernel large
 * enough to split and are terminated when the Layer's Scope closes. A
 * thread count that is not a positive integer is an `OptionsError`; a
 * worker that dies makes the next kernel fail with a `BackendError`, and the
 * pool restarts for the one after.
 *
 * Starting a worker takes a few milliseconds: a program run many times
 * should build the layer once (`Layer.buildWithScope`, a `ManagedRuntime`)
 * rather than provide a new one to every run, or use {@link layer}, whose
 * pool lives with the process.
 *
 * @example
 * ```ts
 * const program = Tensor.data(Tensor.matmul(Tensor.ones([512, 512]), Tensor.ones([512, 512])))
 * Effect.runPromise(program.pipe(Effect.provide(CpuBackend.layerWith({ threads: 2 }))))
 * ```
 */
export const layerWith = (options: Options = {}): Layer.Layer<never, OptionsError> =>
  Layer.effect(
    Backend,
    Effect.gen(function* () {
      const threads = checkOptions(options)
      if (typeof threads !== "number") return yield* Effect.fail(threads)
      const pool = yield* Effect.acquireRelease(
        Effect.sync(() => new Pool(threads)),
        (p) => Effect.sync(() => p.close())
      )
      return makeCpuBackend(pool)
    })
  )
