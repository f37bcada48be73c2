/**
 * The public convolution and pooling functions: option resolution ("SAME",
 * "VALID", explicit padding; a number or one entry per spatial axis), dtype
 * promotion and the checks that name shapes and dtypes. `conv` is one
 * primitive; `maxPool` and `avgPool` are composed of pads, slices and
 * elementwise max / add over the window's taps, so they run on every
 * backend and differentiate to any order.
 */
import type { DType } from "../../DType.js"
import { DTypeError, ShapeError } from "../../Errors.js"
import { bind } from "../bind.js"
import * as O from "../ops.js"
import { fmt } from "../shape.js"
import * as S from "../structural.js"
import { errorTensor, firstError, type Tensor } from "../tensor.js"
import { dilate } from "./abstract.js"

/** `"VALID"` (no padding), `"SAME"` (output size ⌈in / stride⌉, as JAX), or `[lo, hi]` per spatial axis. */
export type Padding = "VALID" | "SAME" | ReadonlyArray<readonly [number, number]>

export interface ConvOptions {
  /** Stride per spatial axis (a number for all; default 1). */
  readonly strides?: number | ReadonlyArray<number> | undefined
  /** Default "VALID". */
  readonly padding?: Padding | undefined
  /** Kernel dilation per spatial axis (default 1). */
  readonly dilation?: number | ReadonlyArray<number> | undefined
  /** Feature groups: C and O split into this many independent groups (default 1). */
  readonly groups?: number | undefined
}

export interface PoolOptions {
  /** Stride per spatial axis (default 1, as JAX / flax). */
  readonly strides?: number | ReadonlyArray<number> | undefined
  /** Default "VALID". */
  readonly padding?: Padding | undefined
}

const shapeError = (message: string, dtype: DType = "float32") => errorTensor(new ShapeError({ message }), dtype)

const perAxis = (op: string, name: string, v: number | ReadonlyArray<number> | undefined, sd: number): number[] | string => {
  const xs = v === undefined ? Array(sd).fill(1) : typeof v === "number" ? Array(sd).fill(v) : [...v]
  if (xs.length !== sd || !xs.every((s) => Number.isInteger(s) && s >= 1))
    return `${op}: ${name} must be a positive integer or ${sd} of them, got ${JSON.stringify(v)}`
  return xs
}

/** Explicit [lo, hi] padding per spatial axis. */
const resolvePadding = (
  op: string,
  padding: Padding | undefined,
  ins: ReadonlyArray<number>,
  windows: ReadonlyArray<number>,
  strides: ReadonlyArray<number>
): Array<readonly [number, number]> | string => {
  if (padding === undefined || padding === "VALID") return ins.map(() => [0, 0] as const)
  if (padding === "SAME")
    return ins.map((n, d) => {
      const out = Math.ceil(n / strides[d]!)
      const total = Math.max((out - 1) * strides[d]! + windows[d]! - n, 0)
      return [Math.floor(total / 2), total - Math.floor(total / 2)] as const
    })
  if (!Array.isArray(padding) || padding.length !== ins.length || !padding.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0)))
    return `${op}: padding must be "VALID", "SAME" or ${ins.length} pairs [lo, hi] of non-negative integers, got ${JSON.stringify(padding)}`
  return padding.map((p) => [p[0], p[1]] as const)
}

/** Integers and bools become float32; complex64 is refused. */
const floating = (op: string, x: Tensor): Tensor =>
  x.op === "error"
    ? x
    : x.dtype === "complex64"
      ? errorTensor(new DTypeError({ message: `${op}: complex64 is not supported, got complex64 ${fmt(x.shape)}` }), x.dtype)
      : x.dtype === "float32" || x.dtype === "float64"
        ? x
        : O.cast(x, "float32")

export const conv = (x0: Tensor, w0: Tensor, options: ConvOptions = {}): Tensor => {
  let x = floating("conv", x0)
  let w = floating("conv", w0)
  const bad = firstError([x, w])
  if (bad) return bad
  const dtype: DType = x.dtype === "float64" || w.dtype === "float64" ? "float64" : "float32"
  x = O.cast(x, dtype)
  w = O.cast(w, dtype)
  const what = `x ${dtype} ${fmt(x.shape)} and kernel ${dtype} ${fmt(w.shape)}`
  if (x.ndim < 3 || x.ndim > 5 || w.ndim !== x.ndim)
    return shapeError(`conv: expected x [N, C, ...spatial] and kernel [O, C / groups, ...kernel] with 1 to 3 spatial axes, got ${what}`, dtype)
  const sd = x.ndim - 2
  const strides = perAxis("conv", "strides", options.strides, sd)
  if (typeof strides === "string") return shapeError(strides, dtype)
  const dilation = perAxis("conv", "dilation", options.dilation, sd)
  if (typeof dilation === "string") return shapeError(dilation, dtype)
  const groups = options.groups ?? 1
  if (!Number.isInteger(groups) || groups < 1) return shapeError(`conv: groups must be a positive integer, got ${JSON.stringify(options.groups)}`, dtype)
  const windows = w.shape.slice(2).map((k, d) => dilate(k, dilation[d]!))
  const padding = resolvePadding("conv", options.padding, x.shape.slice(2), windows, strides)
  if (typeof padding === "string") return shapeError(padding, dtype)
  return bind("conv", [x, w], { strides, padding, lhsDilation: Array(sd).fill(1), rhsDilation: dilation, groups })
}

