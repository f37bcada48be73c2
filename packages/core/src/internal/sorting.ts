/**
 * Sorting on the `argsort` primitive (the stable permutation of the last
 * axis): sort gathers x by it, so gradients flow to the selected elements;
 * topk takes the first k of the descending order. NaN sorts last (first
 * when descending); ties keep their order.
 */
import { isComplex } from "../DType.js"
import { DTypeError, ShapeError } from "../Errors.js"
import { bind } from "./bind.js"
import { cast } from "./ops.js"
import { slice, transpose } from "./structural.js"
import { fmt, normAxis } from "./shape.js"
import { errorTensor, type Tensor } from "./tensor.js"
import { toLast } from "./indexing.js"

/** Options of sort and argsort. */
export interface SortOptions {
  /** The axis sorted (default −1). */
  readonly axis?: number | undefined
  /** Largest first (default false). */
  readonly descending?: boolean | undefined
}

const check = (op: string, x: Tensor, axis: number): number | Tensor => {
  if (isComplex(x.dtype)) return errorTensor(new DTypeError({ message: `${op}: complex numbers are not ordered` }), x.dtype)
  if (x.ndim === 0) return errorTensor(new ShapeError({ message: `${op}: needs at least one axis, got a scalar` }), x.dtype)
  const a = normAxis(axis, x.ndim)
  return a === undefined ? errorTensor(new ShapeError({ message: `${op}: axis ${axis} is out of range for ${fmt(x.shape)}` }), x.dtype) : a
}

/** [x and the sorting permutation], both with `axis` moved last. */
const sortedLast = (op: string, x: Tensor, options: SortOptions): { xl: Tensor; order: Tensor; inv: number[] } | Tensor => {
  if (x.op === "error") return x
  const a = check(op, x, options.axis ?? -1)
  if (typeof a !== "number") return a
  const { perm, inv } = toLast(x.ndim, a)
  const xl = transpose(x, perm)
  const key = x.dtype === "bool" ? cast(xl, "int32") : xl
  return { xl, order: bind("argsort", [key], { descending: options.descending === true }), inv }
}

export const argsort = (x: Tensor, options: SortOptions = {}): Tensor => {
  const s = sortedLast("argsort", x, options)
  return "order" in s ? transpose(s.order, s.inv) : s
}

export const sort = (x: Tensor, options: SortOptions = {}): Tensor => {
  const s = sortedLast("sort", x, options)
  if (!("order" in s)) return s
  const r = s.xl.ndim - 1
  return transpose(bind("gather", [s.xl, s.order], { axis: r, batchDims: r }), s.inv)
}

/** The k largest values along the last axis and their indices (largest first, ties by position). */
export const topk = (x: Tensor, k: number): [Tensor, Tensor] => {
  const bad = (e: Tensor): [Tensor, Tensor] => [e, e]
  if (x.op === "error") return bad(x)
  const last = x.shape[x.ndim - 1]
  if (x.ndim === 0) return bad(errorTensor(new ShapeError({ message: "topk: needs at least one axis, got a scalar" }), x.dtype))
  if (!Number.isInteger(k) || k < 0 || k > last!)
    return bad(errorTensor(new ShapeError({ message: `topk: k = ${k} must be an integer in [0, ${last}] for ${x.dtype}${fmt(x.shape)}` }), x.dtype))
  const s = sortedLast("topk", x, { descending: true })
  if (!("order" in s)) return bad(s)
  const r = x.ndim - 1
  const idx = slice(s.order, x.shape.map(() => 0), [...x.shape.slice(0, r), k])
  return [bind("gather", [x, idx], { axis: r, batchDims: r }), idx]
}
