/**
 * Tracing the body of a control-flow primitive once into a sub-program:
 * fresh input nodes for its arguments, a state handler that turns the
 * Variables it reads into inputs (their values outside become operands of
 * the loop) and records what it writes, and closure conversion (tensors of
 * an enclosing computation the body closes over become operands too).
 */
import * as Effect from "effect/Effect"
import { ControlFlowError, DTypeError, Internal, Pytree, Tensor, type TensorError, Variable } from "@diffect/core"
import { toTensorTree } from "./trace.js"

type Var = Variable.Variable<unknown>

/** The state handler while a body is traced. */
export class BodyState implements Variable.StateHandler {
  /** Variables read, in order: the body's input nodes and the values outside. */
  readonly reads = new Map<Var, { readonly inputs: ReadonlyArray<Tensor.Tensor>; readonly outer: ReadonlyArray<Tensor.Tensor> }>()
  readonly writes = new Map<Var, unknown>()
  constructor(readonly parent: Variable.StateHandler) {}

  read = (v: Var): Effect.Effect<unknown, TensorError> => (this.writes.has(v) ? Effect.succeed(this.writes.get(v)) : this.enter(v))

  /** The value of `v` at the start of the body (an input node per leaf). */
  enter = (v: Var): Effect.Effect<unknown, TensorError> => {
    const r = this.reads.get(v)
    if (r !== undefined) return Effect.succeed(Pytree.unflatten(v.def, r.inputs))
    return Effect.map(this.parent.read(v), (outer) => {
      const [leaves] = Pytree.flatten(outer)
      const inputs = leaves.map(Internal.freshInput)
      this.reads.set(v, { inputs, outer: leaves })
      return Pytree.unflatten(v.def, inputs)
    })
  }

  writeAll = (entries: ReadonlyArray<readonly [Var, unknown]>): Effect.Effect<void, TensorError> =>
    Effect.sync(() => {
      for (const [v, x] of entries) this.writes.set(v, x)
    })
}

/** A pytree argument as leaves and structure, numbers as float32 scalars; DTypeError for anything else. */
export const leavesOf = (name: string, what: string, u: unknown): Effect.Effect<{ leaves: Tensor.Tensor[]; def: Pytree.TreeDef; tree: unknown }, DTypeError | TensorError> => {
  const tree = toTensorTree(name, what, u)
  if (tree instanceof DTypeError) return Effect.fail(tree)
  const [leaves, def] = Pytree.flatten(tree)
  const bad = leaves.find((t) => t.op === "error")
  if (bad) return Effect.fail(bad.error!)
  return Effect.succeed({ leaves, def, tree })
}

const aval = (t: { readonly shape: ReadonlyArray<number>; readonly dtype: string }) => `${t.dtype}[${t.shape.join(", ")}]`

/**
 * Checks that `got` (what a body returned) has the structure, shapes and
 * dtypes of `want`; the ControlFlowError names both sides.
 */
export const checkSame = (
  name: string,
  gotWhat: string,
  got: { leaves: ReadonlyArray<Tensor.Tensor>; def: Pytree.TreeDef },
  wantWhat: string,
  want: { leaves: ReadonlyArray<{ readonly shape: ReadonlyArray<number>; readonly dtype: string }>; def: Pytree.TreeDef }
): ControlFlowError | undefined => {
  if (!Pytree.defEqual(got.def, want.def))
    return new ControlFlowError({
      message: `${name}: ${gotWhat} has structure ${Pytree.describe(got.def)} but ${wantWhat} has structure ${Pytree.describe(want.def)}; they must match`
    })
  for (let i = 0; i < got.leaves.length; i++) {
    const g = got.leaves[i]!, w = want.leaves[i]!
    if (g.dtype !== w.dtype || g.shape.length !== w.shape.length || g.shape.some((d, j) => d !== w.shape[j]))
      return new ControlFlowError({
        message: `${name}: ${gotWhat} has ${aval(g)}${got.leaves.length > 1 ? ` at leaf ${i}` : ""} but ${wantWhat} has ${aval(w)}; they must match in shape and dtype`
      })
  }
  return undefined
}

const childrenOf = (t: Tensor.Tensor): ReadonlyArray<Tensor.Tensor> =>
  t.op === "input" ? (t.value ? [t.value] : []) : t.op === "custom" ? [...t.inputs, t.value!] : t.inputs

/**
 * The tensors of an enclosing computation that `outputs` read (symbolic
 * nodes that do not depend on `own`): they become operands of the loop.
 */
export const capturesOf = (outputs: ReadonlyArray<Tensor.Tensor>, own: ReadonlyArray<Tensor.Tensor>): Tensor.Tensor[] => {
  const dep = new Set(Internal.dependentOrder(outputs, new Set(own), "all"))
  const caps = new Set<Tensor.Tensor>()
  for (const t of outputs) if (!dep.has(t) && t.symbolic) caps.add(t)
  for (const t of dep) for (const c of childrenOf(t)) if (!dep.has(c) && c.symbolic) caps.add(c)
  return [...caps]
}
