/**
 * Programs: closed graphs. A `Program` is the graph of `outputs` over a
 * list of unbound `input` nodes (its parameters), as tracing a function
 * with fresh inputs produces it: the equations are the primitive nodes
 * between them, each over the nodes it reads (a jaxpr whose variables are
 * nodes). Nothing in it refers to a running transform.
 *
 * A program is used two ways:
 * - `inline`: its equations rebuilt over other tensors (graph nodes that a
 *   running transform interprets: this is how `grad(jit(f))`, `vmap(jit(f))`
 *   and `jit(jit(f))` compose);
 * - `run`: executed on concrete values with a plan made once per backend
 *   (`plan.ts`) and kept with the program, without rebuilding anything.
 */
import * as Effect from "effect/Effect"
import type { BackendShape } from "../Backend.js"
import type { HostArray } from "../DType.js"
import type { TensorError } from "../Errors.js"
import { evaluate, execute, type Executed, failureOf, materializeMany, type Plan, planGraph, setBuffer, sourceHandle } from "./evaluate.js"
import { dependentOrder } from "./interpret.js"
import { hasLiveInputs } from "./settle.js"
import { type CustomRules, customTensor, Tensor } from "./tensor.js"

/** A closed graph: `outputs` as functions of the unbound input nodes `inputs`. */
export interface Program {
  readonly inputs: ReadonlyArray<Tensor>
  readonly outputs: ReadonlyArray<Tensor>
  /** @internal plans made for this program, per backend */
  readonly plans: WeakMap<BackendShape, Plan>
}

/** Makes a program of `outputs` over `inputs` (unbound input nodes). */
export const makeProgram = (inputs: ReadonlyArray<Tensor>, outputs: ReadonlyArray<Tensor>): Program => ({
  inputs,
  outputs,
  plans: new WeakMap()
})

/**
 * Whether the program reads an input node that is not one of its own:
 * an unbound one, or one of a transform call that is still running (the
 * traced function closed over a value of an enclosing transform). Such a
 * program cannot be replayed on its own.
 */
export const isOpen = (p: Program): boolean => hasLiveInputs(p.outputs, new Set(p.inputs))

/** The nodes of the program that depend on its inputs (not the inputs themselves), operands before users. */
const dependents = (p: Program): Tensor[] => {
  const own = new Set(p.inputs)
  return dependentOrder(p.outputs, own, "all").filter((t) => !own.has(t))
}

/**
 * The program's outputs rebuilt with its inputs replaced by `args` (any
 * tensors: symbolic ones of a running transform, or unbound inputs of an
 * enclosing trace). Nodes that do not depend on the inputs are shared.
 */
export const inline = (p: Program, args: ReadonlyArray<Tensor>): Tensor[] => {
  const map = new Map<Tensor, Tensor>()
  p.inputs.forEach((t, i) => map.set(t, args[i]!))
  const get = (t: Tensor): Tensor => map.get(t) ?? t
  for (const t of dependents(p)) {
    if (t.op === "input") {
      map.set(t, get(t.value!))
      continue
    }
    if (t.op === "custom") {
      map.set(t, customTensor(t.inputs.map(get), get(t.value!), t.params as CustomRules))
      continue
    }
    map.set(t, new Tensor({ shape: t.shape, dtype: t.dtype, op: t.op, params: t.params, inputs: t.inputs.map(get) }))
  }
  return p.outputs.map(get)
}

/**
 * Evaluates, once, the parts of the program that do not depend on its
 * inputs (constants the traced function computed), so that runs do not
 * recompute them.
 */
