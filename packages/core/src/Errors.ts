/**
 * Every failure diffect reports, as `Data.TaggedError`s in the Effect error
 * channel. Catch them with `Effect.catchTag("ShapeError", ...)`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tensor } from "@diffect/core"
 * const bad = Tensor.data(Tensor.add(Tensor.ones([2]), Tensor.ones([3])))
 * const msg = bad.pipe(Effect.catchTag("ShapeError", (e) => Effect.succeed(e.message)))
 * ```
 * @module
 */
import * as Data from "effect/Data"

/** Shapes that do not fit together (broadcasting, matmul, reshape, axes...). */
export class ShapeError extends Data.TaggedError("ShapeError")<{ readonly message: string }> {}

/** A dtype an operation does not accept, or two dtypes that do not mix. */
export class DTypeError extends Data.TaggedError("DTypeError")<{ readonly message: string }> {}

/** `grad` (and `valueAndGrad`) of a function whose output is not a scalar. */
export class NonScalarOutputError extends Data.TaggedError("NonScalarOutputError")<{ readonly message: string }> {}

/** `argnums` out of range, negative, duplicated or not an integer. */
export class ArgnumsError extends Data.TaggedError("ArgnumsError")<{ readonly message: string }> {}

/** A `gradVars` entry that is not a Variable. */
export class GradVarsError extends Data.TaggedError("GradVarsError")<{ readonly message: string }> {}

/** `hasAux: true` but the function did not return a two-element array `[out, aux]`. */
export class AuxError extends Data.TaggedError("AuxError")<{ readonly message: string }> {}

/** A Variable write that changes shape or dtype, or another misuse of state. */
export class StateError extends Data.TaggedError("StateError")<{ readonly message: string }> {}

/** A backend failure: WebGL unavailable, context lost, unsupported dtype. */
export class BackendError extends Data.TaggedError("BackendError")<{ readonly message: string }> {}

/**
 * A value was needed where only its shape is known: reading the data of a
 * tensor that is being batched by `vmap` (as JAX's ConcretizationTypeError).
 */
export class ConcretizationError extends Data.TaggedError("ConcretizationError")<{ readonly message: string }> {}

/**
 * A transform used the wrong way: an option of the wrong type (`hasAux:
 * "yes"`), an unknown option, options that are not an object, a "function"
 * to transform that is not a function, `jvp` primals that are not an array.
 */
export class OptionsError extends Data.TaggedError("OptionsError")<{ readonly message: string }> {}

/**
 * A linear-algebra input that the operation cannot take: a matrix that is not
 * square where a square one is needed, or not positive-definite for
 * `Linalg.cholesky`. The message names the operation, the shape and the dtype.
 */
export class LinalgError extends Data.TaggedError("LinalgError")<{ readonly message: string }> {}

/**
 * A control-flow primitive (`scan`, `fori`, `whileLoop`, `cond`) used the
 * wrong way: a body whose carry differs from `init` in structure, shape or
 * dtype, `xs` of different lengths, branches of `cond` returning different
 * structures, or reverse mode through `whileLoop` (whose number of
 * iterations is not known; use `fori` with number bounds or `scan`). The
 * message names both sides.
 */
export class ControlFlowError extends Data.TaggedError("ControlFlowError")<{ readonly message: string }> {}

/** Every error diffect itself can produce. */
export type DiffectError =
  | ShapeError
  | DTypeError
  | NonScalarOutputError
  | ArgnumsError
  | GradVarsError
  | AuxError
  | StateError
  | BackendError
  | ConcretizationError
  | OptionsError
  | LinalgError
  | ControlFlowError

/** The errors a pure tensor op can carry until its result is read. */
export type TensorError = ShapeError | DTypeError | BackendError | ConcretizationError | LinalgError | ControlFlowError
