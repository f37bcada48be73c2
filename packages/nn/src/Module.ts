/**
 * Collections of parameters, and the training flag.
 *
 * A model is plain data: objects and arrays whose leaves are Variables
 * (`TrainVar`s for what is trained). `trainVars` collects the TrainVars of any
 * such tree into a flat record keyed by path, as brainpy's `train_vars()`:
 * what `grad`'s `gradVars`, the optimizers and `Codec.saveVariables` take.
 *
 * @example
 * ```ts
 * const model = yield* Layer.sequential(yield* Layer.linear(key, 2, 16), Layer.fn(Tensor.tanh), yield* Layer.linear(key, 16, 1))
 * const params = Module.trainVars(model.params) // { "0.b": ..., "0.w": ..., "2.b": ..., "2.w": ... }
 * ```
 * @module
 */
import { Context, Effect } from "effect"
import { Variable } from "@diffect/core"

const collect = (tree: unknown, keep: (v: Variable.Variable<any>) => boolean): Record<string, Variable.Variable<any>> => {
  const out: Record<string, Variable.Variable<any>> = {}
  const seen = new Set<unknown>()
  const go = (x: unknown, path: string): void => {
    if (Variable.isVariable(x)) {
      if (!seen.has(x) && keep(x)) out[path] = x
      seen.add(x)
      return
    }
    if (typeof x !== "object" || x === null || seen.has(x)) return
    const proto = Object.getPrototypeOf(x)
    if (!Array.isArray(x) && proto !== Object.prototype && proto !== null) return // only arrays and plain objects
    seen.add(x)
    const join = (k: string) => (path === "" ? k : `${path}.${k}`)
    if (Array.isArray(x)) x.forEach((item, i) => go(item, join(String(i))))
    else for (const k of Object.keys(x)) go((x as Record<string, unknown>)[k], join(k))
  }
  go(tree, "")
  return out
}

/**
 * Every TrainVar in a nested object/array, in a flat record keyed by path
 * (`"0.w"`, `"encoder.b"`; a lone TrainVar is keyed `""`). A Variable
 * reached twice (shared weights) appears once, at its first path.
 * Non-trainable Variables, functions and other values are skipped.
 * @example `const opt = yield* Optim.adam(Module.trainVars(model.params))`
 */
export const trainVars = (tree: unknown): Record<string, Variable.Variable<any>> => collect(tree, (v) => v.trainable)

/**
 * Every Variable (trainable or not: Random keys, counters, buffers) in a
 * nested object/array, keyed by path as {@link trainVars}: a whole model's
 * state for `Codec.saveVariables`.
 * @example `yield* Codec.saveVariables({ ...Module.variables(model), ...opt.state })`
 */
export const variables = (tree: unknown): Record<string, Variable.Variable<any>> => collect(tree, () => true)

/**
 * Whether layers run in training mode (dropout active). A fiber-local
 * reference, false unless provided: evaluation is deterministic by default;
 * `Module.training(effect)` (and `Train.loop`) turn it on.
 * @example `const on = yield* Module.Training`
 */
export class Training extends Context.Reference<boolean>("@diffect/nn/Training", { defaultValue: () => false }) {}

/**
 * Runs an effect in training mode (dropout on).
 * @example `const loss = yield* Module.training(Optim.minimize(opt, lossFn))`
 */
export const training = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.provideService(effect, Training, true)

/**
 * Runs an effect in evaluation mode (dropout off), also inside `training`.
 * @example `const logits = yield* Module.evaluation(model.apply(x))`
 */
export const evaluation = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.provideService(effect, Training, false)