export const foldConstants = (p: Program, backend: BackendShape): Effect.Effect<void, TensorError> => {
  const frontier = new Set<Tensor>()
  const add = (x: Tensor, isOutput = false) => {
    // a layout change (a scalar broadcast to a matrix) stays a view of its folded operand: folding it would materialize it
    if (!isOutput) while (isLayout(x.op) && !x.input(0).symbolic) x = x.input(0)
    if (!x.symbolic && x.op !== "const" && x.op !== "error") frontier.add(x)
  }
  for (const t of dependents(p)) for (const x of t.op === "input" || t.op === "custom" ? [t.value!] : t.inputs) add(x)
  for (const o of p.outputs) add(o, true)
  return frontier.size === 0 ? Effect.void : Effect.asVoid(evaluate(backend, [...frontier]))
}

const isLayout = (op: string): boolean => op === "broadcast" || op === "reshape" || op === "transpose" || op === "slice"

/** The plan of a program on `backend` (made the first time, then kept). */
export const planOf = (p: Program, backend: BackendShape): Plan => {
  let plan = p.plans.get(backend)
  if (plan === undefined) {
    plan = planGraph(backend, p.outputs, p.inputs, undefined, { kept: true })
    p.plans.set(backend, plan)
  }
  return plan
}

/**
 * Runs the program on concrete `args` (tensors whose values do not depend
 * on a running transform): evaluates them, executes the program's plan
 * (yielding to other fibers during long runs), and returns const tensors
 * holding the outputs.
 */
export const run = (p: Program, backend: BackendShape, args: ReadonlyArray<Tensor>): Effect.Effect<Tensor[], TensorError> =>
  Effect.suspend(() => {
    const pending = args.filter((t) => !(t.buf !== undefined && t.buf.backend === backend) && t.op !== "const")
    const ready: Effect.Effect<ReadonlyArray<Tensor>, TensorError> =
      pending.length === 0
        ? Effect.succeed(args)
        : Effect.map(materializeMany(backend, pending), (consts) => args.map((t) => consts[pending.indexOf(t)] ?? t))
    return Effect.flatMap(ready, (values) => {
      let plan: Plan
      let handles: unknown[]
      try {
        plan = planOf(p, backend)
        handles = values.map((t) => sourceHandle(backend, t))
      } catch (e) {
        return failureOf(e)
      }
      return Effect.map(execute(plan, handles), (r) => outputsOf(plan, backend, values, handles, r))
    })
  })

const sameAval = (t: Tensor, a: { readonly shape: ReadonlyArray<number>; readonly dtype: Tensor["dtype"] }): boolean =>
  t.dtype === a.dtype && t.shape.length === a.shape.length && t.shape.every((d, j) => d === a.shape[j])

/** Tensors for the handles an execution gave (new consts, or the tensors whose buffers they are). */
const outputsOf = (plan: Plan, backend: BackendShape, args: ReadonlyArray<Tensor>, handles: ReadonlyArray<unknown>, r: Executed): Tensor[] => {
  if (r.handles.length === 1 && r.owned[0]) {
    const a = plan.outputAvals[0]!
    const t = new Tensor({ shape: a.shape, dtype: a.dtype, op: "const" })
    setBuffer(t, backend, r.handles[0])
    return [t]
  }
  const made = new Map<unknown, Tensor>()
  return r.handles.map((h, i) => {
    const a = plan.outputAvals[i]!
    const prev = made.get(h)
    if (prev !== undefined && sameAval(prev, a)) return prev
    let t: Tensor | undefined
    if (r.owned[i] && prev === undefined) {
      t = new Tensor({ shape: a.shape, dtype: a.dtype, op: "const" })
      setBuffer(t, backend, h)
    } else {
      const k = handles.indexOf(h)
      const src = k >= 0 ? args[k] : plan.consts.find(([s]) => s === plan.outputs[i])?.[1]
      if (src !== undefined && sameAval(src, a)) t = src
      else {
        // another view of a buffer that is not this output's own: copy it
        t = new Tensor({ shape: a.shape, dtype: a.dtype, op: "const" })
        if (backend.share !== undefined) setBuffer(t, backend, backend.share(h, a))
        else t.host = backend.download(h, a).slice() as HostArray
      }
    }
    if (prev === undefined) made.set(h, t)
    return t
  })
}
