/**
 * The rules of the control-flow `loop` node (see loop.ts) in each
 * interpretation. Each rule makes new sub-programs from the node's own,
 * by running the graph interpreters over them once (never per iteration),
 * and a new loop node over them, so the results nest to any order:
 *
 * - forward mode: a loop whose body is the body's jvp, carrying the
 *   tangents next to the primals (the carries whose tangents the body
 *   makes nonzero found by a fixpoint);
 * - reverse mode (scan): the forward node is made to also stack, per
 *   step, the residuals its backward needs (with `checkpoint`, only its
 *   carries); a second scan runs backwards over them, carrying the
 *   cotangent of the carry and summing those of the constants;
 *   `cond` runs the chosen branch's backward (recomputing it); `while`
 *   fails with ControlFlowError;
 * - batching: a loop over the batched body (batched carries found by a
 *   fixpoint); a `while` whose predicate is batched runs until every
 *   example is done, freezing the finished ones; a `cond` whose predicate
 *   is batched runs both branches and selects.
 */
import { ControlFlowError } from "../Errors.js"
import { bind } from "./bind.js"
import { batchGraph, dependentOrder, jvpGraph, vjpGraph } from "./interpret.js"
import { type CondParams, loopAvals, loopNode, loopOut, type LoopParams, type ScanParams, type WhileParams } from "./loop.js"
import * as O from "./ops.js"
import { inline, isOpen, makeProgram, type Program } from "./program.js"
import { type BatchArg, withBatch } from "./rules/batch.js"
import { zerosOf } from "./rules/jvp.js"
import { errorTensor, inputTensor, type Tensor } from "./tensor.js"

const isFloat = (t: Tensor): boolean => t.dtype === "float32" || t.dtype === "float64" || t.dtype === "complex64"

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

/** A fresh unbound input node like `t` (a parameter of a sub-program). */
export const freshInput = (t: { readonly shape: ReadonlyArray<number>; readonly dtype: Tensor["dtype"] }): Tensor =>
  inputTensor(t.shape, t.dtype, undefined, "scan")

/**
 * The program of `outputs` over `inputs` (any nodes of one graph), rebuilt
 * over fresh input nodes: a sub-program that refers to nothing outside it.
 */
export const closeProgram = (inputs: ReadonlyArray<Tensor>, outputs: ReadonlyArray<Tensor>): Program => {
  const fresh = inputs.map(freshInput)
  return makeProgram(fresh, inline(makeProgram(inputs, outputs), fresh))
}

/** A scan whose summing carries (`accumulate`) are written out in its body, as every rule expects. */
const plainScan = (p: ScanParams): ScanParams => {
  const acc = p.accumulate
  if (acc === undefined || acc.length === 0) return p
  const { body } = p
  const outputs = body.outputs.map((o, i) => (acc.includes(i) ? O.add(body.inputs[i]!, o) : o))
  return { ...p, body: makeProgram(body.inputs, outputs), accumulate: undefined }
}

// ------------------------------------------------------------------ forward mode

/** The tangents of a program's outputs for tangent inputs at the `active` inputs. */
const jvpOf = (p: Program, active: ReadonlyArray<boolean>) => {
  const tans = p.inputs.map((x, j) => (active[j] ? freshInput(x) : null))
  const seeds = new Map<Tensor, Tensor>()
  p.inputs.forEach((x, j) => {
    if (tans[j] !== null) seeds.set(x, tans[j]!)
  })
  return { tans, outs: jvpGraph(p.outputs, seeds) }
}

/** Marks the carries (inputs `0..nc`) whose outputs have a tangent; true when one was added. */
const widen = (active: boolean[], outs: ReadonlyArray<unknown>, nc: number, like: ReadonlyArray<Tensor>): boolean => {
  let changed = false
  for (let i = 0; i < nc; i++)
    if (!active[i] && outs[i] !== null && isFloat(like[i]!)) {
      active[i] = true
      changed = true
    }
  return changed
}

