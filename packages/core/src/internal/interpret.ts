/**
 * The three interpreters of a tensor graph, each driven by its rule table:
 * forward mode (`jvpGraph`), reverse mode (`vjpGraph`) and batching
 * (`batchGraph`). They walk only the part of the graph that depends on the
 * `input` nodes they are asked about, and build new graph nodes with
 * differentiable ops, so their results can be interpreted again (nesting).
 *
 * An `input` node that an interpreter is not asked about stands for its
 * bound value (the identity): this is how the results of an inner transform
 * call stay differentiable by an outer one.
 */
import type { Prim } from "./primitives.js"
import { batchRules, type BatchArg, withBatch } from "./rules/batch.js"
import { jvpRules, zerosOf } from "./rules/jvp.js"
import { vjpRules } from "./rules/vjp.js"
import { loopBatch, loopJvp, loopVjp } from "./loop-rules.js"
import type { LoopOutParams } from "./loop.js"
import * as O from "./ops.js"
import { Column, IntColumn } from "./columns.js"
import { type CustomRules, customTensor, inputTensor, lastPass, newPass, type Tensor } from "./tensor.js"

/** Which interpretation walks the graph (`all`: every operand, a custom node's inputs and value both). */
type Mode = "jvp" | "vjp" | "batch" | "all"

/** The custom rules of a node, when it has one for this mode. */
const customRule = (t: Tensor, mode: Mode): boolean => {
  if (t.op !== "custom") return false
  const rules = t.params as CustomRules
  return mode === "jvp" ? rules.jvp !== undefined : mode === "vjp" ? rules.vjp !== undefined || rules.jvp !== undefined : false
}

/**
 * The children of an input or custom node for traversal: an input stands
 * for its value; a custom node is seen through its rule (its inputs) when it
 * has one for the mode, else through its value. (A primitive's children are
 * its operands, read through `arity` and `input`.)
 */
const children = (t: Tensor, mode: Mode): ReadonlyArray<Tensor> =>
  t.op === "input"
    ? t.value
      ? [t.value]
      : []
    : mode === "all"
      ? [...t.inputs, t.value!]
      : customRule(t, mode)
        ? t.inputs
        : [t.value!]

/**
 * The nodes between `roots` and `sources` that depend on a source, in
 * topological order (inputs before users).
 */
export const dependentOrder = (roots: ReadonlyArray<Tensor>, sources: ReadonlySet<Tensor>, mode: Mode = "vjp"): Tensor[] =>
  dependents(roots, sources, mode).order

/**
 * `dependentOrder`, and the walk's number (`pass`): every node it reached
 * has `mark === pass` and, as `slot`, its index in `order` (−1 where it
 * depends on no source). The marks hold until the next walk starts
 * (`lastPass() !== pass`); no Map of every node is made.
 */
const dependents = (roots: ReadonlyArray<Tensor>, sources: ReadonlySet<Tensor>, mode: Mode): { order: Tensor[]; pass: number } => {
  const pass = newPass()
  const order = new Column<Tensor>()
  const done = (t: Tensor, onPath: boolean) => {
    t.mark = pass
    t.slot = onPath ? order.length : -1
    if (onPath) order.push(t)
  }
  // (two stacks, not one of pairs: no allocation per node of a long graph)
  const stack = new Column<Tensor>()
  const expandedStack = new IntColumn()
  for (const r of roots) {
    stack.push(r)
    expandedStack.push(0)
  }
  while (stack.length > 0) {
    const t = stack.pop()
    const expanded = expandedStack.pop() === 1
    if (t.mark === pass) continue
    if (!t.symbolic) {
      done(t, false)
      continue
    }
    if (sources.has(t)) {
      done(t, true)
      continue
    }
    // an input or custom node's children as an array; a primitive's operands through `arity` and `input` (no array per node of a long graph)
    const cs = t.op === "input" || t.op === "custom" ? children(t, mode) : undefined
    const n = cs === undefined ? t.arity : cs.length
    if (!expanded) {
      stack.push(t)
      expandedStack.push(1)
      for (let k = 0; k < n; k++) {
        const c = cs === undefined ? t.input(k) : cs[k]!
        if (c.mark !== pass) {
          stack.push(c)
          expandedStack.push(0)
        }
      }
      continue
    }
    let on = false
    for (let k = 0; k < n && !on; k++) on = (cs === undefined ? t.input(k) : cs[k]!).slot >= 0
    done(t, on)
  }
  return { order: order.toArray(), pass }
}

