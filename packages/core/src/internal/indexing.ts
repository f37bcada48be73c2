/**
 * Indexing along one axis: take, takeAlongAxis and indexAdd on the
 * `gather` / `scatterAdd` primitives, and oneHot. Indices are int32 of any
 * shape; negative ones count from the end and out-of-range ones are clamped
 * (JAX's `mode="clip"`), on every backend.
 */
import { type DType } from "../DType.js"
import { DTypeError, ShapeError } from "../Errors.js"
import { bind, gatherShape } from "./bind.js"
import { broadcastTo, cast, equal, scalar, type TensorLike } from "./ops.js"
import { reshape, transpose } from "./structural.js"
import { broadcastShapes, fmt, normAxis, range } from "./shape.js"
import { errorTensor, isTensor, type Tensor } from "./tensor.js"
import { rangeTensor } from "./stats.js"

const fail = (dtype: DType, message: string, E: typeof ShapeError | typeof DTypeError = ShapeError) => errorTensor(new E({ message }), dtype)

/** An index argument: an int32 tensor, or a number (a scalar index). */
export type IndicesLike = Tensor | number

const indicesOf = (op: string, x: Tensor, indices: IndicesLike): Tensor => {
  if (typeof indices === "number") return Number.isInteger(indices) ? scalar(indices, "int32") : fail(x.dtype, `${op}: an index must be an integer, got ${indices}`)
  if (!isTensor(indices)) return fail(x.dtype, `${op}: indices must be an int32 Tensor`, DTypeError)
  if (indices.op === "error") return indices
  if (indices.dtype !== "int32")
    return fail(x.dtype, `${op}: indices must be int32, got ${indices.dtype}${fmt(indices.shape)} (indexing ${x.dtype}${fmt(x.shape)})`, DTypeError)
  return indices
}

const axisOf = (op: string, x: Tensor, axis: number): number | Tensor => {
  const a = normAxis(axis, x.ndim)
  return a === undefined ? fail(x.dtype, `${op}: axis ${axis} is out of range for ${fmt(x.shape)}`) : a
}

const emptyAxis = (op: string, x: Tensor, axis: number, idx: Tensor): Tensor | undefined =>
  x.shape[axis] === 0 && idx.size > 0 ? fail(x.dtype, `${op}: cannot index the empty axis ${axis} of ${fmt(x.shape)}`) : undefined

/** Options of take and indexAdd. */
export interface AxisOptions {
  /** The axis indexed (default 0; negative counts from the end). */
  readonly axis?: number | undefined
}

/** NumPy's take: x.shape[:axis] + indices.shape + x.shape[axis + 1:]. */
export const take = (x: Tensor, indices: IndicesLike, options: AxisOptions = {}): Tensor => {
  if (x.op === "error") return x
  const idx = indicesOf("take", x, indices)
  if (idx.op === "error") return idx
  const axis = axisOf("take", x, options.axis ?? 0)
  if (typeof axis !== "number") return axis
  return emptyAxis("take", x, axis, idx) ?? bind("gather", [x, idx], { axis, batchDims: 0 })
}

/** The permutation moving `axis` last, and its inverse. */
const toLast = (ndim: number, axis: number) => {
  const perm = [...range(ndim).filter((i) => i !== axis), axis]
  const inv = range(ndim).map((i) => (i === axis ? ndim - 1 : i < axis ? i : i - 1))
  return { perm, inv }
}

/** NumPy's take_along_axis: indices of x's rank; other axes broadcast. */
export const takeAlongAxis = (x: Tensor, indices: Tensor, axis: number): Tensor => {
  if (x.op === "error") return x
  const idx = indicesOf("takeAlongAxis", x, indices)
  if (idx.op === "error") return idx
  if (idx.ndim !== x.ndim)
    return fail(x.dtype, `takeAlongAxis: indices ${fmt(idx.shape)} must have the rank of x ${fmt(x.shape)}`)
  const a = axisOf("takeAlongAxis", x, axis)
  if (typeof a !== "number") return a
  const others = broadcastShapes(x.shape.filter((_, i) => i !== a), idx.shape.filter((_, i) => i !== a))
  if (others === undefined) return fail(x.dtype, `takeAlongAxis: shapes ${fmt(x.shape)} and ${fmt(idx.shape)} do not broadcast outside axis ${a}`)
  const e = emptyAxis("takeAlongAxis", x, a, idx)
  if (e) return e
  const at = (rest: ReadonlyArray<number>, d: number) => [...rest.slice(0, a), d, ...rest.slice(a)]
  const xb = broadcastTo(x, at(others, x.shape[a]!), "takeAlongAxis")
  const ib = broadcastTo(idx, at(others, idx.shape[a]!), "takeAlongAxis")
  const { perm, inv } = toLast(x.ndim, a)
  const out = bind("gather", [transpose(xb, perm), transpose(ib, perm)], { axis: x.ndim - 1, batchDims: x.ndim - 1 })
  return transpose(out, inv)
}

/** x with `updates` added at `indices` along `axis` (repeated indices accumulate). */
export const indexAdd = (x: Tensor, indices: IndicesLike, updates: TensorLike, options: AxisOptions = {}): Tensor => {
  if (x.op === "error") return x
  const idx = indicesOf("indexAdd", x, indices)
  if (idx.op === "error") return idx
  const axis = axisOf("indexAdd", x, options.axis ?? 0)
  if (typeof axis !== "number") return axis
  const e = emptyAxis("indexAdd", x, axis, idx)
  if (e) return e
  const want = gatherShape(x.shape, idx.shape, axis, 0)
  const u = typeof updates === "number" ? scalar(updates, x.dtype) : updates
  if (u.op === "error") return u
  if (broadcastShapes(u.shape, want)?.join(",") !== want.join(","))
    return fail(x.dtype, `indexAdd: updates ${fmt(u.shape)} do not broadcast to ${fmt(want)} (x ${fmt(x.shape)}, indices ${fmt(idx.shape)}, axis ${axis})`)
  if (x.dtype === "bool") return fail(x.dtype, "indexAdd: not defined for bool", DTypeError)
  return bind("scatterAdd", [x, idx, broadcastTo(cast(u, x.dtype), want)], { axis, batchDims: 0 })
}

/** Options of oneHot. */
export interface OneHotOptions {
  /** The output dtype (default float32). */
  readonly dtype?: DType | undefined
}

/** A new last axis of `depth` with 1 at each index (all zeros for an index outside [0, depth)). */
export const oneHot = (indices: Tensor, depth: number, options: OneHotOptions = {}): Tensor => {
  const dtype = options.dtype ?? "float32"
  if (indices.op === "error") return indices
  if (indices.dtype !== "int32") return fail(dtype, `oneHot: indices must be int32, got ${indices.dtype}${fmt(indices.shape)}`, DTypeError)
  if (!Number.isInteger(depth) || depth < 0) return fail(dtype, `oneHot: depth must be a non-negative integer, got ${depth}`)
  const i = reshape(indices, [...indices.shape, 1])
  return cast(equal(i, reshape(rangeTensor(depth), [...indices.shape.map(() => 1), depth])), dtype)
}

export { toLast }