/** The tangents of a loop node's results, given its operands' tangents (null: zero). */
export const loopJvp = (node: Tensor, ts: ReadonlyArray<Tensor | null>): Array<Tensor | null> => {
  const params = node.params as LoopParams
  const p = params.kind === "scan" ? plainScan(params) : params
  const ops = node.inputs
  switch (p.kind) {
    case "scan": {
      const { body, numCarry: nc, numX: nx } = p
      const active = body.inputs.map((x, j) => ts[j] !== null && isFloat(x))
      let r = jvpOf(body, active)
      while (widen(active, r.outs, nc, body.inputs)) r = jvpOf(body, active)
      const ac = range(nc).filter((i) => active[i])
      const ax = range(nx).map((j) => nc + j).filter((j) => active[j])
      const ak = range(body.inputs.length - nc - nx).map((k) => nc + nx + k).filter((k) => active[k])
      const ny = body.outputs.length - nc
      const ay = range(ny).filter((j) => r.outs[nc + j] !== null)
      const prog = closeProgram(
        [...body.inputs.slice(0, nc), ...ac.map((i) => r.tans[i]!), ...body.inputs.slice(nc, nc + nx), ...ax.map((j) => r.tans[j]!), ...body.inputs.slice(nc + nx), ...ak.map((k) => r.tans[k]!)],
        [...body.outputs.slice(0, nc), ...ac.map((i) => r.outs[i] ?? zerosOf(body.outputs[i]!)), ...body.outputs.slice(nc), ...ay.map((j) => r.outs[nc + j]!)]
      )
      const outs = loopNode(
        { kind: "scan", body: prog, length: p.length, reverse: p.reverse, numCarry: nc + ac.length, numX: nx + ax.length, checkpoint: p.checkpoint },
        [...ops.slice(0, nc), ...ac.map((i) => ts[i] ?? zerosOf(ops[i]!)), ...ops.slice(nc, nc + nx), ...ax.map((j) => ts[j]!), ...ops.slice(nc + nx), ...ak.map((k) => ts[k]!)]
      )
      const c2 = nc + ac.length
      return [...range(nc).map((i) => (active[i] ? outs[nc + ac.indexOf(i)]! : null)), ...range(ny).map((j) => (ay.includes(j) ? outs[c2 + ny + ay.indexOf(j)]! : null))]
    }
    case "while": {
      const { body, cond, numCarry: nc } = p
      const active = body.inputs.map((x, j) => ts[j] !== null && isFloat(x))
      let r = jvpOf(body, active)
      while (widen(active, r.outs, nc, body.inputs)) r = jvpOf(body, active)
      const ac = range(nc).filter((i) => active[i])
      const ak = range(body.inputs.length - nc).map((k) => nc + k).filter((k) => active[k])
      const layout = (ins: ReadonlyArray<Tensor>, tans: ReadonlyArray<Tensor | null>) => [
        ...ins.slice(0, nc),
        ...ac.map((i) => tans[i] ?? freshInput(ins[i]!)),
        ...ins.slice(nc),
        ...ak.map((k) => tans[k] ?? freshInput(ins[k]!))
      ]
      const newBody = closeProgram(layout(body.inputs, r.tans), [...body.outputs, ...ac.map((i) => r.outs[i] ?? zerosOf(body.outputs[i]!))])
      const newCond = closeProgram(layout(cond.inputs, []), cond.outputs)
      const outs = loopNode({ kind: "while", body: newBody, cond: newCond, numCarry: nc + ac.length }, [
        ...ops.slice(0, nc),
        ...ac.map((i) => ts[i] ?? zerosOf(ops[i]!)),
        ...ops.slice(nc),
        ...ak.map((k) => ts[k]!)
      ])
      return range(nc).map((i) => (active[i] ? outs[nc + ac.indexOf(i)]! : null))
    }
    case "cond": {
      const off = p.hasPred ? 1 : 0
      const operands = ops.slice(off)
      const active = operands.map((x, j) => ts[off + j] !== null && isFloat(x))
      const rs = p.branches.map((b) => jvpOf(b, active))
      const nOut = p.branches[0]!.outputs.length
      const ao = range(nOut).filter((i) => rs.some((r) => r.outs[i] !== null))
      const aj = range(operands.length).filter((j) => active[j])
      const branches = p.branches.map((b, bi) =>
        closeProgram([...b.inputs, ...aj.map((j) => rs[bi]!.tans[j]!)], [...b.outputs, ...ao.map((i) => rs[bi]!.outs[i] ?? zerosOf(b.outputs[i]!))])
      )
      const outs = loopNode({ kind: "cond", branches, hasPred: p.hasPred }, [...ops, ...aj.map((j) => ts[off + j]!)])
      return range(nOut).map((i) => (ao.includes(i) ? outs[nOut + ao.indexOf(i)]! : null))
    }
  }
}

