/**
 * Planning: turning a tensor graph into a schedule of kernel calls over
 * numbered buffer slots, for one backend. A plan is computed once and may be
 * executed many times (see `execute.ts`; `jit` keeps its plans).
 *
 * What planning decides (nothing here touches a buffer):
 * - the order of kernel calls (operands before users; iterative, so long
 *   chains are fine);
 * - common subexpressions: equal primitive applications of 4096+ elements
 *   (of any size in a plan that is kept, see PLAN_MIN_KEPT)
 *   share one slot;
 * - views: operands that are chains of transpose / broadcast / slice /
 *   reshape nodes are read in place by the backend's `viewKernels`;
 * - fusion: groups of elementwise nodes of one shape whose results are read
 *   only inside the group run as one call of the backend's `fusion` kernel;
 * - liveness: the last step that reads each slot, so the executor gives a
 *   buffer back right after its last use (an evaluation's peak memory is what
 *   is live, not everything it computed).
 *
 * Sources of a plan are `const` slots (tensors holding host data or a buffer
 * of this backend) and `input` slots (the unbound input nodes of a traced
 * program, bound anew at every execution).
 */
import type { BackendShape, FusedOp, Kernel, KernelArg } from "../Backend.js"
import type { DType } from "../DType.js"
import type { Aval } from "./bind.js"
import { BackendError, ConcretizationError, type TensorError } from "../Errors.js"
import type { Prim, PrimParams } from "./primitives.js"
import { fmt, shapeEq, stridesOf } from "./shape.js"
import { Column, type Indexed, IntColumn } from "./columns.js"
import { newPass, originOf, type Tensor } from "./tensor.js"

/** A failure raised inside planning or evaluation (caught and typed at the Effect boundary). */
export class EvalFailure {
  constructor(readonly error: TensorError) {}
}

const checkDtype = (backend: BackendShape, t: Tensor): void => {
  if (!backend.supports(t.dtype))
    throw new EvalFailure(
      new BackendError({
        message: `${backend.name} backend: dtype ${t.dtype} is not supported (tensor of shape ${fmt(t.shape)}); the CPU backend (CpuBackend.layer) supports it`
      })
    )
}

// ------------------------------------------------------------------ views

/**
 * An operand read through a strided view of another node (its `base`):
 * element `idx` is `base[offset + Σ idx[d] · strides[d]]`.
 */
interface View {
  readonly base: Tensor
  readonly strides: ReadonlyArray<number>
  readonly offset: number
}

const isContiguous = (shape: ReadonlyArray<number>, strides: ReadonlyArray<number>, offset: number): boolean => {
  if (offset !== 0) return false
  let acc = 1
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== acc) return false
    acc *= shape[d]!
  }
  return true
}

/** Whether a node is a layout change that a view can express. */
const isViewOp = (op: string): boolean => op === "transpose" || op === "broadcast" || op === "slice" || op === "reshape"

/**
 * How `x` reads its data when it is a chain of transpose / broadcast /
 * reshape / slice nodes that are not evaluated yet: a view of the first node
 * below the chain. Undefined when `x` is no such chain (or is evaluated):
 * it is then read as it is.
 */
const viewOf = (x: Tensor, ready: (t: Tensor) => boolean, R: (t: Tensor) => Tensor): View | undefined => {
  if (!isViewOp(x.op) || ready(x)) return undefined
  const y = R(x.input(0))
  const v = viewOf(y, ready, R) ?? { base: y, strides: stridesOf(y.shape), offset: 0 }
  switch (x.op) {
    case "transpose": {
      const { perm } = x.params as PrimParams["transpose"]
      return { base: v.base, strides: perm.map((p) => v.strides[p]!), offset: v.offset }
    }
    case "broadcast": {
      const { dims } = x.params as PrimParams["broadcast"]
      const strides = new Array<number>(x.shape.length).fill(0)
      dims.forEach((d, i) => (strides[d] = y.shape[i] === 1 ? 0 : v.strides[i]!))
      return { base: v.base, strides, offset: v.offset }
    }
    case "slice": {
      const { starts } = x.params as PrimParams["slice"]
      let offset = v.offset
      starts.forEach((s, d) => (offset += s * v.strides[d]!))
      return { base: v.base, strides: v.strides, offset }
    }
    default: {
      // reshape
      if (isContiguous(y.shape, v.strides, v.offset)) return { base: v.base, strides: stridesOf(x.shape), offset: 0 }
      // only size-1 axes inserted or removed: keep the strides of the others
      const ys = y.shape.flatMap((d, i) => (d === 1 ? [] : [i]))
      const xs = x.shape.flatMap((d, i) => (d === 1 ? [] : [i]))
      if (ys.length === xs.length && ys.every((i, j) => y.shape[i] === x.shape[xs[j]!])) {
        const strides = new Array<number>(x.shape.length).fill(0)
        xs.forEach((xi, j) => (strides[xi] = v.strides[ys[j]!]!))
        return { base: v.base, strides, offset: v.offset }
      }
      return undefined // materialized by the reshape kernel
    }
  }
}

