/**
 * Cumulative ops along an axis: cumsum on its primitive; cumprod and
 * logcumsumexp as a Hillis–Steele scan (log₂ n passes of shift-and-combine,
 * each differentiable), as JAX's associative_scan, so zeros in cumprod and
 * −∞ in logcumsumexp get exact gradients.
 */
import { toInexact } from "../DType.js"
import { ShapeError } from "../Errors.js"
import { bind } from "./bind.js"
import { broadcastTo, cast, mul, scalar } from "./ops.js"
import { concat, reshape, slice } from "./structural.js"
import { fmt, normAxis } from "./shape.js"
import { errorTensor, type Tensor } from "./tensor.js"
import { logaddexp } from "./math.js"

/** Options of the cumulative ops. */
export interface CumulativeOptions {
  /** The axis (negative counts from the end); absent: over the flattened tensor. */
  readonly axis?: number | undefined
  /** Accumulate from the end (default false). */
  readonly reverse?: boolean | undefined
}

const prepare = (op: string, x: Tensor, options: CumulativeOptions): { t: Tensor; axis: number } | Tensor => {
  if (x.op === "error") return x
  const t = options.axis === undefined ? reshape(x, [-1]) : x
  const axis = options.axis === undefined ? 0 : normAxis(options.axis, t.ndim)
  if (axis === undefined) return errorTensor(new ShapeError({ message: `${op}: axis ${options.axis} is out of range for ${fmt(x.shape)}` }), x.dtype)
  return { t, axis }
}

export const cumsum = (x: Tensor, options: CumulativeOptions = {}): Tensor => {
  const p = prepare("cumsum", x, options)
  if (!("axis" in p)) return p
  const t = p.t.dtype === "bool" ? cast(p.t, "int32") : p.t
  if (t.shape[p.axis] === 0) return t
  return bind("cumsum", [t], { axis: p.axis, reverse: options.reverse === true })
}

/** y[i] = x[0] ⊕ … ⊕ x[i] by doubling shifts: y ← y ⊕ (y shifted by s, the identity shifted in). */
const scan = (t: Tensor, axis: number, reverse: boolean, identity: number, combine: (a: Tensor, b: Tensor) => Tensor): Tensor => {
  const n = t.shape[axis]!
  let y = t
  for (let s = 1; s < n; s *= 2) {
    const fill = broadcastTo(scalar(identity, t.dtype), t.shape.map((d, i) => (i === axis ? s : d)))
    const starts = t.shape.map((_, i) => (i === axis ? (reverse ? s : 0) : 0))
    const stops = t.shape.map((d, i) => (i === axis ? (reverse ? n : n - s) : d))
    const kept = slice(y, starts, stops)
    const shifted = reverse ? concat([kept, fill], axis) : concat([fill, kept], axis)
    y = combine(y, shifted)
  }
  return y
}

export const cumprod = (x: Tensor, options: CumulativeOptions = {}): Tensor => {
  const p = prepare("cumprod", x, options)
  if (!("axis" in p)) return p
  const t = p.t.dtype === "bool" ? cast(p.t, "int32") : p.t
  return scan(t, p.axis, options.reverse === true, 1, mul)
}

export const logcumsumexp = (x: Tensor, options: CumulativeOptions = {}): Tensor => {
  const p = prepare("logcumsumexp", x, options)
  if (!("axis" in p)) return p
  const t = cast(p.t, toInexact(p.t.dtype === "bool" ? "float32" : p.t.dtype))
  return scan(t, p.axis, options.reverse === true, -Infinity, logaddexp)
}