// ------------------------------------------------------------------ batching

/** A program's outputs with the inputs marked in `bIn` given a leading batch axis of size n. */
const batchOf = (p: Program, bIn: ReadonlyArray<boolean>, n: number) => {
  const ins = p.inputs.map((x, j) => (bIn[j] ? freshInput({ shape: [n, ...x.shape], dtype: x.dtype }) : x))
  const map = new Map<Tensor, Tensor>()
  p.inputs.forEach((x, j) => {
    if (bIn[j]) map.set(x, ins[j]!)
  })
  return { ins, res: batchGraph(p.outputs, map, n) }
}

/** Marks the carries whose outputs are batched; true when one was added. */
const widenBatched = (bIn: boolean[], res: ReadonlyArray<BatchArg>, nc: number): boolean => {
  let changed = false
  for (let i = 0; i < nc; i++)
    if (!bIn[i] && res[i]!.batched) {
      bIn[i] = true
      changed = true
    }
  return changed
}

/** Moves axis 0 of `t` to position 1 (or back). */
const swap01 = (t: Tensor): Tensor => bind("transpose", [t], { perm: [1, 0, ...range(t.ndim - 2).map((d) => d + 2)] })

/** `where(pred, a, b)` for a batched bool predicate [n] and batched values [n, ...]. */
const select = (pred: Tensor, a: Tensor, b: Tensor): Tensor => {
  const p = O.broadcastTo(bind("reshape", [pred], { shape: [pred.shape[0]!, ...a.shape.slice(1).map(() => 1)] }), a.shape)
  return O.where(p, a, b)
}

/** The batched results of a loop node, given its batched operands. */
export const loopBatch = (node: Tensor, args: ReadonlyArray<BatchArg>, n: number): BatchArg[] => {
  const p = node.params as LoopParams
  switch (p.kind) {
    case "scan":
      return scanBatch(plainScan(p), args, n)
    case "while":
      return whileBatch(p, args, n)
    case "cond":
      return condBatch(p, args, n)
  }
}

const scanBatch = (p: ScanParams, args: ReadonlyArray<BatchArg>, n: number): BatchArg[] => {
  const { body, numCarry: nc, numX: nx } = p
  const bIn = args.map((a) => a.batched)
  let r = batchOf(body, bIn, n)
  while (widenBatched(bIn, r.res, nc)) r = batchOf(body, bIn, n)
  const outputs = r.res.map((b, i) => (i < nc && bIn[i] ? withBatch(b, n) : b.t))
  const prog = closeProgram(r.ins, outputs)
  const operands = args.map((a, j) => (j < nc ? (bIn[j] ? withBatch(a, n) : a.t) : j < nc + nx && a.batched ? swap01(a.t) : a.t))
  const outs = loopNode({ kind: "scan", body: prog, length: p.length, reverse: p.reverse, numCarry: nc, numX: nx, checkpoint: p.checkpoint }, operands)
  return outs.map((t, i) => (i < nc ? { t, batched: bIn[i]! } : r.res[i]!.batched ? { t: swap01(t), batched: true } : { t, batched: false }))
}

const whileBatch = (p: WhileParams, args: ReadonlyArray<BatchArg>, n: number): BatchArg[] => {
  const { body, cond, numCarry: nc } = p
  const bIn = args.map((a) => a.batched)
  let r = batchOf(body, bIn, n)
  while (widenBatched(bIn, r.res, nc)) r = batchOf(body, bIn, n)
  let predBatched = batchOf(cond, bIn, n).res[0]!.batched
  if (predBatched) {
    // every example runs until its own predicate is false: all carries are batched
    for (let i = 0; i < nc; i++) bIn[i] = true
    r = batchOf(body, bIn, n)
  }
  const c = batchOf(cond, bIn, n)
  predBatched = c.res[0]!.batched
  const operands = args.map((a, j) => (bIn[j] ? withBatch(a, n) : a.t))
  let newBody: Program
  let newCond: Program
  if (!predBatched) {
    newBody = closeProgram(r.ins, r.res.map((b, i) => (bIn[i] ? withBatch(b, n) : b.t)))
    newCond = closeProgram(c.ins, [c.res[0]!.t])
  } else {
    // the body runs the batched predicate too and keeps the carries of finished examples
    const predIn = inline(makeProgram(c.ins, [c.res[0]!.t]), r.ins)[0]!
    newBody = closeProgram(r.ins, r.res.map((b, i) => select(predIn, withBatch(b, n), r.ins[i]!)))
    const any = O.greater(bind("reduceMax", [O.cast(c.res[0]!.t, "float32")], { axes: [0] }), 0)
    newCond = closeProgram(c.ins, [any])
  }
  const outs = loopNode({ kind: "while", body: newBody, cond: newCond, numCarry: nc }, operands)
  return outs.map((t, i) => ({ t, batched: bIn[i]! }))
}