/**
 * How one primitive node is computed: the nodes to evaluate first (`deps`),
 * and how to call the backend: its own kernel, a view kernel reading some
 * operands through strided views, or a fused elementwise program over the
 * leaves of a group of nodes.
 */
interface NodePlan {
  readonly deps: ReadonlyArray<Tensor>
  readonly operands: ReadonlyArray<Tensor>
  readonly views: ReadonlyArray<View | undefined> | undefined
  readonly program: ReadonlyArray<FusedOp> | undefined
}

/** At most this many operations in one fused group (bounds the generated code). */
const MAX_GROUP = 48
/**
 * Below this many elements a node is not fused, nor looked up for common
 * subexpressions, in a plan made for one evaluation (planning a group costs
 * more than the passes it saves). A plan that is kept and run many times
 * (`jit`) fuses and merges nodes of every size (PLAN_MIN_KEPT), as a loop
 * body's plan does: planning is paid once, and each group saves a kernel
 * call per replay. Measured with the quick start's training step (MLP
 * 2-32-32-1 on 400 points, Adam, jitted; 6 Dec 2026, three alternated runs
 * of 1,500 steps): 151 kernels per step at 512, 57 at 1, and 873–887 µs
 * against 641–741 µs per step; the bench/ rows with larger tensors (MLP,
 * hessians, jacobians, the chain gradient) were level.
 */
const PLAN_MIN = 4096
const PLAN_MIN_KEPT = 1

/** How a plan is made. */
export interface PlanOptions {
  /** Whether the plan is kept and run many times (then smaller groups are worth fusing). */
  readonly kept?: boolean
  /** The smallest node fused (overrides `kept`): a loop body, planned once and run at every step, fuses even small chains. */
  readonly fuseMin?: number | undefined
}

/**
 * One pass over the nodes to evaluate (reachable from `roots`, stopping at
 * evaluated nodes), in post-order:
 * - `rep`: common subexpressions. A non-root primitive application equal to
 *   an earlier one (same primitive, same operands after merging, same
 *   parameters and dtype) is computed once: it maps to that one. Graphs
 *   built by transforms repeat work (the `sin(x)` of a forward pass and of
 *   its derivative are two nodes);
 * - `uses`: how many consumers each node has, counting merged nodes once;
 * - `escapes`: the nodes some consumer reads other than as an elementwise
 *   op of their shape that could be fused (or that are roots).
 * Both only for nodes of `cseMin` elements or more.
 */
