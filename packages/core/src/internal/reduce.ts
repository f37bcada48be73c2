/**
 * Reductions and the numerically careful composites built on them.
 */
import { toInexact } from "../DType.js"
import { DTypeError, ShapeError } from "../Errors.js"
import { bind } from "./bind.js"
import { abs, add, broadcastTo, cast, div, equal, exp, log, neg, scalar, stopGradient, sub, where } from "./ops.js"
import { reshape } from "./structural.js"
import { fmt, normAxis, range, sizeOf } from "./shape.js"
import { errorTensor, type Tensor } from "./tensor.js"

/** Options of every reduction. */
export interface ReduceOptions {
  /** The axis or axes to reduce (negative counts from the end); all when absent. */
  readonly axis?: number | ReadonlyArray<number> | undefined
  /** Keep reduced axes as size 1. */
  readonly keepdims?: boolean | undefined
}

/** The sorted distinct axes an option names, or an error tensor. */
export const resolveAxes = (op: string, x: Tensor, axis: ReduceOptions["axis"]): number[] | Tensor => {
  if (axis === undefined) return range(x.ndim)
  const list = typeof axis === "number" ? [axis] : [...axis]
  const out: number[] = []
  for (const a of list) {
    const n = normAxis(a, x.ndim)
    if (n === undefined || out.includes(n))
      return errorTensor(new ShapeError({ message: `${op}: axis ${JSON.stringify(axis)} is invalid for a tensor of shape ${fmt(x.shape)}` }), x.dtype)
    out.push(n)
  }
  return out.sort((a, b) => a - b)
}

const keptShape = (x: Tensor, axes: ReadonlyArray<number>) => x.shape.map((d, i) => (axes.includes(i) ? 1 : d))

const finish = (x: Tensor, axes: ReadonlyArray<number>, r: Tensor, keepdims: boolean | undefined) =>
  keepdims ? reshape(r, keptShape(x, axes)) : r

export const sum = (x: Tensor, options: ReduceOptions = {}): Tensor => {
  if (x.op === "error") return x
  const axes = resolveAxes("sum", x, options.axis)
  if (!Array.isArray(axes)) return axes
  // no axis to reduce: still the sum's dtype (bool counts as int32)
  if (axes.length === 0) return finish(x, axes, x.dtype === "bool" ? cast(x, "int32") : x, options.keepdims)
  return finish(x, axes, bind("sum", [x], { axes }), options.keepdims)
}

export const max = (x: Tensor, options: ReduceOptions = {}): Tensor => {
  if (x.op === "error") return x
  const axes = resolveAxes("max", x, options.axis)
  if (!Array.isArray(axes)) return axes
  if (axes.some((a) => x.shape[a] === 0))
    return errorTensor(new ShapeError({ message: `max: cannot reduce an empty axis of shape ${fmt(x.shape)}` }), x.dtype)
  if (x.dtype === "bool") return cast(max(cast(x, "int32"), options), "bool")
  return finish(x, axes, axes.length === 0 ? x : bind("reduceMax", [x], { axes }), options.keepdims)
}

export const min = (x: Tensor, options: ReduceOptions = {}): Tensor => {
  if (x.dtype === "bool") return cast(neg(max(neg(cast(x, "int32")), options)), "bool")
  return neg(max(neg(x), options))
}

export const mean = (x: Tensor, options: ReduceOptions = {}): Tensor => {
  if (x.op === "error") return x
  const axes = resolveAxes("mean", x, options.axis)
  if (!Array.isArray(axes)) return axes
  const n = sizeOf(axes.map((a) => x.shape[a]!))
  return div(sum(cast(x, toInexact(x.dtype)), options), n)
}

/**
 * log(Σ exp(x)) computed as m + log(Σ exp(x − m)) with m the (gradient-free)
 * maximum, so large inputs do not overflow; an all −∞ slice gives −∞.
 */
export const logsumexp = (x: Tensor, options: ReduceOptions = {}): Tensor => {
  if (x.op === "error") return x
  if (x.dtype === "complex64") return errorTensor(new DTypeError({ message: "logsumexp: not defined for complex64" }), x.dtype)
  const xf = cast(x, toInexact(x.dtype))
  const axes = resolveAxes("logsumexp", xf, options.axis)
  if (!Array.isArray(axes)) return axes
  if (axes.some((a) => xf.shape[a] === 0)) {
    // the log of an empty sum: −∞ (as JAX)
    const shape = options.keepdims ? xf.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : xf.shape.filter((_, i) => !axes.includes(i))
    return broadcastTo(scalar(-Infinity, xf.dtype), shape)
  }
  const mk = stopGradient(max(xf, { axis: axes, keepdims: true }))
  // an infinite max (all −∞, or +∞ present) would give NaN in x − m: use 0 there
  const m = where(equal(abs(mk), Infinity), 0, mk)
  const s = sum(exp(sub(xf, broadcastTo(m, xf.shape))), { axis: axes, keepdims: true })
  const out = add(log(s), m)
  return options.keepdims ? out : reshape(out, xf.shape.filter((_, i) => !axes.includes(i)))
}

/** exp(x) / Σ exp(x) along `axis` (default: the last), shifted by the max. */
export const softmax = (x: Tensor, options: { readonly axis?: number | ReadonlyArray<number> | undefined } = {}): Tensor => {
  if (x.op === "error") return x
  const xf = cast(x, toInexact(x.dtype))
  const axis = options.axis ?? -1
  const axes = resolveAxes("softmax", xf, axis)
  if (!Array.isArray(axes)) return axes
  if (xf.size === 0) return xf // an empty axis: an empty result (as JAX)
  const m = stopGradient(max(xf, { axis, keepdims: true }))
  const safe = where(equal(abs(m), Infinity), 0, m)
  const e = exp(sub(xf, safe))
  return div(e, sum(e, { axis, keepdims: true }))
}

/** log(softmax(x)), stable. */
export const logSoftmax = (x: Tensor, options: { readonly axis?: number | undefined } = {}): Tensor => {
  if (x.op === "error") return x
  const axes = resolveAxes("logSoftmax", x, options.axis ?? -1)
  if (!Array.isArray(axes)) return axes
  if (x.size === 0) return cast(x, toInexact(x.dtype)) // an empty axis: an empty result (as JAX)
  return sub(x, logsumexp(x, { axis: options.axis ?? -1, keepdims: true }))
}

