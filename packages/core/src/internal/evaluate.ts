/**
 * Evaluation of tensor graphs on a backend.
 *
 * Evaluation is iterative (no recursion, so long chains are fine) and
 * memoized for one call. A root that depends on no `input` is turned into a
 * `const` holding its buffer (its history is dropped, so garbage collection
 * frees the graph behind it); the buffers of intermediates live only for the
 * call and are disposed at its end, so device memory is bounded by what the
 * program holds, not by when the garbage collector runs.
 * Device buffers cached on tensors are released when the tensor is garbage
 * collected (a FinalizationRegistry), so users never count references.
 */
import type { BackendShape, FusedOp, KernelArg } from "../Backend.js"
import type { HostArray } from "../DType.js"
import { BackendError, ConcretizationError, type TensorError } from "../Errors.js"
import type { Prim, PrimParams } from "./primitives.js"
import { fmt, stridesOf } from "./shape.js"
import { constTensor, type DeviceBuffer, Tensor } from "./tensor.js"

/** A failure raised inside evaluation (caught and typed at the Effect boundary). */
export class EvalFailure {
  constructor(readonly error: TensorError) {}
}

interface Held {
  readonly backend: BackendShape
  readonly handle: unknown
}
const registry = new FinalizationRegistry<Held>((held) => {
  try {
    held.backend.dispose(held.handle)
  } catch {
    // the backend may be gone (context lost): nothing left to release
  }
})

const setBuffer = (t: Tensor, backend: BackendShape, handle: unknown): void => {
  if (t.buf !== undefined) {
    const old = t.buf as DeviceBuffer & { backend: BackendShape }
    if (!old.backend.hostBuffers) {
      registry.unregister(t)
      if (old.handle !== handle) old.backend.dispose(old.handle)
    }
    // a host buffer may still be the tensor's host data: the garbage collector reclaims it
  }
  t.buf = { backend, handle }
  // buffers the garbage collector owns need no finalizer (a registration costs more than a small op)
  if (!backend.hostBuffers) registry.register(t, { backend, handle }, t)
}

const checkDtype = (backend: BackendShape, t: Tensor): void => {
  if (!backend.supports(t.dtype))
    throw new EvalFailure(new BackendError({ message: `${backend.name} backend: dtype ${t.dtype} is not supported (tensor of shape ${fmt(t.shape)})` }))
}