const analyze = (
  roots: ReadonlyArray<Tensor>,
  rootSet: ReadonlySet<Tensor>,
  isReady: (t: Tensor) => boolean,
  fusesAt: (t: Tensor) => boolean,
  cseMin: number
): Analysis => {
  // The nodes done are marked with this walk's number and numbered (`slot`, in post-order); ready
  // nodes are not marked (their marks are the plan's). Consumer counts and escapes are columns by
  // that number, not Maps of nodes: a long loop's graph has 10⁵ nodes of this size and more.
  const pass = newPass()
  let nodes = 0
  const uses = new IntColumn()
  const escaped = new IntColumn()
  const rep = new Map<Tensor, Tensor>()
  const R = (x: Tensor): Tensor => rep.get(x) ?? x
  // equal applications: by a hash of their primitive, dtype and operands, checked in full
  const table = new Map<number, Tensor | Tensor[]>()
  // numbers for ready operands (a node done here is its own number)
  const ids = new Map<Tensor, number>()
  const idOf = (x: Tensor): number => {
    if (x.mark === pass) return x.slot
    let id = ids.get(x)
    if (id === undefined) ids.set(x, (id = -1 - ids.size))
    return id
  }
  const stack = new Column<Tensor>()
  const expanded = new IntColumn()
  for (const r of roots) {
    stack.push(r)
    expanded.push(0)
  }
  while (stack.length > 0) {
    const t = stack.pop()
    const wasExpanded = expanded.pop() === 1
    if (t.mark === pass || isReady(t)) continue
    // an input or custom node is seen through its value; a primitive's operands are read through `arity` and `input` (no array per node)
    const v = t.value
    const n = v !== undefined ? 1 : t.arity
    if (!wasExpanded) {
      stack.push(t)
      expanded.push(1)
      for (let i = n - 1; i >= 0; i--) {
        const x = v !== undefined ? v : t.input(i)
        if (x.mark !== pass) {
          stack.push(x)
          expanded.push(0)
        }
      }
      continue
    }
    t.mark = pass
    t.slot = nodes++
    uses.push(0)
    escaped.push(rootSet.has(t) ? 1 : 0)
    if (t.size >= cseMin && !rootSet.has(t) && t.value === undefined && t.op !== "const" && t.op !== "input" && t.op !== "custom" && t.op !== "error") {
      let h = hashString(t.op) ^ Math.imul(hashString(t.dtype), 0x9e3779b1)
      for (let i = 0; i < n; i++) h = (Math.imul(h, 1000003) + idOf(R(t.input(i)))) | 0
      const bucket = table.get(h)
      const prev = bucket === undefined ? undefined : Array.isArray(bucket) ? bucket.find((c) => sameApplication(c, t, R)) : sameApplication(bucket, t, R) ? bucket : undefined
      if (prev !== undefined) {
        rep.set(t, prev)
        continue // its operands are not used through it
      }
      if (bucket === undefined) table.set(h, t)
      else if (Array.isArray(bucket)) bucket.push(t)
      else table.set(h, [bucket, t])
    }
    // consumers are counted only for nodes large enough to be fused (the only ones asked about)
    const fuses = fusesAt(t)
    for (let i = 0; i < n; i++) {
      const x = v !== undefined ? v : t.input(i)
      if (x.size < cseMin) continue
      const y = R(x)
      if (y.mark !== pass) continue // a ready node: never asked about
      uses.data[y.slot]!++
      if (!fuses || !sameShape(x, t)) escaped.data[y.slot] = 1
    }
  }
  // (asked only about nodes not planned yet, whose marks are still this walk's)
  return {
    rep,
    nodes,
    usesOf: (y) => (y.mark === pass ? uses.data[y.slot]! : 0),
    escapes: (y) => y.mark === pass && escaped.data[y.slot] === 1
  }
}

/** What `analyze` finds. */
interface Analysis {
  readonly rep: Map<Tensor, Tensor>
  readonly nodes: number
  /** How many consumers a node not yet planned has. */
  readonly usesOf: (t: Tensor) => number
  /** Whether some consumer of a node not yet planned reads it other than as a fusible elementwise op of its shape. */
  readonly escapes: (t: Tensor) => boolean
}

const stringHashes = new Map<string, number>()
const hashString = (s: string): number => {
  let h = stringHashes.get(s)
  if (h === undefined) {
    h = 0
    for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0
    stringHashes.set(s, h)
  }
  return h
}

/** The dtypes of `x`'s operands (one array, read through `arity` and `input`), as `Fusion.canFuse` takes them. */
const operandDtypes = (x: Tensor): DType[] => {
  const ds = new Array<DType>(x.arity)
  for (let i = 0; i < ds.length; i++) ds[i] = x.input(i).dtype
  return ds
}

/** Whether `c` (recorded with its operands merged) and `t` are the same application. */
const sameApplication = (c: Tensor, t: Tensor, R: (x: Tensor) => Tensor): boolean => {
  if (c.op !== t.op || c.dtype !== t.dtype || c.arity !== t.arity) return false
  for (let i = 0; i < t.arity; i++) if (R(c.input(i)) !== R(t.input(i))) return false
  return c.params === t.params || (c.params !== undefined && t.params !== undefined && JSON.stringify(c.params) === JSON.stringify(t.params))
}