/** Forward mode: the tangents of `roots` given tangents of `input` nodes (null = zero). */
export const jvpGraph = (roots: ReadonlyArray<Tensor>, seeds: ReadonlyMap<Tensor, Tensor>): Array<Tensor | null> => {
  const tangent = new Map<Tensor, Tensor | null>(seeds)
  const loops = new Map<Tensor, Array<Tensor | null>>()
  for (const t of dependentOrder(roots, new Set(seeds.keys()), "jvp")) {
    if (tangent.has(t)) continue
    if (t.op === "loop") {
      loops.set(t, loopJvp(t, t.inputs.map((x) => tangent.get(x) ?? null)))
      tangent.set(t, null)
      continue
    }
    if (t.op === "loopOut") {
      tangent.set(t, loops.get(t.input(0))?.[(t.params as LoopOutParams).index] ?? null)
      continue
    }
    if (t.op === "input" || (t.op === "custom" && !customRule(t, "jvp"))) {
      tangent.set(t, tangent.get(t.value!) ?? null)
      continue
    }
    if (t.op === "custom") {
      const ts = t.inputs.map((x) => tangent.get(x) ?? zerosOf(x))
      tangent.set(t, (t.params as CustomRules).jvp!(t.inputs, ts, t))
      continue
    }
    const ts = t.inputs.map((x) => tangent.get(x) ?? null)
    const rule = jvpRules[t.op as Prim] as (ts: ReadonlyArray<Tensor | null>, xs: ReadonlyArray<Tensor>, p: unknown, out: Tensor) => Tensor | null
    tangent.set(t, rule(ts, t.inputs, t.params, t))
  }
  return roots.map((r) => tangent.get(r) ?? null)
}

/**
 * Reverse mode: the cotangents of `wrt` (input nodes) given cotangents of
 * `roots`; zeros for an input the roots do not depend on.
 */
export const vjpGraph = (roots: ReadonlyArray<Tensor>, cts: ReadonlyArray<Tensor | null>, wrt: ReadonlyArray<Tensor>): Tensor[] => {
  const sources = new Set(wrt)
  const { order, pass } = dependents(roots, sources, "vjp")
  // the index in `order` of a node on the path: from its mark while no other walk has started
  // (a rule may start one: a custom rule, a loop's body), else from a Map made then
  let byNode: Map<Tensor, number> | undefined
  const indexOf = (x: Tensor): number => {
    if (byNode === undefined) {
      if (lastPass() === pass) return x.mark === pass ? x.slot : -1
      byNode = new Map(order.map((t, i) => [t, i]))
    }
    return byNode.get(x) ?? -1
  }
  // the cotangent of each node on the path, by its index (a node off the path: a root that depends on no source)
  const acc = new Array<Tensor | undefined>(order.length)
  const offPath = new Map<Tensor, Tensor>()
  const accumulate = (t: Tensor, ct: Tensor | null) => {
    if (ct === null) return
    const i = indexOf(t)
    const prev = i >= 0 ? acc[i] : offPath.get(t)
    // prev + (−c) is prev − c: one node, not two (the cotangent of the subtrahend of every sub)
    const sum = prev === undefined ? ct : ct.op === "neg" && ct === fresh ? O.sub(prev, ct.input(0)) : O.add(prev, ct)
    if (i >= 0) acc[i] = sum
    else offPath.set(t, sum)
  }
  /** The cotangent a rule has just made that may be folded into a sub (the negated one of a sub's subtrahend). */
  let fresh: Tensor | undefined = undefined
  roots.forEach((r, i) => accumulate(r, cts[i] ?? null))
  const onPath = { has: (x: Tensor): boolean => indexOf(x) >= 0 }
  // the cotangents of each loop node's results, gathered from its loopOut nodes
  const loops = new Map<Tensor, Array<Tensor | null>>()
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i]!
    if (t.op === "loop") {
      const cs = loops.get(t)
      if (cs === undefined) continue
      const ops = loopVjp(t, cs)
      t.inputs.forEach((x, k) => {
        if (onPath.has(x)) accumulate(x, ops[k] ?? null)
      })
      continue
    }
    const ct = acc[i]
    if (ct === undefined || sources.has(t)) continue
    if (t.op === "loopOut") {
      const node = t.input(0)
      const { index } = t.params as LoopOutParams
      let cs = loops.get(node)
      if (cs === undefined) loops.set(node, (cs = []))
      const prev = cs[index]
      cs[index] = prev === undefined || prev === null ? ct : O.add(prev, ct)
      continue
    }
    if (t.op === "input" || (t.op === "custom" && !customRule(t, "vjp"))) {
      accumulate(t.value!, ct)
      continue
    }
    if (t.op === "custom") {
      const cs = customVjp(t, ct)
      t.inputs.forEach((x, k) => {
        if (onPath.has(x)) accumulate(x, cs[k] ?? null)
      })
      continue
    }
    const rule = vjpRules[t.op as Prim] as (ct: Tensor, xs: ReadonlyArray<Tensor>, p: unknown, out: Tensor) => ReadonlyArray<Tensor | null>
    const cs = rule(ct, t.inputs, t.params, t)
    fresh = t.op === "sub" ? cs[1]! : undefined
    t.inputs.forEach((x, k) => {
      if (onPath.has(x)) accumulate(x, cs[k] ?? null)
    })
    fresh = undefined
  }
  return wrt.map((w) => {
    const i = indexOf(w)
    return (i >= 0 ? acc[i] : offPath.get(w)) ?? zerosOf(w)
  })
}

