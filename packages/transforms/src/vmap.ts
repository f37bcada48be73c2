/**
 * `vmap`: maps a function over a batch axis of its arguments by
 * interpreting its graph with the batching rules (no loop).
 * @module
 */
import * as Effect from "effect/Effect"
import { DTypeError, Internal, OptionsError, Pytree, ShapeError, StateError, Tensor, type TensorError, Variable } from "@diffect/core"
import { isOptionsObject } from "./internal/options.js"
import { callFn, checkFn, type Fn, toTensorTree } from "./internal/trace.js"

/** Per-argument batch axes: a number (or null: not batched) for all arguments, or one per argument. */
export type InAxes = number | null | ReadonlyArray<number | null>
/** Where the batch axis goes in the outputs: a number for all, or one per top-level output entry (null: unbatched). */
export type OutAxes = number | null | ReadonlyArray<number | null>

/** Options of vmap. */
export interface VmapOptions {
  readonly inAxes?: InAxes | undefined
  readonly outAxes?: OutAxes | undefined
}

/** An axis option as accepted: absent, an integer, null, or an array of integers and nulls. */
const isAxes = (u: unknown): boolean =>
  u === undefined || u === null || Number.isInteger(u) || (Array.isArray(u) && u.every((a) => a === null || Number.isInteger(a)))

/** Checks the options (an object with integer / null / array axes, nothing else). */
const checkOptions = (options: unknown): Effect.Effect<VmapOptions, OptionsError> => {
  if (options === undefined) return Effect.succeed({})
  if (!isOptionsObject(options))
    return Effect.fail(new OptionsError({ message: `vmap: options must be an object { inAxes, outAxes }, got ${Internal.describeValue(options)}` }))
  const unknown = Object.keys(options).filter((k) => k !== "inAxes" && k !== "outAxes")
  if (unknown.length > 0) return Effect.fail(new OptionsError({ message: `vmap: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (expected inAxes, outAxes)` }))
  const o = options as { readonly inAxes?: unknown; readonly outAxes?: unknown }
  const bad = (["inAxes", "outAxes"] as const).filter((k) => !isAxes(o[k]))
  if (bad.length > 0)
    return Effect.fail(
      new OptionsError({
        message: `vmap: inAxes and outAxes must each be an integer, null, or an array of integers and nulls: ${bad.map((k) => `${k} is ${Internal.describeValue(o[k])}`).join(", ")}`
      })
    )
  return Effect.succeed(o as VmapOptions)
}

const moveAxis = (t: Tensor.Tensor, from: number, to: number): Tensor.Tensor => {
  if (from === to) return t
  const perm = t.shape.map((_, i) => i).filter((i) => i !== from)
  perm.splice(to, 0, from)
  return Tensor.transpose(t, perm)
}

/**
 * Vectorizes `f` over a batch axis (`inAxes`, default 0 for every argument;
 * `null` for an unbatched argument); the outputs get the batch axis at
 * `outAxes` (default 0). Nests with every other transform:
 * `vmap(grad(loss), { inAxes: [null, 0] })` gives per-example gradients.
 * @example
 * ```ts
 * const ys = yield* vmap((x: Tensor.Tensor) => Tensor.sum(Tensor.square(x)))(xs) // one sum per row
 * ```
 */
