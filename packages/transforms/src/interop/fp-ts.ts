/**
 * fp-ts interop (`@diffect/transforms/fp-ts`): diffect's transforms as
 * functions returning fp-ts `TaskEither`s, and conversions between Effects
 * and `TaskEither` / `Either`, for code written as fp-ts pipelines.
 *
 * Typed failures land on the `Left`, with their types: `DiffectError` for
 * diffect's own (`ShapeError`, `NonScalarOutputError`...) and `E` for the
 * function's. Defects (bugs, not failures) are not turned into values: the
 * task's promise rejects, as `Effect.runPromise` does.
 *
 * The function given to a transform may return a plain value, an `Either`
 * (a `Left` becomes a typed failure of the transform) or an Effect without
 * requirements. Programs run on the CPU backend unless the `layer` option
 * (of `runTE`, `runEither`, `toTaskEither` and of every transform's form)
 * says otherwise; the errors of building that layer join the `Left`'s type.
 *
 * `fp-ts` is an optional peer dependency of `@diffect/transforms`: only this
 * entry point imports it.
 *
 * @example
 * ```ts
 * import { pipe } from "fp-ts/lib/function.js"
 * import * as TE from "fp-ts/lib/TaskEither.js"
 * import { Tensor } from "@diffect/core"
 * import { gradTE, runTE } from "@diffect/transforms/fp-ts"
 *
 * const loss = (w: Tensor.Tensor) => Tensor.sum(Tensor.square(w))
 * const program = pipe(
 *   gradTE(loss)(Tensor.make([1, 2, 3])),
 *   TE.chainW((g) => runTE(Tensor.toArray(g)))
 * )
 * const result = await program() // right([2, 4, 6])
 * ```
 * @module @diffect/transforms/fp-ts
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { DiffectError } from "@diffect/core"
import * as Either from "fp-ts/lib/Either.js"
import type { TaskEither } from "fp-ts/lib/TaskEither.js"
import { grad, valueAndGrad, vectorGrad } from "../grad.js"
import { hessian, jacfwd, jacrev } from "../jacobian.js"
import { type GradOptions, isOptionsObject } from "../internal/options.js"
import type { GradResult, JacobianResult, ValueAndGradResult } from "../types.js"
import { vmap, type VmapOptions } from "../vmap.js"

// ------------------------------------------------------------------ running

/**
 * Options of `runTE` / `runEither` / `toTaskEither`, and the `layer` option
 * of every transform's TaskEither form.
 */
export interface RunOptions<LE = never, ROut = never> {
  /**
   * The backend (or other services) to run with; default: the CPU backend.
   * A failure to build it (`BackendError` where WebGL2 is missing, or the
   * layer's own error type `LE`) is a `Left`. The layer is built when a task
   * given it first runs and is kept for every later task given the same
   * layer object, so the tensors one task returns stay readable by the next
   * (GPU buffers live on the backend that made them); `releaseLayer(layer)`
   * frees it.
   */
  readonly layer?: Layer.Layer<ROut, LE, never> | undefined
}

/** The layers built so far, each kept until `releaseLayer` (or until the layer object is garbage). */
const runtimes = new WeakMap<Layer.Layer<unknown, unknown, never>, ManagedRuntime.ManagedRuntime<unknown, unknown>>()

const runtimeOf = <ROut, LE>(layer: Layer.Layer<ROut, LE, never>): ManagedRuntime.ManagedRuntime<ROut, LE> => {
  const key = layer as unknown as Layer.Layer<unknown, unknown, never>
  let runtime = runtimes.get(key)
  if (runtime === undefined) {
    runtime = ManagedRuntime.make(key)
    runtimes.set(key, runtime)
  }
  return runtime as ManagedRuntime.ManagedRuntime<ROut, LE>
}

/** `effect` with the services of `options.layer` (built once per layer object). */
const withLayer = <A, E, LE, ROut>(effect: Effect.Effect<A, E, ROut>, options: RunOptions<LE, ROut>): Effect.Effect<A, E | LE> =>
  options.layer === undefined
    ? (effect as Effect.Effect<A, E>)
    : Effect.flatMap(runtimeOf(options.layer).contextEffect, (context) => Effect.provideContext(effect, context))

const toEither = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Either.Either<E, A>> =>
  Effect.match(effect, { onFailure: (e): Either.Either<E, A> => Either.left(e), onSuccess: (a): Either.Either<E, A> => Either.right(a) })

/**
 * Runs an Effect as a `TaskEither`: each call of the task runs it again.
 * Typed failures are `Left`s, those of building `options.layer` too (their
 * type joins the `Left`'s); defects reject the promise.
 * @example
 * ```ts
 * const read: TE.TaskEither<TensorError, Nested> = runTE(Tensor.toArray(x))
 * const gpu = WebGLBackend.layer()
 * const onGpu: TE.TaskEither<TensorError | BackendError, Nested> = runTE(Tensor.toArray(x), { layer: gpu })
 * ```
 */
