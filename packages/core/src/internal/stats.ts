/**
 * More reductions, composed: prod (a tree of multiplications, so zeros get
 * the right gradient), variance, std, norm, and argmax / argmin (ties go to
 * the first index; a NaN counts as the maximum and the minimum, as NumPy).
 */
import { isComplex, toInexact } from "../DType.js"
import { ShapeError } from "../Errors.js"
import { abs, broadcastTo, cast, div, equal, mul, scalar, sqrt, sub, where } from "./ops.js"
import { max, mean, min, type ReduceOptions, resolveAxes, sum } from "./reduce.js"
import { concat, reshape, slice, transpose } from "./structural.js"
import { fmt, normAxis, range, sizeOf } from "./shape.js"
import { constTensor, errorTensor, type Tensor } from "./tensor.js"
import { isNaN_ } from "./math.js"

const shapeError = (x: Tensor, message: string) => errorTensor(new ShapeError({ message }), x.dtype)

/** Product over `axis`: the reduced axes are moved last and multiplied pairwise, halving each pass. */
export const prod = (x: Tensor, options: ReduceOptions = {}): Tensor => {
  if (x.op === "error") return x
  const axes = resolveAxes("prod", x, options.axis)
  if (!Array.isArray(axes)) return axes
  const t = x.dtype === "bool" ? cast(x, "int32") : x
  const keep = range(t.ndim).filter((i) => !axes.includes(i))
  const keptShape = keep.map((i) => t.shape[i]!)
  let m = sizeOf(axes.map((a) => t.shape[a]!))
  let y = reshape(transpose(t, [...keep, ...axes]), [...keptShape, m])
  const last = keptShape.length
  if (m === 0) y = broadcastTo(scalar(1, t.dtype), [...keptShape, 1])
  while (m > 1) {
    if (m % 2 === 1) {
      y = concat([y, broadcastTo(scalar(1, t.dtype), [...keptShape, 1])], last)
      m++
    }
    const h = m / 2
    const lo = slice(y, [...keptShape.map(() => 0), 0], [...keptShape, h])
    const hi = slice(y, [...keptShape.map(() => 0), h], [...keptShape, m])
    y = mul(lo, hi)
    m = h
  }
  const out = reshape(y, keptShape)
  return options.keepdims ? reshape(out, t.shape.map((d, i) => (axes.includes(i) ? 1 : d))) : out
}

/** Options of variance and std. */
export interface VarianceOptions extends ReduceOptions {
  /** Divide by n − ddof (default 0). */
  readonly ddof?: number | undefined
}

export const variance = (x: Tensor, options: VarianceOptions = {}): Tensor => {
  if (x.op === "error") return x
  const axes = resolveAxes("variance", x, options.axis)
  if (!Array.isArray(axes)) return axes
  const xf = cast(x, toInexact(x.dtype === "bool" ? "float32" : x.dtype))
  const d = sub(xf, mean(xf, { axis: axes, keepdims: true }))
  const sq = isComplex(d.dtype) ? cast(mul(abs(d), abs(d)), "float32") : mul(d, d)
  const n = sizeOf(axes.map((a) => x.shape[a]!))
  return div(sum(sq, { axis: axes, keepdims: options.keepdims }), n - (options.ddof ?? 0))
}

export const std = (x: Tensor, options: VarianceOptions = {}): Tensor => sqrt(variance(x, options))

/** Options of norm. */
export interface NormOptions extends ReduceOptions {
  /** 1 (sum of |x|), 2 (Euclidean, the default) or "inf" (max |x|), over the elements of `axis` taken together. */
  readonly ord?: 1 | 2 | "inf" | undefined
}

export const norm = (x: Tensor, options: NormOptions = {}): Tensor => {
  if (x.op === "error") return x
  const ord = options.ord ?? 2
  const r = { axis: options.axis, keepdims: options.keepdims }
  const a = abs(cast(x, toInexact(x.dtype === "bool" ? "float32" : x.dtype)))
  if (ord === 1) return sum(a, r)
  if (ord === "inf") return max(a, r)
  if (ord === 2) return sqrt(sum(mul(a, a), r))
  return shapeError(x, `norm: ord must be 1, 2 or "inf", got ${JSON.stringify(ord)}`)
}

/** Options of argmax / argmin. */
export interface ArgOptions {
  /** One axis (negative counts from the end); absent: the index into the flattened tensor. */
  readonly axis?: number | undefined
  readonly keepdims?: boolean | undefined
}

const argBest = (op: "argmax" | "argmin", x: Tensor, options: ArgOptions): Tensor => {
  if (x.op === "error") return x
  if (isComplex(x.dtype)) return errorTensor(new ShapeError({ message: `${op}: complex numbers are not ordered` }), "int32")
  if (options.axis !== undefined && typeof options.axis !== "number")
    return shapeError(x, `${op}: axis must be one integer, got ${JSON.stringify(options.axis)}`)
  const flat = options.axis === undefined
  const t = flat ? reshape(x, [-1]) : x
  const axis = flat ? 0 : normAxis(options.axis!, t.ndim)
  if (axis === undefined) return errorTensor(new ShapeError({ message: `${op}: axis ${options.axis} is out of range for ${fmt(x.shape)}` }), "int32")
  const n = t.shape[axis]!
  if (n === 0) return errorTensor(new ShapeError({ message: `${op}: cannot take the ${op} of the empty axis ${axis} of ${fmt(x.shape)}` }), "int32")
  const best = (op === "argmax" ? max : min)(t, { axis, keepdims: true })
  const b = broadcastTo(best, t.shape)
  // a NaN wins wherever it appears
  const hit = t.dtype === "int32" || t.dtype === "bool" ? equal(t, b) : where(isNaN_(b), isNaN_(t), equal(t, b))
  const iota = broadcastTo(reshape(cast(rangeTensor(n), "int32"), t.shape.map((d, i) => (i === axis ? d : 1))), t.shape)
  const first = min(where(hit, iota, n), { axis, keepdims: options.keepdims === true && !flat })
  return options.keepdims && flat ? reshape(first, x.shape.map(() => 1)) : first
}

/** 0, 1, …, n − 1 as int32. */
export const rangeTensor = (n: number): Tensor => {
  const host = new Int32Array(n)
  for (let i = 0; i < n; i++) host[i] = i
  return constTensor(host, [n], "int32")
}


export const argmax = (x: Tensor, options: ArgOptions = {}): Tensor => argBest("argmax", x, options)
export const argmin = (x: Tensor, options: ArgOptions = {}): Tensor => argBest("argmin", x, options)