/**
 * The cotangents of a custom node's inputs: its vjp rule, or else its jvp
 * rule transposed (the jvp is linear in the tangents, so differentiating it
 * with respect to symbolic tangents applies its transpose to `ct`).
 */
const customVjp = (t: Tensor, ct: Tensor): ReadonlyArray<Tensor | null> => {
  const rules = t.params as CustomRules
  if (rules.vjp) return rules.vjp(t.inputs, t, ct)
  const tangents = t.inputs.map((x) => inputTensor(x.shape, x.dtype))
  const out = rules.jvp!(t.inputs, tangents, t)
  // a rule that failed (an error tensor) depends on no tangent: its error, not a zero, is every cotangent
  if (out.op === "error") return t.inputs.map(() => out)
  const cts = vjpGraph([out], [ct], tangents)
  for (const tan of tangents) tan.live = false
  return cts
}

/**
 * Batching: rewrites `roots` with the `input` nodes in `batched` replaced by
 * values carrying a leading batch axis of size `n`. Returns each root with
 * whether it carries the batch axis.
 */
export const batchGraph = (roots: ReadonlyArray<Tensor>, batched: ReadonlyMap<Tensor, Tensor>, n: number): BatchArg[] => {
  const out = new Map<Tensor, BatchArg>()
  for (const [k, v] of batched) out.set(k, { t: v, batched: true })
  const loops = new Map<Tensor, BatchArg[]>()
  for (const t of dependentOrder(roots, new Set(batched.keys()), "batch")) {
    if (out.has(t)) continue
    if (t.op === "loop") {
      loops.set(t, loopBatch(t, t.inputs.map((x) => out.get(x) ?? { t: x, batched: false }), n))
      out.set(t, { t, batched: false })
      continue
    }
    if (t.op === "loopOut") {
      out.set(t, loops.get(t.input(0))![(t.params as LoopOutParams).index]!)
      continue
    }
    if (t.op === "input") {
      out.set(t, out.get(t.value!)!)
      continue
    }
    if (t.op === "custom") {
      out.set(t, batchCustom(t, out, n))
      continue
    }
    const args = t.inputs.map((x) => out.get(x) ?? { t: x, batched: false })
    const rule = batchRules[t.op as Prim] as (a: ReadonlyArray<BatchArg>, p: unknown, n: number) => Tensor
    out.set(t, { t: rule(args, t.params, n), batched: true })
  }
  return roots.map((r) => out.get(r) ?? { t: r, batched: false })
}

/**
 * A custom node under vmap: a custom node of the batched inputs and value
 * whose rules are the original rules, batched (each rule is applied to
 * per-example symbols and its result interpreted by `batchGraph`), so that
 * `grad(vmap(customVjp(...)))` and `vmap(grad(...))` use the custom rule.
 */
const batchCustom = (t: Tensor, out: ReadonlyMap<Tensor, BatchArg>, n: number): BatchArg => {
  const value = out.get(t.value!)
  if (value === undefined || !value.batched) return { t, batched: false }
  const rules = t.params as CustomRules
  const bIns = t.inputs.map((x) => withBatch(out.get(x) ?? { t: x, batched: false }, n))
  /** Applies `rule` to per-example symbols standing for `batched` and batches its results. */
  const batched = (
    like: ReadonlyArray<Tensor>,
    args: ReadonlyArray<Tensor>,
    rule: (symbols: ReadonlyArray<Tensor>) => ReadonlyArray<Tensor | null>
  ): Array<Tensor | null> => {
    const symbols = like.map((x) => inputTensor(x.shape, x.dtype))
    const results = rule(symbols)
    const map = new Map<Tensor, Tensor>()
    symbols.forEach((s, i) => map.set(s, withBatch({ t: args[i]!, batched: true }, n)))
    const present = results.filter((r): r is Tensor => r !== null)
    const done = batchGraph(present, map, n)
    let k = 0
    return results.map((r) => (r === null ? null : withBatch(done[k++]!, n)))
  }
  const k = t.arity
  const jvp = rules.jvp
  const vjp = rules.vjp
  const newRules: CustomRules = {
    name: rules.name,
    jvp:
      jvp === undefined
        ? undefined
        : (primals, tangents, o) =>
            batched([...t.inputs, ...t.inputs, t], [...primals, ...tangents, o], (s) => [jvp(s.slice(0, k), s.slice(k, 2 * k), s[2 * k]!)])[0]!,
    vjp:
      vjp === undefined
        ? undefined
        : (primals, o, ct) => batched([...t.inputs, t, t], [...primals, o, ct], (s) => vjp(s.slice(0, k), s[k]!, s[k + 1]!))
  }
  return { t: customTensor(bIns, value.t, newRules), batched: true }
}