const condBatch = (p: CondParams, args: ReadonlyArray<BatchArg>, n: number): BatchArg[] => {
  const off = p.hasPred ? 1 : 0
  const operands = args.slice(off)
  const bIn = operands.map((a) => a.batched)
  const rs = p.branches.map((b) => batchOf(b, bIn, n))
  const nOut = p.branches[0]!.outputs.length
  const bOut = range(nOut).map((i) => rs.some((r) => r.res[i]!.batched))
  const pred = p.hasPred ? args[0]! : undefined
  if (pred === undefined || !pred.batched) {
    const branches = rs.map((r) => closeProgram(r.ins, r.res.map((b, i) => (bOut[i] ? withBatch(b, n) : b.t))))
    const outs = loopNode({ kind: "cond", branches, hasPred: p.hasPred }, [...(pred ? [pred.t] : []), ...operands.map((a) => a.t)])
    return outs.map((t, i) => ({ t, batched: bOut[i]! }))
  }
  // a batched predicate: both branches run, each example takes its own
  const vals = rs.map((r) => inline(makeProgram(r.ins, r.res.map((b) => withBatch(b, n))), operands.map((a) => a.t)))
  return range(nOut).map((i) => ({ t: select(pred.t, vals[0]![i]!, vals[1]![i]!), batched: true }))
}

// ------------------------------------------------------------------ reverse mode

/** What reverse mode through a scan body needs, made once per body and cotangent pattern. */
interface ScanVjp {
  /** The body with the residuals appended to its ys. */
  readonly forward: Program
  /** The backward body: carries [ct carry (float carries), sums of ct consts], xs [residuals, ct ys, xs], consts. */
  readonly backward: Program
  readonly numRes: number
  readonly fc: ReadonlyArray<number>
  readonly fx: ReadonlyArray<number>
  readonly fk: ReadonlyArray<number>
  readonly ctY: ReadonlyArray<number>
  /** The constants (positions in fk) whose cotangents are summed in a carry of the backward scan. */
  readonly accK: ReadonlyArray<number>
  /**
   * The constants whose per-step cotangent is a product `a_t b_t` with a
   * small inner dimension (an outer product, as a weight matrix's): the
   * backward scan stacks `a_t` and `b_t` as ys and the sum over the steps
   * is one matmul after the loop, instead of a rank-1 update per step.
   */
  readonly hoistK: ReadonlyArray<number>
  /** A failure of the body's own reverse mode (a whileLoop inside it). */
  readonly error: Tensor | undefined
}

const vjpCache = new WeakMap<Program, Map<string, ScanVjp>>()

const isLayoutOp = (op: string): boolean => op === "broadcast" || op === "reshape" || op === "transpose"

const childrenOf = (t: Tensor): ReadonlyArray<Tensor> =>
  t.op === "input" ? (t.value ? [t.value] : []) : t.op === "custom" ? [...t.inputs, t.value!] : t.inputs