export const vmap =
  <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never>(f: Fn<Args, Ret, E, R>, options: VmapOptions = {}) =>
  (...args: Args): Effect.Effect<Ret, E | ShapeError | StateError | OptionsError | TensorError, R> =>
    Effect.gen(function* () {
      const notFn = checkFn("vmap", f)
      if (notFn) return yield* Effect.fail(notFn)
      const opts = yield* checkOptions(options)
      const inAxes = opts.inAxes === undefined ? 0 : opts.inAxes // null (nothing batched) is not the default
      const axisOf = (i: number): number | null => (Array.isArray(inAxes) ? (inAxes[i] ?? null) : (inAxes as number | null))
      if (Array.isArray(inAxes) && inAxes.length !== args.length)
        return yield* Effect.fail(new ShapeError({ message: `vmap: inAxes has ${inAxes.length} entries for ${args.length} arguments` }))
      let n: number | undefined
      const batched = new Map<Tensor.Tensor, Tensor.Tensor>()
      const inputs: Tensor.Tensor[] = []
      const callArgs: unknown[] = []
      for (let i = 0; i < args.length; i++) {
        const ax = axisOf(i)
        if (ax === null) {
          callArgs.push(args[i])
          continue
        }
        const tree = toTensorTree("vmap", `argument ${i}`, args[i])
        if (tree instanceof DTypeError) return yield* Effect.fail(tree)
        const [leaves, def] = Pytree.flatten(tree)
        const replaced: Tensor.Tensor[] = []
        for (const leaf of leaves) {
          if (leaf.op === "error") return yield* Effect.fail(leaf.error!)
          const a = ax < 0 ? ax + leaf.ndim : ax
          if (!Number.isInteger(a) || a < 0 || a >= leaf.ndim)
            return yield* Effect.fail(new ShapeError({ message: `vmap: inAxes ${ax} is out of range for argument ${i} of shape [${leaf.shape.join(", ")}]` }))
          const size = leaf.shape[a]!
          if (n !== undefined && size !== n)
            return yield* Effect.fail(new ShapeError({ message: `vmap: inconsistent batch sizes: ${n} and ${size} (argument ${i}, shape [${leaf.shape.join(", ")}], axis ${a})` }))
          n = size
          const front = moveAxis(leaf, a, 0)
          const input = Internal.inputTensor(front.shape.slice(1), front.dtype)
          inputs.push(input)
          batched.set(input, front)
          replaced.push(input)
        }
        callArgs.push(Pytree.unflatten(def, replaced))
      }
      if (n === undefined) return yield* Effect.fail(new ShapeError({ message: "vmap: no argument is batched (every inAxes entry is null)" }))
      const size = n
      const parent = yield* Variable.CurrentStateHandler
      const tx = new Variable.Transaction(parent, new Set())
      return yield* Effect.gen(function* () {
        const ret = toTensorTree("vmap", "the output", yield* callFn(f, callArgs as unknown as Args).pipe(Effect.provideService(Variable.CurrentStateHandler, tx)))
        if (ret instanceof DTypeError) return yield* Effect.fail(ret)
        const [outs, outDef] = Pytree.flatten(ret)
        const bad = outs.find((t) => t.op === "error")
        if (bad) return yield* Effect.fail(bad.error!)
        // writes must not depend on the batch
        for (const [v, value] of tx.writes) {
          const [leaves] = Pytree.flatten(value)
          if (Internal.batchGraph(leaves, batched, size).some((b) => b.batched))
            return yield* Effect.fail(new StateError({ message: `vmap: the mapped function writes a value that depends on the batch to ${v.label}; write an unbatched value (e.g. a mean over the batch) instead` }))
        }
        const results = Internal.batchGraph(outs, batched, size)
        // out axes follow the top-level entries of the output
        const topAxes: Array<number | null> = []
        const outAxes = opts.outAxes === undefined ? 0 : opts.outAxes // null: unbatched outputs
        if (Array.isArray(outAxes)) {
          if (outDef.kind !== "array" || outDef.items.length !== outAxes.length)
            return yield* Effect.fail(new ShapeError({ message: `vmap: outAxes has ${outAxes.length} entries but the output is ${Pytree.describe(outDef)}` }))
          outDef.items.forEach((d, k) => {
            for (let c = 0; c < Pytree.leafCount(d); c++) topAxes.push(outAxes[k] ?? null)
          })
        } else for (let c = 0; c < outs.length; c++) topAxes.push(outAxes as number | null)
        const finals: Tensor.Tensor[] = []
        for (let j = 0; j < results.length; j++) {
          const r = results[j]!, ax = topAxes[j]!
          if (ax === null) {
            if (r.batched) return yield* Effect.fail(new ShapeError({ message: `vmap: output ${j} depends on the batch but its outAxes is null` }))
            finals.push(r.t)
            continue
          }
          const t = r.batched ? r.t : Internal.broadcastToShape(r.t, [size, ...r.t.shape])
          const a = ax < 0 ? ax + t.ndim : ax
          if (a < 0 || a >= t.ndim) return yield* Effect.fail(new ShapeError({ message: `vmap: outAxes ${ax} is out of range for an output of rank ${t.ndim}` }))
          finals.push(moveAxis(t, 0, a))
        }
        for (const t of inputs) t.live = false
        const settled = yield* Internal.settle(finals)
        yield* tx.commit()
        return Pytree.unflatten<Ret>(outDef, settled)
      }).pipe(
        Effect.onExit(() =>
          Effect.sync(() => {
            for (const t of inputs) t.live = false
          })
        )
      )
    })
