/**
 * Shape ops (reshape, transpose, slice, concat, pad) and matmul, with their
 * user-facing checks and messages.
 */
import { type DType } from "../DType.js"
import { DTypeError, ShapeError } from "../Errors.js"
import { bind } from "./bind.js"
import { broadcastTo, cast, resultDType, type TensorLike, asTensor } from "./ops.js"
import { broadcastShapes, fmt, isPermutation, normAxis, range, sizeOf } from "./shape.js"
import { errorTensor, firstError, type Tensor } from "./tensor.js"

const shapeError = (dtype: DType, message: string) => errorTensor(new ShapeError({ message }), dtype)

/** reshape with at most one -1. */
export const reshape = (x: Tensor, shape: ReadonlyArray<number>): Tensor => {
  if (x.op === "error") return x
  const holes = shape.filter((d) => d === -1).length
  const bad = shape.some((d) => !Number.isInteger(d) || d < -1)
  if (holes > 1 || bad) return shapeError(x.dtype, `reshape: invalid target shape ${fmt(shape)} for ${fmt(x.shape)} (at most one -1, other sizes >= 0)`)
  let target = [...shape]
  if (holes === 1) {
    const known = sizeOf(shape.filter((d) => d !== -1))
    if (known === 0 || x.size % known !== 0) return shapeError(x.dtype, `reshape: cannot reshape ${fmt(x.shape)} (size ${x.size}) to ${fmt(shape)}`)
    target = shape.map((d) => (d === -1 ? x.size / known : d))
  }
  if (sizeOf(target) !== x.size) return shapeError(x.dtype, `reshape: cannot reshape ${fmt(x.shape)} (size ${x.size}) to ${fmt(shape)}`)
  if (target.length === x.shape.length && target.every((d, i) => d === x.shape[i])) return x
  return bind("reshape", [x], { shape: target })
}

/** Permutes axes (default: reverses them). Negative axes count from the end. */
export const transpose = (x: Tensor, perm?: ReadonlyArray<number>): Tensor => {
  if (x.op === "error") return x
  const p = perm === undefined ? range(x.ndim).reverse() : perm.map((a) => (a < 0 ? a + x.ndim : a))
  if (!isPermutation(p, x.ndim)) return shapeError(x.dtype, `transpose: [${(perm ?? []).join(", ")}] is not a permutation of the axes of ${fmt(x.shape)}`)
  if (p.every((a, i) => a === i)) return x
  return bind("transpose", [x], { perm: p })
}

/**
 * slice(x, starts, stops): one entry per axis; negative indices count from
 * the end, and indices are clamped to the axis (as Python slicing).
 */
export const slice = (x: Tensor, starts: ReadonlyArray<number>, stops: ReadonlyArray<number>): Tensor => {
  if (x.op === "error") return x
  if (starts.length !== x.ndim || stops.length !== x.ndim)
    return shapeError(x.dtype, `slice: expected ${x.ndim} starts and stops for ${fmt(x.shape)}, got [${starts.join(", ")}] and [${stops.join(", ")}]`)
  if ([...starts, ...stops].some((i) => !Number.isInteger(i))) return shapeError(x.dtype, `slice: indices must be integers, got [${starts.join(", ")}] and [${stops.join(", ")}]`)
  const fix = (i: number, d: number) => Math.min(d, Math.max(0, i < 0 ? i + d : i))
  const s = starts.map((i, k) => fix(i, x.shape[k]!))
  const e = stops.map((i, k) => Math.max(s[k]!, fix(i, x.shape[k]!)))
  if (s.every((v, k) => v === 0 && e[k] === x.shape[k])) return x
  return bind("slice", [x], { starts: s, stops: e })
}

/** Zero padding (the transpose of slice). */
export const pad = (x: Tensor, before: ReadonlyArray<number>, after: ReadonlyArray<number>): Tensor =>
  [...before, ...after].every((p) => p === 0) ? x : bind("pad", [x], { before, after })