export const runTE = <A, E, LE = never, ROut = never>(
  effect: Effect.Effect<A, E, NoInfer<ROut>>,
  options: RunOptions<LE, ROut> = {}
): TaskEither<E | LE, A> =>
  () => Effect.runPromise(toEither(withLayer(effect, options)))

/**
 * Runs an Effect synchronously as an `Either` (the CPU backend is
 * synchronous). Typed failures are `Left`s (those of building
 * `options.layer` too); a defect, or an effect that cannot complete
 * synchronously, throws.
 * @example
 * ```ts
 * const value: E.Either<TensorError, number> = runEither(Tensor.item(Tensor.sum(x)))
 * ```
 */
export const runEither = <A, E, LE = never, ROut = never>(
  effect: Effect.Effect<A, E, NoInfer<ROut>>,
  options: RunOptions<LE, ROut> = {}
): Either.Either<E | LE, A> =>
  Effect.runSync(toEither(withLayer(effect, options)))

/**
 * Releases what `layer` holds (a WebGL backend's textures and context) once
 * no task uses it: the tensors its tasks returned can no longer be read on
 * it. A later task given the same layer builds it again.
 * @example `await releaseLayer(gpu)`
 */
export const releaseLayer = async <ROut, LE>(layer: Layer.Layer<ROut, LE, never>): Promise<void> => {
  const key = layer as unknown as Layer.Layer<unknown, unknown, never>
  const runtime = runtimes.get(key)
  if (runtime === undefined) return
  runtimes.delete(key)
  await runtime.dispose()
}

/**
 * An fp-ts `TaskEither` as an Effect (a `Left` becomes a typed failure), to
 * use fp-ts code inside an Effect program. A rejected promise is a defect.
 * @example `const data = yield* fromTE(loadDataset)`
 */
export const fromTE = <E, A>(task: TaskEither<E, A>): Effect.Effect<A, E> =>
  Effect.flatMap(
    Effect.promise(() => task()),
    (e) => (Either.isLeft(e) ? Effect.fail(e.left) : Effect.succeed(e.right))
  )

/**
 * An fp-ts `Either` as an Effect (a `Left` becomes a typed failure).
 * @example `const x = yield* fromEither(E.right(Tensor.ones([3])))`
 */
export const fromEither = <E, A>(either: Either.Either<E, A>): Effect.Effect<A, E> =>
  Either.isLeft(either) ? Effect.fail(either.left) : Effect.succeed(either.right)

/**
 * Turns any Effect-returning function (a transformed function, say) into one
 * returning a `TaskEither`.
 * @example
 * ```ts
 * const perExample = toTaskEither(vmap(grad(loss), { inAxes: [null, 0] }))
 * ```
 */
export const toTaskEither =
  <Args extends ReadonlyArray<unknown>, A, E, LE = never, ROut = never>(
    f: (...args: Args) => Effect.Effect<A, E, NoInfer<ROut>>,
    options: RunOptions<LE, ROut> = {}
  ) =>
  (...args: Args): TaskEither<E | LE, A> =>
    runTE(Effect.suspend(() => f(...args)), options)

// ------------------------------------------------------------------ transforms

/**
 * A function the fp-ts transforms accept: it returns a plain value, an fp-ts
 * `Either` (a `Left` is a typed failure `E`), or an Effect with no requirements.
 */
export type FpFn<Args extends ReadonlyArray<unknown>, Ret, E> = (...args: Args) => Effect.Effect<Ret, E> | Either.Either<E, Ret> | Ret

const isEither = (u: unknown): u is Either.Either<unknown, unknown> =>
  typeof u === "object" && u !== null && (("_tag" in u && u._tag === "Left" && "left" in u) || ("_tag" in u && u._tag === "Right" && "right" in u))

/** An `FpFn` as the Effect-returning function the transforms take. */
const lift =
  <Args extends ReadonlyArray<unknown>, Ret, E>(f: FpFn<Args, Ret, E>) =>
  (...args: Args): Effect.Effect<Ret, E> =>
    Effect.suspend(() => {
      const r = f(...args)
      if (Effect.isEffect(r)) return r as Effect.Effect<Ret, E>
      if (isEither(r)) return fromEither(r as Either.Either<E, Ret>)
      return Effect.succeed(r as Ret)
    })

/** What a transform's TaskEither fails with: diffect's errors and the function's own. */
export type TEError<E> = DiffectError | E

/**
 * The options of a transform's TaskEither form: the transform's own, and
 * `layer`, the backend to run on (its build errors `LE` join the `Left`).
 */
export type TEOptions<O, LE = never> = O & RunOptions<LE>

/** Splits `layer` off the transform's options (anything else goes to the transform, which checks it). */
const splitLayer = <O>(options: TEOptions<O, any> | undefined): readonly [O | undefined, RunOptions<any>] => {
  if (options === undefined || !isOptionsObject(options) || !("layer" in options)) return [options, {}]
  const { layer, ...rest } = options
  return [rest as O, { layer }]
}