const sameShape = (a: Tensor, b: Tensor): boolean => a.shape.length === b.shape.length && a.shape.every((d, k) => d === b.shape[k])

/**
 * Elementwise ops cheap enough to compute again inside each fused group
 * that reads them, rather than storing them once and reading them back: a
 * pass over memory costs more than a few arithmetic operations per element.
 */
const CHEAP = new Set<string>(["add", "sub", "mul", "neg", "max", "min", "abs", "sign", "greater", "less", "equal", "where"])


/** An operand read through a strided view of its slot's buffer (see `View`), with its own shape. */
export interface ViewArg {
  readonly shape: ReadonlyArray<number>
  readonly dtype: Aval["dtype"]
  readonly strides: ReadonlyArray<number>
  readonly offset: number
}

/**
 * The kernel calls of a plan, column by column (no object per step, so a
 * plan of a long unrolled loop stays small). Step i reads the slots
 * `args[argAt[i] .. argAt[i + 1])` (through `views[i]` where given), runs
 * `run[i]` (the backend kernel, or the program of a fused group for
 * `fusion.kernel`) with `params[i]`, fills slot `out[i]`, then frees the
 * slots `free[freeAt[i] .. freeAt[i + 1])` (read for the last time). A step
 * holds no graph node, so a kept plan does not keep its graph alive.
 */
export interface Steps {
  readonly count: number
  readonly out: Int32Array
  readonly run: Indexed<Kernel<Prim> | ReadonlyArray<FusedOp>>
  readonly params: Indexed<unknown>
  readonly argAt: Int32Array
  readonly args: Int32Array
  readonly views: Indexed<ReadonlyArray<ViewArg | undefined> | undefined>
  readonly freeAt: Int32Array
  readonly free: Int32Array
}

/** A schedule of kernel calls for one backend. */
export interface Plan {
  readonly backend: BackendShape
  readonly slots: number
  /** The shape and dtype of each slot (equal avals are one object). */
  readonly slotAvals: Indexed<Aval>
  /** The slots of sources that hold a const tensor's data (uploaded at execution if needed). */
  readonly consts: ReadonlyArray<readonly [number, Tensor]>
  /** The slot of each program input (bound at execution), in order. */
  readonly inputs: ReadonlyArray<number>
  readonly steps: Steps
  /** The slot of each root. */
  readonly outputs: ReadonlyArray<number>
  /** The shape and dtype of each root. */
  readonly outputAvals: ReadonlyArray<Aval>
}

/**
 * The params of a node that runs its own code instead of a backend kernel
 * (a control-flow `loop` and its `loopOut` projections): `run` is called
 * with the backend and the operands' buffers.
 */
export interface HostOpParams {
  readonly run: (backend: BackendShape, params: never, args: ReadonlyArray<KernelArg>, out: Aval) => unknown
}

const hostKernel = (backend: BackendShape, params: HostOpParams): Kernel<Prim> => (args, _p, out) => params.run(backend, params as never, args, out)

/** What an unbound input means while planning. */
export type Unbound = (t: Tensor) => TensorError

const vmapUnbound: Unbound = (t) =>
  originOf(t) === "scan"
    ? new ConcretizationError({
        message: `control flow: the value of a ${t.dtype}${fmt(t.shape)} tensor is not known while the body of a scan, fori, whileLoop or cond is traced (it runs once, on shapes and dtypes only); keep the computation in tensor ops (cond or Tensor.where instead of an if on a value)`
      })
    : originOf(t) === "jit"
    ? new ConcretizationError({
        message: `jit: the value of a ${t.dtype}${fmt(t.shape)} tensor is not known while jit traces the function (its JavaScript runs once, on shapes and dtypes only); keep the computation in tensor ops (Tensor.where instead of an if on a value), read values outside the jitted function, or make the argument static with staticArgnums`
      })
    : new ConcretizationError({ message: `the value of a ${t.dtype}${fmt(t.shape)} tensor batched by vmap is not known inside the mapped function` })

