/**
 * What a call differentiates with respect to: the gradVars' and the
 * argnums' input nodes, checked for dtype (allowInt, holomorphic), and how
 * per-leaf results are put back into the return structure of brainpy
 * (`varGrads`, `argGrads`, or `[varGrads, argGrads]`).
 */
import * as Effect from "effect/Effect"
import { DType, DTypeError, Pytree, Tensor, type TensorError } from "@diffect/core"
import type { Resolved } from "./options.js"
import type { Traced } from "./trace.js"

export interface Wrt {
  /** Every leaf, vars first (in gradVars order), then args (in argnums order). */
  readonly leaves: ReadonlyArray<Tensor.Tensor>
  /** Integer leaves (allowInt): they get zero gradients and are not differentiated. */
  readonly isInt: ReadonlyArray<boolean>
  /** Puts one value per leaf back into the return structure. */
  readonly build: <L>(perLeaf: ReadonlyArray<L>) => unknown
}

const where = (o: Resolved, k: number, nVars: number): string => {
  if (k < nVars) return o.varsShape.kind === "record" ? `gradVars.${o.varsShape.keys[k]}` : o.vars.length > 1 ? `gradVars[${k}]` : `gradVars (${o.vars[k]!.label})`
  return `argument ${o.argnums![k - nVars]}`
}

export const collectWrt = (name: string, tr: Traced, o: Resolved): Effect.Effect<Wrt, DTypeError | TensorError> =>
  Effect.gen(function* () {
    const groups: Array<{ def: Pytree.TreeDef; inputs: ReadonlyArray<Tensor.Tensor> }> = []
    for (const v of o.vars) {
      const inputs = yield* tr.tx.inputsOf(v)
      groups.push({ def: v.def, inputs })
    }
    const nVars = groups.length
    for (const a of tr.args) groups.push(a)
    const isInt: boolean[] = []
    for (let k = 0; k < groups.length; k++) {
      for (const t of groups[k]!.inputs) {
        const integral = DType.isIntegral(t.dtype)
        if (integral && !o.allowInt)
          return yield* Effect.fail(
            new DTypeError({
              message: `${name}: ${where(o, k, nVars)} has dtype ${t.dtype} (shape [${t.shape.join(", ")}]); differentiation needs float or complex inputs (pass allowInt: true to get zero gradients for integer inputs)`
            })
          )
        if (name === "jacfwd" && !o.holomorphic && DType.isComplex(t.dtype))
          return yield* Effect.fail(
            new DTypeError({
              message: `${name}: ${where(o, k, nVars)} has dtype complex64; forward mode with complex inputs needs holomorphic: true (as JAX; for a real-valued function of complex inputs use jacrev or grad)`
            })
          )
        if (o.holomorphic && !integral && !DType.isComplex(t.dtype))
          return yield* Effect.fail(
            new DTypeError({ message: `${name}: holomorphic: true needs complex inputs, but ${where(o, k, nVars)} has dtype ${t.dtype}` })
          )
        isInt.push(integral)
      }
    }
    const leaves = groups.flatMap((g) => g.inputs)
    const build = <L>(perLeaf: ReadonlyArray<L>): unknown => {
      let i = 0
      const trees = groups.map((g) => {
        const tree = Pytree.unflatten(g.def, perLeaf.slice(i, i + g.inputs.length))
        i += g.inputs.length
        return tree
      })
      const varTrees = trees.slice(0, nVars)
      const argTrees = trees.slice(nVars)
      const varGrads =
        o.varsShape.kind === "one"
          ? varTrees[0]
          : o.varsShape.kind === "record"
            ? Object.fromEntries(o.varsShape.keys.map((key, j) => [key, varTrees[j]]))
            : varTrees
      const argGrads = o.singleArg ? argTrees[0] : argTrees
      if (o.vars.length === 0 && o.varsShape.kind === "none") return argGrads
      if (o.argnums === undefined) return varGrads
      return [varGrads, argGrads]
    }
    return { leaves, isInt, build }
  })

/**
 * Checks the output dtypes against `holomorphic` (as JAX: reverse mode needs
 * real outputs unless holomorphic; forward mode, whose inputs are then real,
 * accepts complex outputs). `intOutputs`: integer outputs are accepted with
 * `allowInt` (the zero blocks an inner jacrev gives integer inputs in `hessian`).
 */
export const checkOutputs = (name: string, outs: ReadonlyArray<Tensor.Tensor>, o: Resolved, intOutputs = false): DTypeError | undefined => {
  for (const t of outs) {
    if (intOutputs && o.allowInt && DType.isIntegral(t.dtype)) continue
    if (DType.isComplex(t.dtype) && !o.holomorphic && name === "jacfwd") continue
    if (DType.isComplex(t.dtype) && !o.holomorphic)
      return new DTypeError({ message: `${name}: the output has dtype complex64; differentiating a complex output needs holomorphic: true` })
    if (o.holomorphic && !DType.isComplex(t.dtype))
      return new DTypeError({ message: `${name}: holomorphic: true needs a complex output, got ${t.dtype}` })
    if (!DType.isInexact(t.dtype))
      return new DTypeError({ message: `${name}: the output has dtype ${t.dtype}; only float or complex outputs can be differentiated` })
  }
  return undefined
}

/** The result structure of brainpy's table (see the README), given G, the value and aux. */
export const formatResult = (g: unknown, value: unknown, aux: unknown, o: Resolved): unknown => {
  if (o.hasAux && o.returnValue) return [g, value, aux]
  if (o.hasAux) return [g, aux]
  if (o.returnValue) return [g, value]
  return g
}
