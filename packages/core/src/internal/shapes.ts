/**
 * Shape ops composed from the structural primitives: stack (expandDims +
 * concat), split (slices), tile (reshape + broadcast), flip (a gather of
 * reversed indices), pad with a value (pad + where), triu / tril (a mask
 * from two iotas).
 */
import { ShapeError } from "../Errors.js"
import { broadcastTo, greater, less, resultDType, scalar, sub, type TensorLike, asTensor, where } from "./ops.js"
import { concat, expandDims, pad as pad0, reshape, slice } from "./structural.js"
import { fmt, normAxis, shapeEq } from "./shape.js"
import { errorTensor, firstError, type Tensor } from "./tensor.js"
import { bind } from "./bind.js"
import { rangeTensor } from "./stats.js"
import { type DType } from "../DType.js"

const fail = (dtype: DType, message: string) => errorTensor(new ShapeError({ message }), dtype)

/** Joins tensors of one shape along a new axis. */
export const stack = (xs: ReadonlyArray<TensorLike>, axis = 0): Tensor => {
  if (xs.length === 0) return fail("float32", "stack: needs at least one tensor")
  const dtype = resultDType(xs)
  const ts = xs.map((x) => asTensor(x, dtype))
  const bad = firstError(ts)
  if (bad) return bad
  const shape = ts[0]!.shape
  const other = ts.find((t) => !shapeEq(t.shape, shape))
  if (other) return fail(dtype, `stack: shapes differ: ${ts.map((t) => fmt(t.shape)).join(", ")}`)
  const a = normAxis(axis, shape.length + 1)
  if (a === undefined) return fail(dtype, `stack: axis ${axis} is out of range for stacking ${fmt(shape)} (expected an integer in [${-shape.length - 1}, ${shape.length}])`)
  return concat(ts.map((t) => expandDims(t, a)), a)
}

/** Splits into `sections` equal parts, or parts of the given sizes, along `axis`. */
export const split = (x: Tensor, sections: number | ReadonlyArray<number>, axis = 0): Tensor[] => {
  if (x.op === "error") return [x]
  const a = normAxis(axis, x.ndim)
  if (a === undefined) return [fail(x.dtype, `split: axis ${axis} is out of range for ${fmt(x.shape)}`)]
  const n = x.shape[a]!
  let sizes: ReadonlyArray<number>
  if (typeof sections === "number") {
    if (!Number.isInteger(sections) || sections <= 0 || n % sections !== 0)
      return [fail(x.dtype, `split: axis ${a} of ${fmt(x.shape)} (size ${n}) does not split into ${sections} equal sections`)]
    sizes = Array.from({ length: sections }, () => n / sections)
  } else {
    if (sections.some((s) => !Number.isInteger(s) || s < 0) || sections.reduce((p, s) => p + s, 0) !== n)
      return [fail(x.dtype, `split: sizes [${sections.join(", ")}] do not add up to axis ${a} of ${fmt(x.shape)} (size ${n})`)]
    sizes = sections
  }
  let at = 0
  return sizes.map((s) => {
    const starts = x.shape.map((_, i) => (i === a ? at : 0))
    const stops = x.shape.map((d, i) => (i === a ? at + s : d))
    at += s
    return slice(x, starts, stops)
  })
}

/** Repeats x `reps[i]` times along each axis (NumPy's tile: shorter ones are padded with 1s in front). */
export const tile = (x: Tensor, reps: ReadonlyArray<number>): Tensor => {
  if (x.op === "error") return x
  if (reps.some((r) => !Number.isInteger(r) || r < 0)) return fail(x.dtype, `tile: repetitions must be non-negative integers, got [${reps.join(", ")}]`)
  const r = Math.max(reps.length, x.ndim)
  const rs = [...Array(r - reps.length).fill(1), ...reps]
  const shape = [...Array(r - x.ndim).fill(1), ...x.shape]
  const interleaved = shape.flatMap((d) => [1, d])
  const big = broadcastTo(reshape(x, interleaved), shape.flatMap((d, i) => [rs[i]!, d]), "tile")
  return reshape(big, shape.map((d, i) => d * rs[i]!))
}

/** Reverses the order of elements along `axes` (default all). */
export const flip = (x: Tensor, axes?: number | ReadonlyArray<number>): Tensor => {
  if (x.op === "error") return x
  const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === "number" ? [axes] : axes
  let y = x
  for (const ax of list) {
    const a = normAxis(ax, x.ndim)
    if (a === undefined) return fail(x.dtype, `flip: axis ${ax} is out of range for ${fmt(x.shape)}`)
    const n = x.shape[a]!
    if (n <= 1) continue
    const rev = sub(n - 1, rangeTensor(n))
    y = bind("gather", [y, rev], { axis: a, batchDims: 0 })
  }
  return y
}

/** Options of pad. */
export interface PadOptions {
  /** The value of the added elements (default 0). */
  readonly value?: number | undefined
}

/** Pads each axis with `widths[i] = [before, after]` elements (one pair applies to every axis). */
export const pad = (x: Tensor, widths: ReadonlyArray<readonly [number, number]>, options: PadOptions = {}): Tensor => {
  if (x.op === "error") return x
  const ws = widths.length === 1 && x.ndim !== 1 ? x.shape.map(() => widths[0]!) : widths
  if (ws.length !== x.ndim || ws.some((w) => !Array.isArray(w) || w.length !== 2 || w.some((v) => !Number.isInteger(v) || v < 0)))
    return fail(x.dtype, `pad: widths ${JSON.stringify(widths)} must be one [before, after] pair of non-negative integers per axis of ${fmt(x.shape)}`)
  const before = ws.map((w) => w[0]), after = ws.map((w) => w[1])
  const padded = pad0(x, before, after)
  const value = options.value ?? 0
  if (value === 0 || padded === x) return padded
  const inside = pad0(broadcastTo(scalar(1, "bool"), x.shape), before, after)
  return where(inside, padded, value)
}

const band = (op: "triu" | "tril", x: Tensor, k: number): Tensor => {
  if (x.op === "error") return x
  if (x.ndim < 2) return fail(x.dtype, `${op}: needs at least two axes, got ${fmt(x.shape)}`)
  if (!Number.isInteger(k)) return fail(x.dtype, `${op}: k must be an integer, got ${k}`)
  const m = x.shape[x.ndim - 2]!, n = x.shape[x.ndim - 1]!
  const d = sub(reshape(rangeTensor(n), [1, n]), reshape(rangeTensor(m), [m, 1])) // column − row
  const keep = op === "tril" ? less(d, k + 1) : greater(d, k - 1)
  if (x.dtype === "bool") return where(keep, x, scalar(0, "bool"))
  return where(keep, x, 0)
}

/** The upper triangle: elements with column − row ≥ k, zeros elsewhere. */
export const triu = (x: Tensor, k = 0): Tensor => band("triu", x, k)
/** The lower triangle: elements with column − row ≤ k, zeros elsewhere. */
export const tril = (x: Tensor, k = 0): Tensor => band("tril", x, k)

