/**
 * Jacobians: `jacrev` (reverse mode, one batched pullback of the output
 * basis), `jacfwd` (forward mode, one batched pushforward of the input
 * basis) and `hessian` (`jacfwd` of `jacrev`). The basis is batched through
 * the vmap interpreter, so each jacobian is one pass, not a loop.
 * @module
 */
import * as Effect from "effect/Effect"
import { Internal, Pytree, Tensor } from "@diffect/core"
import { curried } from "./grad.js"
import { basisBlock, blocks, moveLeadingToEnd, takeRows } from "./internal/basis.js"
import { type GradOptions, resolve } from "./internal/options.js"
import { closeInputs, numbersToTensors, trace, type Traced } from "./internal/trace.js"
import { checkOutputs, collectWrt, formatResult } from "./internal/wrt.js"
import type { Fn, HessianResult, JacobianResult, Transformed } from "./types.js"

type Mode = "jacrev" | "jacfwd"

/**
 * `ofJacrev`: the outer pass of `hessian`, whose integer outputs (allowInt's zero blocks) are constants.
 * `name`: the transform the user called, for the messages of option and aux checks (`hessian` for
 * both of its passes); the dtype checks take `mode`, which their rules depend on.
 */
const run = (mode: Mode, f: Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>, options: GradOptions, args: ReadonlyArray<unknown>, ofJacrev = false, name: string = mode) =>
  Effect.gen(function* () {
    const o = yield* resolve(name, options, args.length)
    let tr: Traced | undefined
    const extra: Tensor.Tensor[] = []
    return yield* Effect.gen(function* () {
      tr = yield* trace(name, f, numbersToTensors(args, o.argnums ?? []), o.argnums ?? [], o.vars, o.hasAux)
      const outs = tr.outLeaves
      const bad = checkOutputs(mode, outs, o, ofJacrev)
      if (bad) return yield* Effect.fail(bad)
      const wrt = yield* collectWrt(mode, tr, o)
      const active = wrt.leaves.filter((_, i) => !wrt.isInt[i])
      // blocks[j][i]: the jacobian of output leaf j with respect to active leaf i
      let jac: Tensor.Tensor[][]
      if (mode === "jacrev") {
        const { blocks: rows, total } = blocks(outs.map((t) => t.size))
        const cts = outs.map((t) => Internal.inputTensor(t.shape, t.dtype))
        extra.push(...cts)
        const pulled = Internal.vjpGraph(outs, cts, active)
        const basis = new Map(cts.map((c, j) => [c, basisBlock(total, rows[j]!, c.shape, c.dtype)] as const))
        const batched = Internal.batchGraph(pulled, basis, total).map((b, i) =>
          b.batched ? b.t : Internal.broadcastToShape(b.t, [total, ...active[i]!.shape])
        )
        jac = outs.map((out, j) => batched.map((g) => takeRows(g, rows[j]!, out.shape)))
      } else {
        const { blocks: cols, total } = blocks(active.map((t) => t.size))
        const tangents = active.map((t) => Internal.inputTensor(t.shape, t.dtype))
        extra.push(...tangents)
        // a leaf listed twice (the same Variable twice in gradVars) pushes the sum of its tangents
        const tangentOf = new Map<Tensor.Tensor, Tensor.Tensor>()
        active.forEach((a, i) => tangentOf.set(a, tangentOf.has(a) ? Tensor.add(tangentOf.get(a)!, tangents[i]!) : tangents[i]!))
        const pushed = Internal.jvpGraph(outs, tangentOf).map((t, j) => t ?? Internal.zerosOf(outs[j]!))
        const basis = new Map(tangents.map((t, i) => [t, basisBlock(total, cols[i]!, t.shape, t.dtype)] as const))
        const batched = Internal.batchGraph(pushed, basis, total).map((b, j) =>
          b.batched ? b.t : Internal.broadcastToShape(b.t, [total, ...outs[j]!.shape])
        )
        jac = outs.map((_, j) => active.map((a, i) => moveLeadingToEnd(takeRows(batched[j]!, cols[i]!, a.shape), a.ndim)))
      }
      // integer leaves (allowInt): zero blocks
      const perOut = outs.map((out, j) => {
        let k = 0
        return wrt.leaves.map((t, i) =>
          wrt.isInt[i] ? Tensor.zeros([...out.shape, ...t.shape], { dtype: t.dtype }) : jac[j]![k++]!
        )
      })
      const [auxLeaves, auxDef] = Pytree.flatten(tr.aux)
      closeInputs(tr, extra)
      const flat = perOut.flat()
      const settled = yield* Internal.settle([...flat, ...outs, ...auxLeaves])
      yield* tr.tx.commit()
      const n = wrt.leaves.length
      const g = Pytree.unflatten(tr.outDef, outs.map((_, j) => wrt.build(settled.slice(j * n, (j + 1) * n))))
      const value = Pytree.unflatten(tr.outDef, settled.slice(flat.length, flat.length + outs.length))
      const aux = Pytree.unflatten(auxDef, settled.slice(flat.length + outs.length))
      return formatResult(g, value, aux, o)
    }).pipe(Effect.onExit(() => Effect.sync(() => closeInputs(tr, extra))))
  })

