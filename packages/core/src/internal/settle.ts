/** Cutting graphs once no transform can still differentiate through them. */
import * as Effect from "effect/Effect"
import type { TensorError } from "../Errors.js"
import { materialize } from "./read.js"
import { Column } from "./columns.js"
import { newPass, type Tensor } from "./tensor.js"

/**
 * Whether a transform call that is still running can see through these
 * tensors: they reach an unbound input node, or one of a running call,
 * other than those in `own` (a program's own inputs).
 */
export const hasLiveInputs = (roots: ReadonlyArray<Tensor>, own?: ReadonlySet<Tensor>): boolean => {
  // the nodes seen are marked with this walk's number (no Set of the whole graph)
  const pass = newPass()
  const stack = new Column<Tensor>()
  for (const r of roots) if (r.symbolic) stack.push(r)
  while (stack.length > 0) {
    const t = stack.pop()
    if (t.mark === pass) continue
    t.mark = pass
    if (t.op === "input") {
      if (own?.has(t)) continue
      if (t.live || t.value === undefined) return true
      if (t.value.symbolic) stack.push(t.value)
      continue
    }
    for (let k = 0; k < t.arity; k++) {
      const x = t.input(k)
      if (x.symbolic && x.mark !== pass) stack.push(x)
    }
    if (t.op === "custom" && t.value!.symbolic) stack.push(t.value!)
  }
  return false
}

/**
 * Evaluates tensors into consts when no running transform depends on them
 * (outermost level); otherwise returns them unchanged, still differentiable.
 * Errors carried by the tensors fail here either way.
 */
export const settle = (ts: ReadonlyArray<Tensor>): Effect.Effect<ReadonlyArray<Tensor>, TensorError> => {
  const bad = ts.find((t) => t.op === "error")
  if (bad) return Effect.fail(bad.error!)
  return hasLiveInputs(ts) ? Effect.succeed(ts) : materialize(ts)
}