/**
 * `reduce` over the window taps of `x` [N, C, ...spatial]: each tap is a
 * (strided) slice of the padded input, combined elementwise.
 */
const pool = (op: string, x0: Tensor, window: number | ReadonlyArray<number>, options: PoolOptions, fill: number, combine: (a: Tensor, b: Tensor) => Tensor): Tensor => {
  const x = floating(op, x0)
  if (x.op === "error") return x
  if (x.ndim < 3 || x.ndim > 5) return shapeError(`${op}: expected x [N, C, ...spatial] with 1 to 3 spatial axes, got ${x.dtype} ${fmt(x.shape)}`, x.dtype)
  const sd = x.ndim - 2
  const ws = perAxis(op, "window", window, sd)
  if (typeof ws === "string") return shapeError(ws, x.dtype)
  const strides = perAxis(op, "strides", options.strides, sd)
  if (typeof strides === "string") return shapeError(strides, x.dtype)
  const ins = x.shape.slice(2)
  const padding = resolvePadding(op, options.padding, ins, ws, strides)
  if (typeof padding === "string") return shapeError(padding, x.dtype)
  const outs: number[] = []
  for (let d = 0; d < sd; d++) {
    const padded = ins[d]! + padding[d]![0] + padding[d]![1]
    if (padded < ws[d]!)
      return shapeError(`${op}: the window (${ws[d]}) is larger than the padded input (${padded}) along spatial axis ${d} of ${x.dtype} ${fmt(x.shape)}`, x.dtype)
    outs.push(Math.floor((padded - ws[d]!) / strides[d]!) + 1)
  }
  // pad with `fill` (−∞ for max, 0 for the mean), with room for the last strided slice of every tap
  const extra = outs.map((o, d) => Math.max(0, (ws[d]! - 1) + o * strides[d]! - (ins[d]! + padding[d]![0] + padding[d]![1])))
  const before = [0, 0, ...padding.map((p) => p[0])]
  const after = [0, 0, ...padding.map((p, d) => p[1] + extra[d]!)]
  let xp = x
  if (before.some((b) => b > 0) || after.some((a) => a > 0)) {
    xp = S.pad(x, before, after)
    if (fill !== 0) {
      const mask = S.pad(O.broadcastTo(O.scalar(1, "bool"), x.shape), before, after)
      xp = O.where(mask, xp, fill)
    }
  }
  const taps = ws.reduce((a, b) => a * b, 1)
  let acc: Tensor | undefined
  for (let t = 0; t < taps; t++) {
    let r = t
    const offs = new Array<number>(sd)
    for (let d = sd - 1; d >= 0; d--) {
      offs[d] = r % ws[d]!
      r = Math.floor(r / ws[d]!)
    }
    // the tap: xp[..., off + s·i] for i < out, as a slice of length out·s reshaped to [out, s], column 0
    let tap = S.slice(xp, [0, 0, ...offs], [x.shape[0]!, x.shape[1]!, ...offs.map((o, d) => o + outs[d]! * strides[d]!)])
    if (strides.some((s) => s > 1)) {
      const split = [x.shape[0]!, x.shape[1]!, ...outs.flatMap((o, d) => [o, strides[d]!])]
      tap = S.reshape(tap, split)
      tap = S.slice(tap, split.map(() => 0), split.map((v, i) => (i >= 2 && (i - 2) % 2 === 1 ? 1 : v)))
      tap = S.reshape(tap, [x.shape[0]!, x.shape[1]!, ...outs])
    }
    acc = acc === undefined ? tap : combine(acc, tap)
  }
  return acc!
}

export const maxPool = (x: Tensor, window: number | ReadonlyArray<number>, options: PoolOptions = {}): Tensor =>
  pool("maxPool", x, window, options, -Infinity, O.maximum)

export const avgPool = (x: Tensor, window: number | ReadonlyArray<number>, options: PoolOptions = {}): Tensor => {
  const sum = pool("avgPool", x, window, options, 0, O.add)
  if (sum.op === "error") return sum
  const taps = typeof window === "number" ? window ** (x.ndim - 2) : window.reduce((a, b) => a * b, 1)
  return O.div(sum, taps)
}
