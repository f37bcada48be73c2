/**
 * Trainable variables: Variables marked `trainable`, the ones an optimizer
 * updates. `TrainVar.make(init)` is `Variable.make(init, { trainable: true })`.
 *
 * @example
 * ```ts
 * const w = yield* TrainVar.make(Tensor.zeros([2, 2]), { name: "w" })
 * ```
 * @module
 */
import type * as Effect from "effect/Effect"
import type { StateError, TensorError } from "./Errors.js"
import * as Variable from "./Variable.js"

/** Creates a trainable variable. */
export const make = <A>(init: A, options: { readonly name?: string | undefined } = {}): Effect.Effect<Variable.Variable<A>, TensorError | StateError> =>
  typeof options === "object" && options !== null && !Array.isArray(options)
    ? Variable.make(init, { ...options, trainable: true })
    : Variable.make(init, options as never)

/** Whether a variable is trainable. */
export const is = (v: Variable.Variable<unknown>): boolean => v.trainable