/**
 * `grad` returning a `TaskEither`: the same options (plus `layer`, the
 * backend to run on) and the same return structure as `grad`.
 * @example
 * ```ts
 * const g = await gradTE((w: Tensor.Tensor) => Tensor.sum(Tensor.square(w)))(w)() // E.right(2w)
 * ```
 */
export const gradTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends GradOptions = {}, LE = never>(f: FpFn<Args, Ret, E>, options?: TEOptions<O, LE>) =>
  (...args: Args): TaskEither<TEError<E> | LE, GradResult<Args, Ret, O>> => {
    const [transformOptions, run] = splitLayer(options)
    return runTE(grad(lift(f), transformOptions)(...args) as Effect.Effect<GradResult<Args, Ret, O>, TEError<E>>, run)
  }

/**
 * `valueAndGrad` returning a `TaskEither` of `[value, grads]`.
 * @example `const [loss, g] = ...await valueAndGradTE(loss)(w)()` (in a pipe: `TE.map(([loss, g]) => ...)`)
 */
export const valueAndGradTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends GradOptions = {}, LE = never>(f: FpFn<Args, Ret, E>, options?: TEOptions<O, LE>) =>
  (...args: Args): TaskEither<TEError<E> | LE, ValueAndGradResult<Args, Ret, O>> => {
    const [transformOptions, run] = splitLayer(options)
    return runTE(valueAndGrad(lift(f), transformOptions)(...args) as Effect.Effect<ValueAndGradResult<Args, Ret, O>, TEError<E>>, run)
  }

/**
 * `vectorGrad` returning a `TaskEither`.
 * @example `vectorGradTE(Tensor.sin)(x)` is a task of cos(x)
 */
export const vectorGradTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends GradOptions = {}, LE = never>(f: FpFn<Args, Ret, E>, options?: TEOptions<O, LE>) =>
  (...args: Args): TaskEither<TEError<E> | LE, GradResult<Args, Ret, O>> => {
    const [transformOptions, run] = splitLayer(options)
    return runTE(vectorGrad(lift(f), transformOptions)(...args) as Effect.Effect<GradResult<Args, Ret, O>, TEError<E>>, run)
  }

/**
 * `jacrev` (= `jacobian`) returning a `TaskEither`.
 * @example `jacrevTE((x: Tensor.Tensor) => Tensor.tanh(Tensor.matmul(A, x)))(x)`
 */
export const jacrevTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends GradOptions = {}, LE = never>(f: FpFn<Args, Ret, E>, options?: TEOptions<O, LE>) =>
  (...args: Args): TaskEither<TEError<E> | LE, JacobianResult<Args, Ret, O>> => {
    const [transformOptions, run] = splitLayer(options)
    return runTE(jacrev(lift(f), transformOptions)(...args) as Effect.Effect<JacobianResult<Args, Ret, O>, TEError<E>>, run)
  }

/**
 * `jacfwd` returning a `TaskEither`.
 * @example `jacfwdTE((x: Tensor.Tensor) => Tensor.tanh(Tensor.matmul(A, x)))(x)`
 */
export const jacfwdTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends GradOptions = {}, LE = never>(f: FpFn<Args, Ret, E>, options?: TEOptions<O, LE>) =>
  (...args: Args): TaskEither<TEError<E> | LE, JacobianResult<Args, Ret, O>> => {
    const [transformOptions, run] = splitLayer(options)
    return runTE(jacfwd(lift(f), transformOptions)(...args) as Effect.Effect<JacobianResult<Args, Ret, O>, TEError<E>>, run)
  }

/**
 * `hessian` returning a `TaskEither` (no `returnValue`, as `hessian`).
 * @example `hessianTE((w: Tensor.Tensor) => Tensor.sum(Tensor.exp(w)))(w)`
 */
export const hessianTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends Omit<GradOptions, "returnValue"> = {}, LE = never>(f: FpFn<Args, Ret, E>, options?: TEOptions<O, LE>) =>
  (...args: Args): TaskEither<TEError<E> | LE, JacobianResult<Args, Ret, Omit<O, "returnValue">>> => {
    const [transformOptions, run] = splitLayer(options)
    return runTE(hessian(lift(f), transformOptions)(...args) as Effect.Effect<JacobianResult<Args, Ret, Omit<O, "returnValue">>, TEError<E>>, run)
  }

/**
 * `vmap` returning a `TaskEither`.
 * @example `vmapTE((x: Tensor.Tensor) => Tensor.sum(x))(xs)` is a task of the row sums
 */
export const vmapTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, LE = never>(f: FpFn<Args, Ret, E>, options?: TEOptions<VmapOptions, LE>) =>
  (...args: Args): TaskEither<TEError<E> | LE, Ret> => {
    const [transformOptions, run] = splitLayer(options)
    return runTE(vmap(lift(f), transformOptions)(...args), run)
  }