/** Joins tensors along an existing axis (dtypes are promoted). */
export const concat = (xs: ReadonlyArray<TensorLike>, axis = 0): Tensor => {
  if (xs.length === 0) return shapeError("float32", "concat: needs at least one tensor")
  const dtype = resultDType(xs)
  const ts = xs.map((x) => asTensor(x, dtype))
  const bad = firstError(ts)
  if (bad) return bad
  const ndim = ts[0]!.ndim
  const ax = normAxis(axis, ndim)
  if (ax === undefined) return shapeError(dtype, `concat: axis ${axis} is out of range for rank ${ndim}`)
  if (ts.length === 1) return ts[0]!
  return bind("concat", ts, { axis: ax })
}

/** Inserts a size-1 axis. */
export const expandDims = (x: Tensor, axis: number): Tensor => {
  if (x.op === "error") return x
  const ax = normAxis(axis, x.ndim + 1)
  if (ax === undefined) return shapeError(x.dtype, `expandDims: axis ${axis} is out of range for ${fmt(x.shape)} (expected an integer in [${-x.ndim - 1}, ${x.ndim}])`)
  return reshape(x, [...x.shape.slice(0, ax), 1, ...x.shape.slice(ax)])
}

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted to a row
 * (left) or column (right) and the added axis removed; batch axes broadcast.
 */
export const matmul = (a: TensorLike, b: TensorLike): Tensor => {
  const dtype = resultDType([a, b])
  const x = asTensor(a, dtype === "bool" ? "int32" : dtype)
  const y = asTensor(b, dtype === "bool" ? "int32" : dtype)
  const bad = firstError([x, y])
  if (bad) return bad
  if (x.ndim === 0 || y.ndim === 0)
    return shapeError(dtype, `matmul: operands must have at least one axis, got ${fmt(x.shape)} @ ${fmt(y.shape)}`)
  const x2 = x.ndim === 1 ? reshape(x, [1, x.shape[0]!]) : x
  const y2 = y.ndim === 1 ? reshape(y, [y.shape[0]!, 1]) : y
  const m = x2.shape[x2.ndim - 2]!, k = x2.shape[x2.ndim - 1]!
  const k2 = y2.shape[y2.ndim - 2]!, n = y2.shape[y2.ndim - 1]!
  if (k !== k2) return shapeError(dtype, `matmul: inner dimensions differ: ${fmt(x.shape)} @ ${fmt(y.shape)}`)
  const batch = broadcastShapes(x2.shape.slice(0, -2), y2.shape.slice(0, -2))
  if (batch === undefined) return shapeError(dtype, `matmul: batch dimensions do not broadcast: ${fmt(x.shape)} @ ${fmt(y.shape)}`)
  const xb = broadcastTo(x2, [...batch, m, k], "matmul")
  const yb = broadcastTo(y2, [...batch, k, n], "matmul")
  let out: Tensor
  if (batch.length === 0) {
    out = bind("matmul", [xb, yb], {})
  } else {
    // the primitive takes one batch axis: flatten, multiply, restore
    const bs = sizeOf(batch)
    out = reshape(bind("matmul", [reshape(xb, [bs, m, k]), reshape(yb, [bs, k, n])], {}), [...batch, m, n])
  }
  const shape = [...batch, ...(x.ndim === 1 ? [] : [m]), ...(y.ndim === 1 ? [] : [n])]
  return reshape(out, shape)
}

/** Changes the dtype (float → int truncates toward zero; → bool is `!= 0`). */
export const castTo = (x: Tensor, dtype: DType): Tensor => {
  if (x.op === "error") return x
  if (!["float32", "float64", "int32", "bool", "complex64"].includes(dtype))
    return errorTensor(new DTypeError({ message: `cast: unknown dtype ${String(dtype)}` }), x.dtype)
  return cast(x, dtype)
}
