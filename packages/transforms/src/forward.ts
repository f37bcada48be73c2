/**
 * `jvp` and `vjp`: the two primitive transforms the grad family is made of,
 * exposed as in JAX.
 * @module
 */
import * as Effect from "effect/Effect"
import { DTypeError, Internal, OptionsError, Pytree, ShapeError, Tensor } from "@diffect/core"
import { closeInputs, type Fn, toTensorTree, trace, type Traced } from "./internal/trace.js"
import type { Gradient } from "./types.js"

const checkTangents = (name: string, primals: ReadonlyArray<Tensor.Tensor>, tangents: ReadonlyArray<Tensor.Tensor>): ShapeError | DTypeError | undefined => {
  if (primals.length !== tangents.length)
    return new ShapeError({ message: `${name}: ${tangents.length} tangent leaves for ${primals.length} primal leaves` })
  for (let i = 0; i < primals.length; i++) {
    const p = primals[i]!, t = tangents[i]!
    if (p.shape.join() !== t.shape.join())
      return new ShapeError({ message: `${name}: tangent ${i} has shape [${t.shape.join(", ")}], expected [${p.shape.join(", ")}] (the primal's)` })
    if (p.dtype !== t.dtype) return new DTypeError({ message: `${name}: tangent ${i} has dtype ${t.dtype}, expected ${p.dtype} (the primal's)` })
  }
  return undefined
}

/**
 * Forward mode: `[f(...primals), J·tangents]`. `primals` and `tangents` are
 * arrays of arguments (pytrees) with equal structure, shapes and dtypes.
 * @example
 * ```ts
 * const [y, dy] = yield* jvp(Tensor.sin, [x], [Tensor.onesLike(x)]) // sin x, cos x
 * ```
 */
export const jvp = <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never>(
  f: Fn<Args, Ret, E, R>,
  primals: Args,
  tangents: Args
) =>
  Effect.gen(function* () {
    let tr: Traced | undefined
    return yield* Effect.gen(function* () {
      for (const [what, xs] of [["primals", primals], ["tangents", tangents]] as const)
        if (!Array.isArray(xs))
          return yield* Effect.fail(new OptionsError({ message: `jvp: ${what} must be an array with one entry per argument of f, got ${Internal.describeValue(xs)}` }))
      if (primals.length !== tangents.length)
        return yield* Effect.fail(new ShapeError({ message: `jvp: ${tangents.length} tangents for ${primals.length} primals (one per argument)` }))
      const tanTree = toTensorTree("jvp", "tangents", tangents)
      if (tanTree instanceof DTypeError) return yield* Effect.fail(tanTree)
      const positions = primals.map((_, i) => i)
      tr = yield* trace("jvp", f as Fn<ReadonlyArray<unknown>, unknown, E, R>, primals, positions, [], false)
      const inputs = tr.args.flatMap((a) => a.inputs)
      const [tanLeaves] = Pytree.flatten(tanTree)
      const bad = checkTangents("jvp", inputs, tanLeaves) ?? tanLeaves.find((t) => t.op === "error")?.error
      if (bad) return yield* Effect.fail(bad)
      const outs = tr.outLeaves
      const tOut = Internal.jvpGraph(outs, new Map(inputs.map((x, i) => [x, tanLeaves[i]!] as const))).map((t, j) => t ?? Internal.zerosOf(outs[j]!))
      closeInputs(tr)
      const settled = yield* Internal.settle([...outs, ...tOut])
      yield* tr.tx.commit()
      return [Pytree.unflatten<Ret>(tr.outDef, settled.slice(0, outs.length)), Pytree.unflatten<Ret>(tr.outDef, settled.slice(outs.length))] as [Ret, Ret]
    }).pipe(Effect.onExit(() => Effect.sync(() => closeInputs(tr))))
  })

/**
 * Reverse mode: `[f(...primals), pullback]`, where `pullback(cotangent)` is
 * an Effect of the gradients of every primal (an array, one entry per
 * primal, each shaped like it). The pullback can be called many times.
 * @example
 * ```ts
 * const [y, pullback] = yield* vjp((a, b) => Tensor.mul(a, b), a, b)
 * const [ga, gb] = yield* pullback(Tensor.onesLike(y)) // b, a
 * ```
 */
export const vjp = <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never>(f: Fn<Args, Ret, E, R>, ...primals: Args) =>
  Effect.gen(function* () {
    let tr: Traced | undefined
    return yield* Effect.gen(function* () {
      const positions = primals.map((_, i) => i)
      tr = yield* trace("vjp", f as Fn<ReadonlyArray<unknown>, unknown, E, R>, primals, positions, [], false)
      const t = tr
      const outs = t.outLeaves
      closeInputs(t)
      const settled = yield* Internal.settle(outs)
      yield* t.tx.commit()
      const inputs = t.args.flatMap((a) => a.inputs)
      const pullback = (cotangent: Ret) =>
        Effect.gen(function* () {
          const ctTree = toTensorTree("vjp pullback", "the cotangent", cotangent)
          if (ctTree instanceof DTypeError) return yield* Effect.fail(ctTree)
          const [cts] = Pytree.flatten(ctTree)
          const bad = checkTangents("vjp pullback", outs, cts) ?? cts.find((c) => c.op === "error")?.error
          if (bad) return yield* Effect.fail(bad)
          const grads = yield* Internal.settle(Internal.vjpGraph(outs, cts, inputs))
          let k = 0
          return t.args.map((a) => {
            const g = Pytree.unflatten(a.def, grads.slice(k, k + a.inputs.length))
            k += a.inputs.length
            return g
          }) as { -readonly [K in keyof Args]: Gradient<Args[K]> }
        })
      return [Pytree.unflatten<Ret>(t.outDef, settled), pullback] as const
    }).pipe(Effect.onExit(() => Effect.sync(() => closeInputs(tr))))
  })

/**
 * The identity whose derivative is zero (for every transform and order).
 * @example `Tensor.sum(Tensor.mul(x, stopGradient(x)))` has gradient x
 */
export const stopGradient = <A>(x: A): A => Pytree.map(x, (t) => Internal.bind("stopGradient", [t], {})) as A