type AnyFn = Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>
const runner = (mode: Mode, f: AnyFn, options: GradOptions, ofJacrev = false, name: string = mode) => (...args: ReadonlyArray<unknown>) =>
  run(mode, f, options, args, ofJacrev, name)

type JacobianTransform = {
  <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never, const O extends GradOptions = {}>(f: Fn<Args, Ret, E, R>, options?: O): Transformed<Args, JacobianResult<Args, Ret, O>, E, R>
  <const O extends GradOptions>(options: O): <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never>(f: Fn<Args, Ret, E, R>) => Transformed<Args, JacobianResult<Args, Ret, O>, E, R>
}

/**
 * The jacobian by reverse mode: one batched pullback of the output basis.
 * Each block has shape `[...out.shape, ...in.shape]`; pytree outputs give
 * the output's structure with the gradient structure at each leaf (as JAX).
 * Options and return structure as `grad`.
 * @example
 * ```ts
 * const J = yield* jacrev((x: Tensor.Tensor) => Tensor.tanh(Tensor.matmul(A, x)))(x) // [n, n]
 * ```
 */
export const jacrev: JacobianTransform = curried((f: AnyFn, options: GradOptions = {}) => runner("jacrev", f, options), "jacrev") as never

/** Same as `jacrev`. @example `yield* jacobian(f)(x)` */
export const jacobian: JacobianTransform = jacrev

/**
 * The jacobian by forward mode: one batched pushforward of the input basis.
 * Same shapes, options and structure as `jacrev`.
 * @example
 * ```ts
 * const J = yield* jacfwd((x: Tensor.Tensor) => Tensor.tanh(Tensor.matmul(A, x)))(x)
 * ```
 */
export const jacfwd: JacobianTransform = curried((f: AnyFn, options: GradOptions = {}) => runner("jacfwd", f, options), "jacfwd") as never

type HessianOptions = Omit<GradOptions, "returnValue">

/**
 * The hessian, `jacfwd(jacrev(f))`, with respect to `argnums` and/or
 * `gradVars`; with both, the blocks (as JAX for an argnums array). No
 * `returnValue`; `hasAux` gives `[H, aux]`.
 * @example
 * ```ts
 * const H = yield* hessian((x: Tensor.Tensor) => Tensor.sum(Tensor.square(Tensor.tanh(Tensor.matmul(A, x)))))(x)
 * ```
 */
export const hessian: {
  <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never, const O extends HessianOptions = {}>(f: Fn<Args, Ret, E, R>, options?: O): Transformed<Args, HessianResult<Args, Ret, Omit<O, "returnValue">>, E, R>
  <const O extends HessianOptions>(options: O): <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never>(f: Fn<Args, Ret, E, R>) => Transformed<Args, HessianResult<Args, Ret, Omit<O, "returnValue">>, E, R>
} = curried((f: Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>, options: HessianOptions = {}) => {
  const { returnValue: _ignored, ...o } = options as GradOptions
  return runner("jacfwd", runner("jacrev", f, { ...o, returnValue: false }, false, "hessian"), o, true, "hessian")
}, "hessian") as never
