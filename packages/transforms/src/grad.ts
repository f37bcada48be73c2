/**
 * Reverse-mode transforms of scalar (and summed) outputs: `grad`,
 * `valueAndGrad` and `vectorGrad`, with brainpy's options.
 * @module
 */
import * as Effect from "effect/Effect"
import { Internal, NonScalarOutputError, OptionsError, Pytree, Tensor } from "@diffect/core"
import { type GradOptions, isOptionsObject, type Resolved, resolve } from "./internal/options.js"
import { closeInputs, numbersToTensors, trace, type Traced } from "./internal/trace.js"
import { checkOutputs, collectWrt, formatResult } from "./internal/wrt.js"
import type { Fn, GradResult, Transformed, ValueAndGradResult } from "./types.js"

type Mode = "grad" | "vectorGrad" | "valueAndGrad"

interface Computed {
  readonly g: unknown
  readonly value: unknown
  readonly aux: unknown
  readonly o: Resolved
}

const ones = (t: Tensor.Tensor): Tensor.Tensor => Internal.broadcastToShape(Internal.scalar(1, t.dtype), t.shape)

/** The shared body: trace, pull back ones, settle, commit. */
const run = (mode: Mode, f: Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>, options: GradOptions, args: ReadonlyArray<unknown>) =>
  Effect.gen(function* () {
    const o = yield* resolve(mode, options, args.length)
    let tr: Traced | undefined
    return yield* Effect.gen(function* () {
      tr = yield* trace(mode, f, numbersToTensors(args, o.argnums ?? []), o.argnums ?? [], o.vars, o.hasAux)
      const outs = tr.outLeaves
      if (mode !== "vectorGrad" && (tr.outDef.kind !== "leaf" || outs[0]!.ndim !== 0))
        return yield* Effect.fail(
          new NonScalarOutputError({
            message: `${mode}: output must be a scalar, got ${tr.outDef.kind === "leaf" ? `shape [${outs[0]!.shape.join(", ")}]` : Pytree.describe(tr.outDef)}; use vectorGrad or jacrev${o.hasAux ? "" : " (or hasAux: true for an [output, aux] pair)"}`
          })
        )
      const bad = checkOutputs(mode, outs, o)
      if (bad) return yield* Effect.fail(bad)
      const wrt = yield* collectWrt(mode, tr, o)
      const active = wrt.leaves.filter((_, i) => !wrt.isInt[i])
      const grads = Internal.vjpGraph(outs, outs.map(ones), active)
      let k = 0
      const perLeaf = wrt.leaves.map((t, i) => (wrt.isInt[i] ? Internal.zerosOf(t) : grads[k++]!))
      const [auxLeaves, auxDef] = Pytree.flatten(tr.aux)
      closeInputs(tr)
      // the values written are evaluated with the results (one evaluation: a loop that computes both runs once)
      const writes = [...tr.tx.writes.entries()].map(([v, x]) => [v, Pytree.flatten(x)] as const)
      const all = yield* Internal.settle([...perLeaf, ...outs, ...auxLeaves, ...writes.flatMap(([, [leaves]]) => leaves)])
      let w = perLeaf.length + outs.length + auxLeaves.length
      for (const [v, [leaves, def]] of writes) {
        tr.tx.writes.set(v, Pytree.unflatten(def, all.slice(w, w + leaves.length)))
        w += leaves.length
      }
      const settled = all.slice(0, perLeaf.length + outs.length + auxLeaves.length)
      yield* tr.tx.commit()
      const g = wrt.build(settled.slice(0, perLeaf.length))
      const value = Pytree.unflatten(tr.outDef, settled.slice(perLeaf.length, perLeaf.length + outs.length))
      const aux = Pytree.unflatten(auxDef, settled.slice(perLeaf.length + outs.length))
      return { g, value, aux, o } satisfies Computed
    }).pipe(Effect.onExit(() => Effect.sync(() => closeInputs(tr))))
  })

/**
 * Builds a transform that accepts both `t(f, options)` and the curried
 * `t(options)(f)` (one argument, a plain object). Anything else is `t(f,
 * options)`: an `f` that is not a function, or options that are not an
 * object (`null` is no options), give a function whose calls fail with
 * OptionsError.
 */