/**
 * Plans the evaluation of `roots` on `backend`. `inputs` are unbound input
 * nodes that become the plan's input slots (a traced program's arguments);
 * an input node bound to a value stands for that value, and any other
 * unbound input fails with the error `unbound` gives (a ConcretizationError).
 * Nodes that already hold a buffer of this backend, and `const` nodes, are
 * sources.
 */
export const planGraph = (
  backend: BackendShape,
  roots: ReadonlyArray<Tensor>,
  inputs: ReadonlyArray<Tensor> = [],
  unbound: Unbound = vmapUnbound,
  options: PlanOptions = {}
): Plan => {
  const minSize = options.fuseMin ?? (options.kept === true ? PLAN_MIN_KEPT : PLAN_MIN)
  // a node's slot is on the node (`t.slot`, valid where `t.mark === pass`): no Map of every node planned
  const pass = newPass()
  const hasSlot = (t: Tensor): boolean => t.mark === pass
  const setSlot = (t: Tensor, s: number): void => {
    t.mark = pass
    t.slot = s
  }
  const slotAvals = new Column<Aval>()
  const avals = new Map<number, Aval[]>()
  /** The slot aval of `t`: one object per distinct shape and dtype. */
  const avalOf = (t: Tensor): Aval => {
    let h = t.dtype.length * 31 + t.dtype.charCodeAt(t.dtype.length - 1)
    for (const d of t.shape) h = (Math.imul(h, 1000003) + d) | 0
    let bucket = avals.get(h)
    if (bucket === undefined) avals.set(h, (bucket = []))
    for (const a of bucket) if (a.dtype === t.dtype && shapeEq(a.shape, t.shape)) return a
    const a = { shape: t.shape, dtype: t.dtype }
    bucket.push(a)
    return a
  }
  // equal views, and equal lists of them, are one object (a long unrolled loop repeats a few)
  const viewArgs = new Map<string, ReadonlyArray<ViewArg | undefined>>()
  const viewArgsOf = (operands: ReadonlyArray<Tensor>, views: ReadonlyArray<View | undefined>): ReadonlyArray<ViewArg | undefined> => {
    let key = ""
    for (let i = 0; i < operands.length; i++) {
      const v = views[i]
      const x = operands[i]!
      key += v === undefined ? "|" : `|${x.dtype}[${x.shape.join(",")}]/${v.strides.join(",")}+${v.offset}`
    }
    let list = viewArgs.get(key)
    if (list === undefined)
      viewArgs.set(
        key,
        (list = operands.map((x, i) => {
          const v = views[i]
          return v === undefined ? undefined : { shape: x.shape, dtype: x.dtype, strides: v.strides, offset: v.offset }
        }))
      )
    return list
  }
  let slots = 0
  const consts = new Column<readonly [number, Tensor]>()
  // the steps' columns, grown as steps are planned
  const stepOut = new IntColumn()
  const stepRun = new Column<Kernel<Prim> | ReadonlyArray<FusedOp>>()
  const stepParams = new Column<unknown>()
  const argAt = new IntColumn()
  argAt.push(0)
  const argSlots = new IntColumn()
  const stepViews = new Column<ReadonlyArray<ViewArg | undefined> | undefined>()
  const inputSlots = inputs.map((t) => {
    if (hasSlot(t)) return t.slot
    setSlot(t, slots)
    slotAvals.push(avalOf(t))
    return slots++
  })
  const rootSet = new Set(roots)
  const stack = new Column<Tensor>()
  // the plans of fused groups waiting for their operands (a plan of views only is made again when the node is ready:
  // kept, the plans of every node waiting down a long chain would all be live at once)
  const plans = new Map<Tensor, NodePlan>()
  const hasBuf = (t: Tensor): boolean => t.buf !== undefined && t.buf.backend === backend
  const isReady = (t: Tensor): boolean => hasSlot(t) || hasBuf(t)
  const fusion = backend.fusion
  // The analysis (common subexpressions, consumer counts) is made when the
  // first node large enough to profit is reached: graphs of small tensors
  // skip it. Nodes planned before it read their inputs as they are, which
  // is always correct (a merged node then shares its equal's slot).
  let rep = new Map<Tensor, Tensor>()
  let analysis: Analysis | undefined
  // how many node computations duplication may add in all (at most one more per node)
  let dupBudget = 0
  const fusesAt = (x: Tensor): boolean =>
    fusion !== undefined && x.size >= minSize && !isViewOp(x.op) && x.op !== "const" && x.op !== "input" && x.op !== "custom" && x.op !== "error" &&
    fusion.canFuse(x.op as Prim, x.dtype, operandDtypes(x))
  const analyzeOnce = (): Analysis => {
    if (analysis === undefined) {
      analysis = analyze(roots, rootSet, isReady, fusesAt, minSize)
      rep = analysis.rep
      dupBudget = analysis.nodes
    }
    return analysis
  }
  /** The node that computes `x` (itself, or the equal node it was merged with). */
  const R = (x: Tensor): Tensor => rep.get(x) ?? x
  const inputsOf = (x: Tensor): ReadonlyArray<Tensor> => {
    const ins = x.inputs
    return rep.size === 0 || !ins.some((y) => rep.has(y)) ? ins : ins.map(R)
  }

  const fusible = (x: Tensor): boolean =>
    fusion !== undefined && !isViewOp(x.op) && x.op !== "const" && x.op !== "input" && x.op !== "custom" && x.op !== "error" && x.op !== "loop" && x.op !== "loopOut" &&
    !isReady(x) && !rep.has(x) && fusion.canFuse(x.op as Prim, x.dtype, operandDtypes(x))

  /**
   * The group of `t`: t and the fusible nodes of its shape below it whose
   * every consumer is in the group (a node read twice inside the group, as
   * sin(x) in a derivative, is computed once per element), at most
   * MAX_GROUP nodes, in an order where operands come first. A cheap node
   * (see CHEAP) read only by fusible nodes of its shape joins every group
   * that reads it, computed again in each, and is never stored: the mask
   * x > 0 of a ReLU is recomputed by the forward pass and by the gradient
   * instead of being written out and read back by both.
   */
  const fuseGroup = (t: Tensor): { members: Tensor[]; leaves: Tensor[] } | undefined => {
    if (t.size < minSize || !fusible(t)) return undefined
    const a = analyzeOnce()
    const sameShape = (y: Tensor) => y.shape.length === t.shape.length && y.shape.every((d, k) => d === t.shape[k])
    // candidates: reachable from t through fusible nodes of its shape
    const inSet = new Set<Tensor>([t])
    const queue = [t]
    for (let q = 0; q < queue.length; q++)
      for (const y of inputsOf(queue[q]!))
        if (!inSet.has(y) && inSet.size < MAX_GROUP && !rootSet.has(y) && sameShape(y) && fusible(y)) {
          inSet.add(y)
          queue.push(y)
        }
    if (inSet.size < 2) return undefined
    const group = settleGroup(t, inSet, a, true)
    if (group === undefined) return undefined
    if (group.dups <= dupBudget) {
      dupBudget -= group.dups
      return group
    }
    // over the budget: no duplication
    return settleGroup(t, inSet, a, false)
  }

  /**
   * Shrinks a candidate set to a group: a node computed here whose value is
   * needed elsewhere too (read from outside the group, or read by such a
   * node) stays only if it may be duplicated; the others are dropped (they
   * become leaves), until no such node is left. `dups` counts the nodes the
   * group computes that are computed elsewhere too.
   */
  const settleGroup = (
    t: Tensor,
    candidates: ReadonlySet<Tensor>,
    { usesOf, escapes }: Analysis,
    allowDup: boolean
  ): { members: Tensor[]; leaves: Tensor[]; dups: number } | undefined => {
    let inSet: ReadonlySet<Tensor> = candidates
    const duplicable = (y: Tensor): boolean => allowDup && CHEAP.has(y.op) && !escapes(y)
    for (;;) {
      const members = membersOf(t, inSet)
      if (members.length < 2) return undefined
      const inner = new Map<Tensor, number>()
      for (const x of members) for (const y of inputsOf(x)) inner.set(y, (inner.get(y) ?? 0) + 1)
      // members are in post-order: users after operands, so walking back reaches each user before its operands
      const elsewhere = new Set<Tensor>()
      for (let i = members.length - 2; i >= 0; i--) {
        const y = members[i]!
        if ((inner.get(y) ?? 0) < usesOf(y)) elsewhere.add(y)
      }
      for (let i = members.length - 1; i >= 0; i--) {
        const x = members[i]!
        if (elsewhere.has(x)) for (const y of inputsOf(x)) if (y !== t && inner.has(y) && inSet.has(y)) elsewhere.add(y)
      }
      const bad = [...elsewhere].filter((y) => !duplicable(y))
      if (bad.length === 0) {
        const memberSet = new Set(members)
        const leaves: Tensor[] = []
        const seenLeaf = new Set<Tensor>()
        for (const x of members)
          for (const y of inputsOf(x))
            if (!memberSet.has(y) && !seenLeaf.has(y)) {
              seenLeaf.add(y)
              leaves.push(y)
            }
        return { members, leaves, dups: elsewhere.size }
      }
      const next = new Set(members)
      for (const y of bad) next.delete(y)
      inSet = next
    }
  }

  /** t and the nodes of `inSet` that t reads through the set, in post-order (operands first). */
  const membersOf = (t: Tensor, inSet: ReadonlySet<Tensor>): Tensor[] => {
    // post-order from t inside the set
    const members: Tensor[] = []
    const placed = new Set<Tensor>()
    const todo: Array<[Tensor, number]> = [[t, 0]]
    placed.add(t)
    while (todo.length > 0) {
      const top = todo[todo.length - 1]!
      const xs = inputsOf(top[0])
      if (top[1] < xs.length) {
        const y = xs[top[1]++]!
        if (inSet.has(y) && !placed.has(y)) {
          placed.add(y)
          todo.push([y, 0])
        }
        continue
      }
      todo.pop()
      members.push(top[0])
    }
    return members
  }

  /** The views through which `operands` are read (undefined: none is a view). */
  const viewsOf = (operands: ReadonlyArray<Tensor>): Array<View | undefined> | undefined => {
    let views: Array<View | undefined> | undefined
    for (let i = 0; i < operands.length; i++) {
      const v = viewOf(operands[i]!, isReady, R)
      if (v !== undefined) (views ??= new Array<View | undefined>(operands.length))[i] = v
    }
    return views
  }

  /**
   * The node `viewOf(x)` reads (`x` itself where it is no view), without
   * making the view: a node waiting for its operands down a long chain is
   * visited again and again, and what it allocates each time would outlive
   * V8's young generation. A chain with a reshape is worked out by viewOf
   * (whether the reshape is a view depends on the strides below it).
   */
  const viewBase = (x: Tensor): Tensor => {
    let y = x
    while (isViewOp(y.op) && !isReady(y)) {
      if (y.op === "reshape") return viewOf(x, isReady, R)?.base ?? x
      y = R(y.input(0))
    }
    return y
  }

  /** The plan of `t` when it is computed by a fused group (the group's leaves and program); undefined otherwise. */
  const groupPlan = (t: Tensor): NodePlan | undefined => {
    const group = fuseGroup(t)
    if (group === undefined) return undefined
    const operands = group.leaves
    const index = new Map<Tensor, number>()
    group.leaves.forEach((x, i) => index.set(x, i))
    const program = group.members.map((x, k): FusedOp => {
      index.set(x, group.leaves.length + k)
      return { prim: x.op as Prim, operands: inputsOf(x).map((y) => index.get(y)!), dtype: x.dtype }
    })
    const views = viewsOf(operands)
    const deps = views === undefined ? operands : operands.map((x, i) => views[i]?.base ?? x)
    return { deps, operands, views, program }
  }

  const source = (t: Tensor): void => {
    checkDtype(backend, t)
    setSlot(t, slots)
    slotAvals.push(avalOf(t))
    consts.push([slots++, t])
  }

  const visit = (root: Tensor) => {
    stack.push(root)
    while (stack.length > 0) {
      const t = stack.top()
      if (hasSlot(t)) {
        stack.pop()
        continue
      }
      if (t.op === "error") throw new EvalFailure(t.error!)
      if (hasBuf(t) || t.op === "const") {
        source(t)
        stack.pop()
        continue
      }
      if (t.op === "input" || t.op === "custom") {
        const v = t.value
        if (v === undefined) throw new EvalFailure(unbound(t))
        if (!hasSlot(v)) {
          stack.push(v)
          continue
        }
        setSlot(t, v.slot)
        stack.pop()
        continue
      }
      if (analysis === undefined && t.size >= minSize) analyzeOnce()
      const same = rep.get(t)
      if (same !== undefined) {
        // merged with an equal node: share its slot
        if (!hasSlot(same)) {
          stack.push(same)
          continue
        }
        setSlot(t, same.slot)
        stack.pop()
        continue
      }
      // a primitive application: plan what it reads first
      // (a group's plan is kept between visits; a node of its own kernel allocates nothing until its operands are ready)
      let plan = plans.get(t)
      if (plan === undefined) {
        plan = groupPlan(t)
        if (plan !== undefined) plans.set(t, plan)
      }
      const viewed = plan === undefined && backend.viewKernels?.[t.op as Prim] !== undefined
      const deps = plan?.deps ?? inputsOf(t)
      let ready = true
      for (let i = deps.length - 1; i >= 0; i--) {
        const x = viewed ? viewBase(deps[i]!) : deps[i]!
        if (!hasSlot(x)) {
          stack.push(x)
          ready = false
        }
      }
      if (!ready) continue
      stack.pop()
      checkDtype(backend, t)
      const operands = plan?.operands ?? deps
      const views = viewed ? viewsOf(operands) : plan?.views
      const program = plan?.program
      if (program !== undefined) plans.delete(t)
      for (let i = 0; i < operands.length; i++) argSlots.push((views?.[i]?.base ?? operands[i]!).slot)
      argAt.push(argSlots.length)
      stepViews.push(views === undefined ? undefined : viewArgsOf(operands, views))
      stepRun.push(
        program ??
          (t.op === "loop" || t.op === "loopOut"
            ? hostKernel(backend, t.params as HostOpParams)
            : ((views !== undefined ? backend.viewKernels![t.op as Prim] : backend.kernels[t.op as Prim]) as Kernel<Prim>))
      )
      stepParams.push(program !== undefined ? undefined : t.params)
      setSlot(t, slots)
      slotAvals.push(avalOf(t))
      stepOut.push(slots++)
    }
  }
  for (const r of roots) visit(r)
  const outputs = roots.map((r) => r.slot)
  const count = stepOut.length
  const outCol = stepOut.data, argAtCol = argAt.data, argCol = argSlots.data
  // liveness: the last step reading each computed slot (roots live on)
  const last = new Int32Array(slots).fill(-1)
  const madeBy = new Int32Array(slots).fill(-1)
  for (let i = 0; i < count; i++) {
    madeBy[outCol[i]!] = i
    for (let k = argAtCol[i]!; k < argAtCol[i + 1]!; k++) last[argCol[k]!] = i
  }
  for (const o of outputs) madeBy[o] = -1
  // a computed slot nothing reads (possible only for merged roots) is freed right after it is made
  const freeStep = new Int32Array(slots).fill(-1)
  const freeCount = new Int32Array(count + 1)
  for (let s = 0; s < slots; s++) {
    if (madeBy[s]! < 0) continue
    const at = last[s]! >= 0 ? last[s]! : madeBy[s]!
    freeStep[s] = at
    freeCount[at + 1]!++
  }
  const freeAt = new Int32Array(count + 1)
  for (let i = 0; i < count; i++) freeAt[i + 1] = freeAt[i]! + freeCount[i + 1]!
  const free = new Int32Array(freeAt[count]!)
  const fill = freeAt.slice(0, count)
  for (let s = 0; s < slots; s++) if (freeStep[s]! >= 0) free[fill[freeStep[s]!]!++] = s
  const steps: Steps = {
    count,
    out: stepOut.done(),
    run: stepRun,
    params: stepParams,
    argAt: argAt.done(),
    args: argSlots.done(),
    views: stepViews,
    freeAt,
    free
  }
  return { backend, slots, slotAvals, consts: consts.toArray(), inputs: inputSlots, steps, outputs, outputAvals: roots.map((r) => ({ shape: r.shape, dtype: r.dtype })) }
}