const scanVjpInfo = (body: Program, nc: number, nx: number, checkpoint: boolean, ctY: ReadonlyArray<number>): ScanVjp => {
  const key = `${checkpoint}:${nc}:${nx}:${ctY.join(",")}`
  let byKey = vjpCache.get(body)
  if (byKey === undefined) vjpCache.set(body, (byKey = new Map()))
  const hit = byKey.get(key)
  if (hit !== undefined) return hit
  const carryIns = body.inputs.slice(0, nc)
  const xIns = body.inputs.slice(nc, nc + nx)
  const kIns = body.inputs.slice(nc + nx)
  const fc = range(nc).filter((i) => isFloat(carryIns[i]!))
  const fx = range(nx).filter((j) => isFloat(xIns[j]!))
  const fk = range(kIns.length).filter((k) => isFloat(kIns[k]!))
  const ctC = fc.map((i) => freshInput(body.outputs[i]!))
  const ctYs = ctY.map((j) => freshInput(body.outputs[nc + j]!))
  const cts = body.outputs.map((_, o) => (o < nc ? (fc.includes(o) ? ctC[fc.indexOf(o)]! : null) : ctY.includes(o - nc) ? ctYs[ctY.indexOf(o - nc)]! : null))
  const g = vjpGraph(body.outputs, cts, [...fc.map((i) => carryIns[i]!), ...fx.map((j) => xIns[j]!), ...fk.map((k) => kIns[k]!)])
  const error = g.find((t) => t.op === "error")
  const gC = g.slice(0, fc.length)
  const gX = g.slice(fc.length, fc.length + fx.length)
  const gK = g.slice(fc.length + fx.length)
  let res: Tensor[]
  if (checkpoint) res = [...carryIns]
  else {
    // residuals: the primal values the backward reads that change from step to step
    const ctDep = new Set(dependentOrder(g, new Set([...ctC, ...ctYs]), "all"))
    const cands = new Set<Tensor>()
    const add = (c: Tensor) => {
      while (isLayoutOp(c.op) && c.input(0).symbolic) c = c.input(0) // keep the smaller base, recompute the view
      if (c.symbolic) cands.add(c)
    }
    for (const t of g) if (!ctDep.has(t)) add(t)
    for (const t of ctDep) for (const c of childrenOf(t)) if (!ctDep.has(c)) add(c)
    const varying = new Set(dependentOrder([...cands], new Set([...carryIns, ...xIns]), "all"))
    res = [...cands].filter((c) => varying.has(c) && !xIns.includes(c))
  }
  const forward = makeProgram(body.inputs, [...body.outputs, ...res])
  const hoistK: number[] = []
  const accK: number[] = []
  gK.forEach((gk, r) => {
    const [a, b] = gk.inputs
    // (not under checkpoint, which keeps memory to the carries)
    const small = !checkpoint && gk.op === "matmul" && gk.ndim === 2 && a!.ndim === 2 && b!.ndim === 2 && 2 * a!.shape[1]! * (a!.shape[0]! + b!.shape[1]!) <= gk.size
    ;(small ? hoistK : accK).push(r)
  })
  const accIns = accK.map((r) => freshInput(kIns[fk[r]!]!))
  // the other sums of the constants' cotangents are accumulating carries: the body gives each step's part
  const backward = closeProgram(
    [...ctC, ...accIns, ...res, ...ctYs, ...xIns, ...kIns],
    [...gC, ...accK.map((r) => gK[r]!), ...gX, ...hoistK.map((r) => gK[r]!.input(0)), ...hoistK.map((r) => gK[r]!.input(1))]
  )
  if (error === undefined && isOpen(backward)) throw new Error("internal: the backward body of a scan reads a value it was not given")
  const info: ScanVjp = { forward, backward, numRes: res.length, fc, fx, fk, ctY, accK, hoistK, error }
  byKey.set(key, info)
  return info
}

const whileReverse = (): Tensor =>
  errorTensor(
    new ControlFlowError({
      message:
        "whileLoop: reverse-mode differentiation (grad, vjp, jacrev, hessian) through a whileLoop is not supported, since its number of iterations is not known in advance; use fori with number bounds, or scan, which store what reverse mode needs (forward mode, jvp and jacfwd, works)"
    })
  )

/** The cotangents of a loop node's operands given those of its results (null: zero). */
export const loopVjp = (node: Tensor, given: ReadonlyArray<Tensor | null | undefined>): Array<Tensor | null> => {
  const p = node.params as LoopParams
  const cts = loopAvals(p).map((_, i) => given[i] ?? null)
  switch (p.kind) {
    case "while": {
      const e = whileReverse()
      return node.inputs.map((x) => (isFloat(x) ? e : null))
    }
    case "cond":
      return condVjp(node, p, cts)
    case "scan":
      return scanVjp(node, plainScan(p), cts)
  }
}

