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
 * requirements. Programs run on the CPU backend unless `options.layer` of
 * `runTE` says otherwise.
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
import { Effect, type Layer } from "effect"
import type { DiffectError } from "@diffect/core"
import * as Either from "fp-ts/lib/Either.js"
import type { TaskEither } from "fp-ts/lib/TaskEither.js"
import { grad, valueAndGrad, vectorGrad } from "../grad.js"
import { hessian, jacfwd, jacrev } from "../jacobian.js"
import type { GradOptions } from "../internal/options.js"
import type { GradResult, JacobianResult, ValueAndGradResult } from "../types.js"
import { vmap, type VmapOptions } from "../vmap.js"

// ------------------------------------------------------------------ running

/** Options of `runTE` / `runEither`. */
export interface RunOptions {
  /** The backend (or other services) to run with; default: the CPU backend. */
  readonly layer?: Layer.Layer<never> | undefined
}

const withLayer = <A, E>(effect: Effect.Effect<A, E>, options: RunOptions): Effect.Effect<A, E> =>
  options.layer === undefined ? effect : Effect.provide(effect, options.layer)

const toEither = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Either.Either<E, A>> =>
  Effect.match(effect, { onFailure: (e): Either.Either<E, A> => Either.left(e), onSuccess: (a): Either.Either<E, A> => Either.right(a) })

/**
 * Runs an Effect as a `TaskEither`: each call of the task runs it again.
 * Typed failures are `Left`s; defects reject the promise.
 * @example
 * ```ts
 * const read: TE.TaskEither<TensorError, Nested> = runTE(Tensor.toArray(x))
 * ```
 */
export const runTE = <A, E>(effect: Effect.Effect<A, E>, options: RunOptions = {}): TaskEither<E, A> =>
  () => Effect.runPromise(toEither(withLayer(effect, options)))

/**
 * Runs an Effect synchronously as an `Either` (the CPU backend is
 * synchronous). Typed failures are `Left`s; a defect, or an effect that
 * cannot complete synchronously, throws.
 * @example
 * ```ts
 * const value: E.Either<TensorError, number> = runEither(Tensor.item(Tensor.sum(x)))
 * ```
 */
export const runEither = <A, E>(effect: Effect.Effect<A, E>, options: RunOptions = {}): Either.Either<E, A> =>
  Effect.runSync(toEither(withLayer(effect, options)))

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
  <Args extends ReadonlyArray<unknown>, A, E>(f: (...args: Args) => Effect.Effect<A, E>, options: RunOptions = {}) =>
  (...args: Args): TaskEither<E, A> =>
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
 * `grad` returning a `TaskEither`: same options and return structure (see
 * SPEC.md's table).
 * @example
 * ```ts
 * const g = await gradTE((w: Tensor.Tensor) => Tensor.sum(Tensor.square(w)))(w)() // E.right(2w)
 * ```
 */
export const gradTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends GradOptions = {}>(f: FpFn<Args, Ret, E>, options?: O) =>
  (...args: Args): TaskEither<TEError<E>, GradResult<Args, Ret, O>> =>
    runTE(grad(lift(f), options)(...args) as Effect.Effect<GradResult<Args, Ret, O>, TEError<E>>)

/**
 * `valueAndGrad` returning a `TaskEither` of `[value, grads]`.
 * @example `const [loss, g] = ...await valueAndGradTE(loss)(w)()` (in a pipe: `TE.map(([loss, g]) => ...)`)
 */
export const valueAndGradTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends GradOptions = {}>(f: FpFn<Args, Ret, E>, options?: O) =>
  (...args: Args): TaskEither<TEError<E>, ValueAndGradResult<Args, Ret, O>> =>
    runTE(valueAndGrad(lift(f), options)(...args) as Effect.Effect<ValueAndGradResult<Args, Ret, O>, TEError<E>>)

/**
 * `vectorGrad` returning a `TaskEither`.
 * @example `vectorGradTE(Tensor.sin)(x)` is a task of cos(x)
 */
export const vectorGradTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends GradOptions = {}>(f: FpFn<Args, Ret, E>, options?: O) =>
  (...args: Args): TaskEither<TEError<E>, GradResult<Args, Ret, O>> =>
    runTE(vectorGrad(lift(f), options)(...args) as Effect.Effect<GradResult<Args, Ret, O>, TEError<E>>)

/**
 * `jacrev` (= `jacobian`) returning a `TaskEither`.
 * @example `jacrevTE((x: Tensor.Tensor) => Tensor.tanh(Tensor.matmul(A, x)))(x)`
 */
export const jacrevTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends GradOptions = {}>(f: FpFn<Args, Ret, E>, options?: O) =>
  (...args: Args): TaskEither<TEError<E>, JacobianResult<Args, Ret, O>> =>
    runTE(jacrev(lift(f), options)(...args) as Effect.Effect<JacobianResult<Args, Ret, O>, TEError<E>>)

/**
 * `jacfwd` returning a `TaskEither`.
 * @example `jacfwdTE((x: Tensor.Tensor) => Tensor.tanh(Tensor.matmul(A, x)))(x)`
 */
export const jacfwdTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends GradOptions = {}>(f: FpFn<Args, Ret, E>, options?: O) =>
  (...args: Args): TaskEither<TEError<E>, JacobianResult<Args, Ret, O>> =>
    runTE(jacfwd(lift(f), options)(...args) as Effect.Effect<JacobianResult<Args, Ret, O>, TEError<E>>)

/**
 * `hessian` returning a `TaskEither` (no `returnValue`, as `hessian`).
 * @example `hessianTE((w: Tensor.Tensor) => Tensor.sum(Tensor.exp(w)))(w)`
 */
export const hessianTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, const O extends Omit<GradOptions, "returnValue"> = {}>(f: FpFn<Args, Ret, E>, options?: O) =>
  (...args: Args): TaskEither<TEError<E>, JacobianResult<Args, Ret, Omit<O, "returnValue">>> =>
    runTE(hessian(lift(f), options)(...args) as Effect.Effect<JacobianResult<Args, Ret, Omit<O, "returnValue">>, TEError<E>>)

/**
 * `vmap` returning a `TaskEither`.
 * @example `vmapTE((x: Tensor.Tensor) => Tensor.sum(x))(xs)` is a task of the row sums
 */
export const vmapTE =
  <Args extends ReadonlyArray<unknown>, Ret, E = never>(f: FpFn<Args, Ret, E>, options?: VmapOptions) =>
  (...args: Args): TaskEither<TEError<E>, Ret> =>
    runTE(vmap(lift(f), options)(...args))