export const curried =
  <T extends (f: any, options?: any) => any>(impl: T, name = "transform") =>
  (...args: ReadonlyArray<unknown>): unknown => {
    const make = (f: unknown, o: unknown): unknown =>
      o === undefined || o === null || isOptionsObject(o)
        ? impl(f, o ?? {})
        : (..._args: ReadonlyArray<unknown>) =>
            Effect.fail(new OptionsError({ message: `${name}: options must be an object, got ${Internal.describeValue(o)}` }))
    return args.length === 1 && isOptionsObject(args[0]) ? (f: unknown) => make(f, args[0]) : make(args[0], args[1])
  }

const gradImpl = (f: Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>, options: GradOptions = {}) =>
  (...args: ReadonlyArray<unknown>) => Effect.map(run("grad", f, options, args), (c) => formatResult(c.g, c.value, c.aux, c.o))

const vectorGradImpl = (f: Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>, options: GradOptions = {}) =>
  (...args: ReadonlyArray<unknown>) => Effect.map(run("vectorGrad", f, options, args), (c) => formatResult(c.g, c.value, c.aux, c.o))

const valueAndGradImpl = (f: Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>, options: GradOptions = {}) =>
  (...args: ReadonlyArray<unknown>) =>
    Effect.map(run("valueAndGrad", f, options, args), (c) => (c.o.hasAux ? [[c.value, c.aux], c.g] : [c.value, c.g]))

/**
 * The gradient of a scalar-valued function, with respect to `argnums`
 * (default 0) and/or the Variables in `gradVars`. Returns brainpy's
 * structure (the table in this package's README): `argGrads`, `varGrads` or `[varGrads, argGrads]`, with
 * `value` and `aux` appended by `returnValue` and `hasAux`.
 *
 * @example
 * ```ts
 * const f = (x: Tensor.Tensor) => Tensor.sum(Tensor.square(x))
 * const g = yield* grad(f)(Tensor.make([1, 2, 3])) // [2, 4, 6]
 * const [[gw, gx], loss] = yield* grad(loss, { gradVars: [w], argnums: 0, returnValue: true })(x)
 * ```
 */
export const grad: {
  <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never, const O extends GradOptions = {}>(f: Fn<Args, Ret, E, R>, options?: O): Transformed<Args, GradResult<Args, Ret, O>, E, R>
  <const O extends GradOptions>(options: O): <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never>(f: Fn<Args, Ret, E, R>) => Transformed<Args, GradResult<Args, Ret, O>, E, R>
} = curried(gradImpl, "grad") as never

/**
 * The gradient of the sum of the outputs (brainpy's vector_grad): for an
 * elementwise function, the elementwise derivative. Same options and
 * structure as `grad`.
 * @example
 * ```ts
 * const d = yield* vectorGrad(Tensor.sin)(x) // cos(x)
 * ```
 */
export const vectorGrad: {
  <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never, const O extends GradOptions = {}>(f: Fn<Args, Ret, E, R>, options?: O): Transformed<Args, GradResult<Args, Ret, O>, E, R>
  <const O extends GradOptions>(options: O): <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never>(f: Fn<Args, Ret, E, R>) => Transformed<Args, GradResult<Args, Ret, O>, E, R>
} = curried(vectorGradImpl, "vectorGrad") as never

/**
 * The value and the gradient, in JAX order: `[value, grads]` (with hasAux:
 * `[[value, aux], grads]`). `returnValue` is implied.
 * @example
 * ```ts
 * const [loss, grads] = yield* valueAndGrad(lossFn, { gradVars: params })(batch)
 * ```
 */
export const valueAndGrad: {
  <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never, const O extends GradOptions = {}>(f: Fn<Args, Ret, E, R>, options?: O): Transformed<Args, ValueAndGradResult<Args, Ret, O>, E, R>
  <const O extends GradOptions>(options: O): <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never>(f: Fn<Args, Ret, E, R>) => Transformed<Args, ValueAndGradResult<Args, Ret, O>, E, R>
} = curried(valueAndGradImpl, "valueAndGrad") as never