const condVjp = (node: Tensor, p: CondParams, cts: ReadonlyArray<Tensor | null>): Array<Tensor | null> => {
  const off = p.hasPred ? 1 : 0
  const operands = node.inputs.slice(off)
  const b0 = p.branches[0]!
  const co = range(b0.outputs.length).filter((i) => cts[i] !== null && isFloat(b0.outputs[i]!))
  const fj = range(operands.length).filter((j) => isFloat(operands[j]!))
  const branches = p.branches.map((b) => {
    const ctIns = co.map((i) => freshInput(b.outputs[i]!))
    const g = vjpGraph(b.outputs, b.outputs.map((_, i) => (co.includes(i) ? ctIns[co.indexOf(i)]! : null)), fj.map((j) => b.inputs[j]!))
    return { g, prog: closeProgram([...b.inputs, ...ctIns], g) }
  })
  const error = branches.flatMap((b) => b.g).find((t) => t.op === "error")
  if (error) return node.inputs.map((x) => (isFloat(x) ? error : null))
  const outs = loopNode({ kind: "cond", branches: branches.map((b) => b.prog), hasPred: p.hasPred }, [...node.inputs, ...co.map((i) => cts[i]!)])
  return [...(p.hasPred ? [null] : []), ...range(operands.length).map((j) => (fj.includes(j) ? outs[fj.indexOf(j)]! : null))]
}

const scanVjp = (node: Tensor, p: ScanParams, cts: ReadonlyArray<Tensor | null>): Array<Tensor | null> => {
  const { numCarry: nc, numX: nx } = p
  // residuals another backward pass reads, being differentiated themselves, are ys like any other
  const residualCts = p.residuals !== undefined && cts.slice(p.residuals.first).some((c) => c !== null)
  const original = p.residuals !== undefined && !residualCts ? p.residuals.original : p.body
  const nyOrig = original.outputs.length - nc
  const ctY = range(nyOrig).filter((j) => cts[nc + j] !== null && isFloat(original.outputs[nc + j]!))
  const info = scanVjpInfo(original, nc, nx, p.checkpoint, ctY)
  if (info.error !== undefined) return node.inputs.map((x) => (isFloat(x) ? info.error! : null))
  const key = `${p.checkpoint}:${ctY.join(",")}`
  const first = nc + nyOrig
  let resid: Tensor[]
  if (p.residuals === undefined) {
    // the forward node itself stacks the residuals (the forward pass runs once)
    const upgraded: ScanParams = { ...p, body: info.forward, residuals: { original, key, first } }
    node.params = upgraded
    resid = range(info.numRes).map((r) => loopOut(node, first + r))
  } else if (p.residuals.key === key && p.residuals.original === original) resid = range(info.numRes).map((r) => loopOut(node, first + r))
  else {
    const outs = loopNode({ ...p, body: info.forward, residuals: { original, key, first } }, node.inputs)
    resid = outs.slice(first)
  }
  const ops = node.inputs
  const xs = ops.slice(nc, nc + nx)
  const ks = ops.slice(nc + nx)
  const { fc, fx, fk, accK, hoistK } = info
  const numCarry = fc.length + accK.length
  const outs = loopNode(
    {
      kind: "scan",
      body: info.backward,
      length: p.length,
      reverse: !p.reverse,
      numCarry,
      numX: info.numRes + info.ctY.length + nx,
      checkpoint: false,
      accumulate: accK.map((_, r) => fc.length + r)
    },
    [...fc.map((i) => cts[i] ?? zerosOf(ops[i]!)), ...accK.map((r) => zerosOf(ks[fk[r]!]!)), ...resid, ...info.ctY.map((j) => cts[nc + j]!), ...xs, ...ks]
  )
  /** Σ_t a_t b_t from the stacked a [T, m, p] and b [T, p, n]: one matmul. */
  const summed = (h: number): Tensor => {
    const a = outs[numCarry + fx.length + h]!, b = outs[numCarry + fx.length + hoistK.length + h]!
    const [T, m, q] = a.shape as [number, number, number]
    const n = b.shape[2]!
    const a2 = bind("reshape", [bind("transpose", [a], { perm: [1, 0, 2] })], { shape: [m, T * q] })
    return bind("matmul", [a2, bind("reshape", [b], { shape: [T * q, n] })], {})
  }
  return ops.map((_, j) => {
    if (j < nc) return fc.includes(j) ? outs[fc.indexOf(j)]! : null
    if (j < nc + nx) return fx.includes(j - nc) ? outs[numCarry + fx.indexOf(j - nc)]! : null
    const r = fk.indexOf(j - nc - nx)
    if (r < 0) return null
    return accK.includes(r) ? outs[fc.length + accK.indexOf(r)]! : summed(hoistK.indexOf(r))
  })
}
