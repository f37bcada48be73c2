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
import type { BackendShape, KernelArg } from "../Backend.js"
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
    if (!old.backend.hostBuffers) registry.unregister(t)
    if (old.handle !== handle) old.backend.dispose(old.handle)
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

/** The views of a node none of whose operands is a view. */
const noViews: Array<View | undefined> = []

/** Whether a node is a layout change that a view can express. */
const isViewOp = (op: string): boolean => op === "transpose" || op === "broadcast" || op === "slice" || op === "reshape"

/**
 * How `x` reads its data when it is a chain of transpose / broadcast /
 * reshape / slice nodes that are not evaluated yet: a view of the first node
 * below the chain. Undefined when `x` is no such chain (or is evaluated):
 * it is then read as it is.
 */
const viewOf = (x: Tensor, ready: (t: Tensor) => boolean): View | undefined => {
  if (!isViewOp(x.op) || ready(x)) return undefined
  const y = x.inputs[0]!
  const v = viewOf(y, ready) ?? { base: y, strides: stridesOf(y.shape), offset: 0 }
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
  const viewsMemo = new Map<Tensor, Array<View | undefined>>()
  const isReady = (t: Tensor): boolean => memo.has(t) || (t.buf !== undefined && t.buf.backend === backend)
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
      // a primitive application: evaluate inputs first (for a kernel that
      // reads strided views, the nodes below the inputs' view chains)
      const viewKernel = backend.viewKernels?.[t.op as Prim]
      let operands = t.inputs
      let views: Array<View | undefined> | undefined
      if (viewKernel !== undefined) {
        views = viewsMemo.get(t)
        if (views === undefined) {
          views = noViews
          for (let i = 0; i < t.inputs.length; i++) {
            const v = viewOf(t.inputs[i]!, isReady)
            if (v !== undefined) {
              if (views === noViews) views = new Array<View | undefined>(t.inputs.length)
              views[i] = v
            }
          }
          viewsMemo.set(t, views)
        }
        if (views !== noViews) operands = t.inputs.map((x, i) => views![i]?.base ?? x)
      }
      let ready = true
      for (let i = operands.length - 1; i >= 0; i--) {
        const x = operands[i]!
        if (!memo.has(x)) {
          stack.push(x)
          ready = false
        }
      }
      if (!ready) continue
      stack.pop()
      checkDtype(backend, t)
      let handle: unknown
      let args: KernelArg[]
      try {
        if (views !== undefined && views !== noViews) {
          args = t.inputs.map((x, i) => {
            const v = views![i]
            return v === undefined
              ? { handle: memo.get(x), shape: x.shape, dtype: x.dtype }
              : { handle: memo.get(v.base), shape: x.shape, dtype: x.dtype, strides: v.strides, offset: v.offset }
          })
          handle = (viewKernel as (a: ReadonlyArray<KernelArg>, p: unknown, o: Tensor) => unknown)(args, t.params, t)
        } else {
          args = t.inputs.map((x) => ({ handle: memo.get(x), shape: x.shape, dtype: x.dtype }))
          handle = (backend.kernels[t.op as Prim] as (a: ReadonlyArray<KernelArg>, p: unknown, o: Tensor) => unknown)(args, t.params, t)
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
  const host = backend.download(handles[0], t)
  if (owned[0]) backend.dispose(handles[0])
  return host.slice() as HostArray
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