/** The host data of a const (downloading it from its device if needed). */
export const hostOf = (t: Tensor): HostArray => {
  if (t.host !== undefined) return t.host
  const buf = t.buf as (DeviceBuffer & { backend: BackendShape }) | undefined
  if (buf === undefined) throw new Error(`internal: const without data`)
  t.host = buf.backend.download(buf.handle, t)
  return t.host
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
  const y = R(x.inputs[0]!)
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
interface Plan {
  readonly deps: ReadonlyArray<Tensor>
  readonly operands: ReadonlyArray<Tensor>
  readonly views: ReadonlyArray<View | undefined> | undefined
  readonly program: ReadonlyArray<FusedOp> | undefined
}

/** At most this many operations in one fused group (bounds the generated code). */
const MAX_GROUP = 48
/** Below this many elements a node is not fused (planning a group costs more than the passes it saves). */
const FUSE_MIN = 4096

/** Below this many elements a node is not looked up for common subexpressions (the analysis costs more than it saves). */
const CSE_MIN = 4096

/**
 * One pass over the nodes to evaluate (reachable from `roots`, stopping at
 * evaluated nodes), in post-order:
 * - `rep`: common subexpressions. A non-root primitive application equal to
 *   an earlier one (same primitive, same operands after merging, same
 *   parameters and dtype) is computed once: it maps to that one. Graphs
 *   built by transforms repeat work (the `sin(x)` of a forward pass and of
 *   its derivative are two nodes);
 * - `uses`: how many consumers each node has, counting merged nodes once.
 */
const analyze = (roots: ReadonlyArray<Tensor>, rootSet: ReadonlySet<Tensor>, isReady: (t: Tensor) => boolean) => {
  const uses = new Map<Tensor, number>()
  const rep = new Map<Tensor, Tensor>()
  const R = (x: Tensor): Tensor => rep.get(x) ?? x
  const table = new Map<string, Tensor>()
  const done = new Set<Tensor>()
  const stack: Tensor[] = []
  const expanded: boolean[] = []
  for (const r of roots) {
    stack.push(r)
    expanded.push(false)
  }
  while (stack.length > 0) {
    const t = stack.pop()!
    const wasExpanded = expanded.pop()!
    if (done.has(t)) continue
    if (isReady(t)) {
      done.add(t)
      continue
    }
    const ins = t.value !== undefined ? [t.value] : t.inputs
    if (!wasExpanded) {
      stack.push(t)
      expanded.push(true)
      for (let i = ins.length - 1; i >= 0; i--)
        if (!done.has(ins[i]!)) {
          stack.push(ins[i]!)
          expanded.push(false)
        }
      continue
    }
    done.add(t)
    if (t.size >= CSE_MIN && !rootSet.has(t) && t.value === undefined && t.op !== "const" && t.op !== "input" && t.op !== "custom" && t.op !== "error") {
      const key = `${t.op}:${t.dtype}:${ins.map((x) => R(x).id).join(",")}:${t.params === undefined ? "" : JSON.stringify(t.params)}`
      const prev = table.get(key)
      if (prev !== undefined) {
        rep.set(t, prev)
        continue // its operands are not used through it
      }
      table.set(key, t)
    }
    for (const x of ins) {
      const y = R(x)
      uses.set(y, (uses.get(y) ?? 0) + 1)
    }
  }
  return { uses, rep }
}

/**
 * Evaluates `roots` on `backend`. Returns one handle per root; the caller
 * owns (and must dispose) the handles of roots that are not cached on their
 * tensor, as reported by `owned`.
 */
export const evaluateMany = (
  backend: BackendShape,
  roots: ReadonlyArray<Tensor>
): { handles: unknown[]; owned: boolean[] } => {
  const memo = new Map<Tensor, unknown>()
  const temporaries = new Set<unknown>()
  const rootSet = new Set(roots)
  const stack: Array<Tensor> = []
  const plans = new Map<Tensor, Plan>()
  const isReady = (t: Tensor): boolean => memo.has(t) || (t.buf !== undefined && t.buf.backend === backend)
  const fusion = backend.fusion
  // The analysis (common subexpressions, consumer counts) is made when the
  // first node large enough to profit is reached: graphs of small tensors
  // skip it. Nodes planned before it read their inputs as they are, which
  // is always correct (a merged node then shares its equal's buffer).
  let rep = new Map<Tensor, Tensor>()
  let uses: Map<Tensor, number> | undefined
  const analyzeOnce = () => {
    if (uses === undefined) ({ uses, rep } = analyze(roots, rootSet, isReady))
    return uses
  }
  /** The node that computes `x` (itself, or the equal node it was merged with). */
  const R = (x: Tensor): Tensor => rep.get(x) ?? x
  const inputsOf = (x: Tensor): ReadonlyArray<Tensor> => (rep.size === 0 ? x.inputs : x.inputs.map(R))

  const fusible = (x: Tensor): boolean =>
    fusion !== undefined && !isViewOp(x.op) && x.op !== "const" && x.op !== "input" && x.op !== "custom" && x.op !== "error" &&
    !isReady(x) && !rep.has(x) && fusion.canFuse(x.op as Prim, x.dtype, x.inputs.map((y) => y.dtype))

  /** The group of `t`: t and the fusible nodes of its shape that only it (through the group) uses. */
  /**
   * The group of `t`: t and the fusible nodes of its shape below it whose
   * every consumer is in the group (a node read twice inside the group, as
   * sin(x) in a derivative, is computed once per element), at most
   * MAX_GROUP nodes, in an order where operands come first.
   */
  const fuseGroup = (t: Tensor): { members: Tensor[]; leaves: Tensor[] } | undefined => {
    if (t.size < FUSE_MIN || !fusible(t)) return undefined
    const uses = analyzeOnce()
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
    // drop candidates read from outside the set, until none is
    const inner = new Map<Tensor, number>()
    for (const x of inSet) for (const y of inputsOf(x)) if (inSet.has(y)) inner.set(y, (inner.get(y) ?? 0) + 1)
    const drop = [...inSet].filter((y) => y !== t && (inner.get(y) ?? 0) < (uses.get(y) ?? 0))
    while (drop.length > 0) {
      const y = drop.pop()!
      if (!inSet.delete(y)) continue
      for (const z of inputsOf(y))
        if (inSet.has(z) && z !== t) {
          inner.set(z, inner.get(z)! - 1)
          if (inner.get(z)! < (uses.get(z) ?? 0)) drop.push(z)
        }
    }
    if (inSet.size < 2) return undefined
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
    const leaves: Tensor[] = []
    const seenLeaf = new Set<Tensor>()
    for (const x of members)
      for (const y of inputsOf(x))
        if (!inSet.has(y) && !seenLeaf.has(y)) {
          seenLeaf.add(y)
          leaves.push(y)
        }
    return { members, leaves }
  }

  const makePlan = (t: Tensor): Plan => {
    const group = fuseGroup(t)
    let operands: ReadonlyArray<Tensor> = inputsOf(t)
    let program: FusedOp[] | undefined
    if (group !== undefined) {
      operands = group.leaves
      const index = new Map<Tensor, number>()
      group.leaves.forEach((x, i) => index.set(x, i))
      program = group.members.map((x, k) => {
        index.set(x, group.leaves.length + k)
        return { prim: x.op as Prim, operands: inputsOf(x).map((y) => index.get(y)!), dtype: x.dtype }
      })
    }
    let views: Array<View | undefined> | undefined
    if (program !== undefined || backend.viewKernels?.[t.op as Prim] !== undefined) {
      for (let i = 0; i < operands.length; i++) {
        const v = viewOf(operands[i]!, isReady, R)
        if (v !== undefined) (views ??= new Array<View | undefined>(operands.length))[i] = v
      }
    }
    const deps = views === undefined ? operands : operands.map((x, i) => views![i]?.base ?? x)
    return { deps, operands, views, program }
  }

  const visit = (root: Tensor) => {
    stack.push(root)
    while (stack.length > 0) {
      const t = stack[stack.length - 1]!
      if (memo.has(t)) {
        stack.pop()
        continue
      }
      if (t.op === "error") throw new EvalFailure(t.error!)
      if (t.buf !== undefined && t.buf.backend === backend) {
        memo.set(t, t.buf.handle)
        stack.pop()
        continue
      }
      if (t.op === "const") {
        checkDtype(backend, t)
        const handle = backend.upload(hostOf(t), t)
        setBuffer(t, backend, handle)
        memo.set(t, handle)
        stack.pop()
        continue
      }
      if (t.op === "input" || t.op === "custom") {
        const v = t.value
        if (v === undefined)
          throw new EvalFailure(
            new ConcretizationError({ message: `the value of a ${t.dtype}${fmt(t.shape)} tensor batched by vmap is not known inside the mapped function` })
          )
        if (!memo.has(v)) {
          stack.push(v)
          continue
        }
        memo.set(t, memo.get(v))
        stack.pop()
        continue
      }
      if (uses === undefined && t.size >= CSE_MIN) analyzeOnce()
      const same = rep.get(t)
      if (same !== undefined) {
        // merged with an equal node: share its buffer
        if (!memo.has(same)) {
          stack.push(same)
          continue
        }
        memo.set(t, memo.get(same))
        stack.pop()
        continue
      }
      // a primitive application: evaluate what it reads first
      let plan = plans.get(t)
      if (plan === undefined) plans.set(t, (plan = makePlan(t)))
      const { deps, operands, views, program } = plan
      let ready = true
      for (let i = deps.length - 1; i >= 0; i--) {
        const x = deps[i]!
        if (!memo.has(x)) {
          stack.push(x)
          ready = false
        }
      }
      if (!ready) continue
      stack.pop()
      checkDtype(backend, t)
      let handle: unknown
      const args: KernelArg[] = operands.map((x, i) => {
        const v = views?.[i]
        return v === undefined
          ? { handle: memo.get(x), shape: x.shape, dtype: x.dtype }
          : { handle: memo.get(v.base), shape: x.shape, dtype: x.dtype, strides: v.strides, offset: v.offset }
      })
      try {
        if (program !== undefined) handle = fusion!.kernel(program, args, t)
        else {
          const kernel = views !== undefined ? backend.viewKernels![t.op as Prim] : backend.kernels[t.op as Prim]
          handle = (kernel as (a: ReadonlyArray<KernelArg>, p: unknown, o: Tensor) => unknown)(args, t.params, t)
        }
      } catch (e) {
        if (e instanceof BackendError) throw new EvalFailure(e)
        throw e
      }
      memo.set(t, handle)
      if (!t.symbolic && rootSet.has(t)) {
        // concrete: keep the buffer on the node and forget how it was made
        setBuffer(t, backend, handle)
        t.op = "const"
        t.inputs = []
        t.params = undefined
        t.host = undefined
        temporaries.delete(handle)
      } else if (!args.some((a) => a.handle === handle)) {
        temporaries.add(handle)
      }
    }
  }
  try {
    for (const r of roots) visit(r)
  } catch (e) {
    for (const handle of temporaries) backend.dispose(handle)
    throw e
  }
  const handles = roots.map((r) => memo.get(r))
  const owned = handles.map((hd) => temporaries.has(hd))
  for (const handle of temporaries) if (!handles.includes(handle)) backend.dispose(handle)
  return { handles, owned }
}

/** Evaluates `t` and copies its data to the host (a fresh array the caller may keep). */
export const readHost = (backend: BackendShape, t: Tensor): HostArray => {
  const { handles, owned } = evaluateMany(backend, [t])
  const host = backend.download(handles[0], t).slice() as HostArray
  if (owned[0]) backend.dispose(handles[0])
  return host
}

/**
 * Evaluates `roots` and returns const tensors holding the results: for
 * concrete roots the root itself (now a const), otherwise a new const that
 * owns the result buffer. Used to cut graphs at transform boundaries.
 */
export const materializeMany = (backend: BackendShape, roots: ReadonlyArray<Tensor>): Tensor[] => {
  const { handles, owned } = evaluateMany(backend, roots)
  const seen = new Map<unknown, Tensor>()
  return roots.map((r, i) => {
    if (!r.symbolic) return r
    const handle = handles[i]
    const prev = seen.get(handle)
    if (prev) return prev
    const t = new Tensor({ shape: r.shape, dtype: r.dtype, op: "const" })
    if (owned[i]) setBuffer(t, backend, handle)
    else {
      // the handle belongs to another tensor: copy through the host
      t.host = backend.download(handle, r).slice() as HostArray
    }
    seen.set(handle, t)
    return t
  })
}

export { constTensor }
