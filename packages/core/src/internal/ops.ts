/**
 * Elementwise ops: the frontend that turns `Tensor | number` operands with
 * NumPy broadcasting and dtype promotion into primitive applications.
 * Everything here is pure and data-first; the public `Tensor` module adds the
 * data-last forms. Shape and dtype mistakes become `error` tensors.
 */
import { type DType, isInexact, promote2, toInexact, weakNumberDType, defaultNumberDType, allocHost, isComplex } from "../DType.js"
import { DTypeError, ShapeError } from "../Errors.js"
import { bind } from "./bind.js"
import type { BinaryPrim, ComparePrim, UnaryPrim } from "./primitives.js"
import { broadcastShapes, fmt, range, type Shape, shapeEq } from "./shape.js"
import { constTensor, errorTensor, isTensor, type Tensor } from "./tensor.js"

/** An operand: a tensor or a (weakly typed) JavaScript number. */
export type TensorLike = Tensor | number

/**
 * A scalar const of a dtype. Consts are immutable, so the scalars that ops
 * make from numbers (the 0.01 of `mul(x, 0.01)` in every step of a loop)
 * are shared: a few hundred are kept (and, for each, its broadcasts to a
 * few shapes, see `broadcastTo`).
 */
export const scalar = (x: number, dtype: DType = defaultNumberDType): Tensor => {
  const cache = scalars[dtype]
  const cacheable = cache !== undefined && !Object.is(x, -0)
  if (cacheable) {
    const hit = cache.get(x)
    if (hit !== undefined) return hit
  }
  const host = allocHost(dtype, 1)
  host[0] = dtype === "bool" ? (x !== 0 ? 1 : 0) : x
  const t = constTensor(host, [], dtype)
  if (cacheable) {
    if (cache.size >= MAX_SCALARS) cache.clear()
    cache.set(x, t)
    shared.add(t)
  }
  return t
}

const MAX_SCALARS = 256
/** Shared scalars by dtype (keyed by value: Map keys treat NaN as one value; −0 is not cached, as Map keys do not tell it from 0). */
const scalars: Partial<Record<DType, Map<number, Tensor>>> = {
  float32: new Map(),
  float64: new Map(),
  int32: new Map(),
  bool: new Map()
}
/** The shared scalars (still alive), with their broadcasts by shape. */
const shared = new WeakSet<Tensor>()
const broadcasts = new WeakMap<Tensor, Map<string, Tensor>>()
const MAX_BROADCASTS = 16

/** The dtype operands promote to. */
export const resultDType = (xs: ReadonlyArray<TensorLike>): DType => {
  const ts = xs.filter(isTensor)
  if (ts.length === 0) return defaultNumberDType
  let d = ts[0]!.dtype
  for (const t of ts) d = promote2(d, t.dtype)
  for (const x of xs) if (typeof x === "number") d = promote2(d, weakNumberDType(x, d))
  return d
}

export const cast = (x: Tensor, dtype: DType): Tensor => (x.dtype === dtype || x.op === "error" ? x : bind("cast", [x], { dtype }))

export const asTensor = (x: TensorLike, dtype: DType): Tensor => (typeof x === "number" ? scalar(x, dtype) : cast(x, dtype))

/**
 * Broadcasts `x` to `shape` (NumPy rules: align on the right). `share`: the
 * result is only an operand of a node being made (never given out, so never
 * evaluated on its own), and may be a node shared with other ops.
 */
export const broadcastTo = (x: Tensor, shape: Shape, op = "broadcastTo", share = false): Tensor => {
  if (shapeEq(x.shape, shape) || x.op === "error") return x
  const out = broadcastShapes(x.shape, shape)
  if (out === undefined || !shapeEq(out, shape) || shape.some((d) => !Number.isInteger(d) || d < 0))
    return errorTensor(new ShapeError({ message: `${op}: cannot broadcast ${fmt(x.shape)} to ${fmt(shape)}` }), x.dtype)
  const r = shape.length - x.shape.length
  if (!share || !shared.has(x)) return bind("broadcast", [x], { shape, dims: range(x.shape.length).map((i) => i + r) })
  // an operand broadcast from a shared scalar is shared too
  let byShape = broadcasts.get(x)
  if (byShape === undefined) broadcasts.set(x, (byShape = new Map()))
  const key = shape.join(",")
  let b = byShape.get(key)
  if (b === undefined) {
    if (byShape.size >= MAX_BROADCASTS) byShape.clear()
    byShape.set(key, (b = bind("broadcast", [x], { shape, dims: [] })))
  }
  return b
}

/** Broadcasts tensors to their common shape. */
export const alignShapes = (op: string, ts: ReadonlyArray<Tensor>): Tensor[] | Tensor => {
  const bad = ts.find((t) => t.op === "error")
  if (bad) return bad
  let shape: Shape = []
  for (const t of ts) {
    const s = broadcastShapes(shape, t.shape)
    if (s === undefined)
      return errorTensor(
        new ShapeError({ message: `${op}: shapes ${ts.map((t) => fmt(t.shape)).join(" and ")} do not broadcast` }),
        ts[0]!.dtype
      )
    shape = s
  }
  return ts.map((t) => broadcastTo(t, shape, op, true))
}

/** Promotes and broadcasts operands to one dtype and shape. */
export const align = (op: string, xs: ReadonlyArray<TensorLike>, dtype: DType): Tensor[] | Tensor =>
  alignShapes(op, xs.map((x) => asTensor(x, dtype)))

const arithDType = (d: DType): DType => (d === "bool" ? "int32" : d)

/** A binary arithmetic op (add sub mul div pow maximum minimum). */
export const binary = (prim: BinaryPrim, a: TensorLike, b: TensorLike, inexact = prim === "div" || prim === "pow"): Tensor => {
  let dtype = arithDType(resultDType([a, b]))
  if (inexact) dtype = toInexact(dtype)
  const ts = align(prim, [a, b], dtype)
  return Array.isArray(ts) ? bind(prim, ts, {}) : ts
}

export const compare = (prim: ComparePrim, a: TensorLike, b: TensorLike): Tensor => {
  const ts = align(prim, [a, b], resultDType([a, b]))
  return Array.isArray(ts) ? bind(prim, ts, {}) : ts
}

export const unary = (prim: UnaryPrim, x: TensorLike, inexact: boolean): Tensor => {
  const t = typeof x === "number" ? scalar(x) : x
  const dtype = inexact ? toInexact(t.dtype) : arithDType(t.dtype)
  return bind(prim, [cast(t, dtype)], {})
}

export const add = (a: TensorLike, b: TensorLike) => binary("add", a, b)
export const sub = (a: TensorLike, b: TensorLike) => binary("sub", a, b)
export const mul = (a: TensorLike, b: TensorLike) => binary("mul", a, b)
export const div = (a: TensorLike, b: TensorLike) => binary("div", a, b)
/**
 * a ** b. A small integer exponent given as a number is expanded into
 * multiplications (as JAX's integer_pow), so every derivative is exact,
 * including at 0 where p·x^(p−1) would meet 0·∞ at high orders.
 */
export const pow = (a: TensorLike, b: TensorLike): Tensor => {
  if (typeof b === "number" && Number.isInteger(b) && Math.abs(b) <= 64 && typeof a !== "number") {
    const x = cast(a, toInexact(arithDType(a.dtype)))
    if (b === 0) return broadcastTo(scalar(1, x.dtype), x.shape)
    let n = Math.abs(b)
    let base = x
    let acc: Tensor | undefined
    while (n > 0) {
      if (n & 1) acc = acc === undefined ? base : mul(acc, base)
      n >>= 1
      if (n > 0) base = mul(base, base)
    }
    return b < 0 ? reciprocal(acc!) : acc!
  }
  return binary("pow", a, b)
}
export const maximum = (a: TensorLike, b: TensorLike) => binary("max", a, b)
export const minimum = (a: TensorLike, b: TensorLike) => binary("min", a, b)
export const greater = (a: TensorLike, b: TensorLike) => compare("greater", a, b)
export const less = (a: TensorLike, b: TensorLike) => compare("less", a, b)
export const equal = (a: TensorLike, b: TensorLike) => compare("equal", a, b)

export const neg = (x: TensorLike) => unary("neg", x, false)
export const exp = (x: TensorLike) => unary("exp", x, true)
export const log = (x: TensorLike) => unary("log", x, true)
export const sin = (x: TensorLike) => unary("sin", x, true)
export const cos = (x: TensorLike) => unary("cos", x, true)
export const tanh = (x: TensorLike) => unary("tanh", x, true)
export const sqrt = (x: TensorLike) => unary("sqrt", x, true)
export const log1p = (x: TensorLike) => unary("log1p", x, true)
export const expm1 = (x: TensorLike) => unary("expm1", x, true)
export const abs = (x: TensorLike) => unary("abs", x, false)
export const sign = (x: TensorLike) => unary("sign", x, false)

export const square = (x: TensorLike) => mul(x, x)
export const reciprocal = (x: TensorLike) => div(1, x)

/** where(cond, x, y): x where cond is true, else y (cond is cast to bool). */
export const where = (cond: TensorLike, x: TensorLike, y: TensorLike): Tensor => {
  const dtype = resultDType([x, y])
  const ts = alignShapes("where", [asTensor(cond, "bool"), asTensor(x, dtype), asTensor(y, dtype)])
  return Array.isArray(ts) ? bind("where", ts, {}) : ts
}

/** max(x, 0), with derivative 0 at 0 (as JAX's relu). */
export const relu = (x: TensorLike): Tensor => {
  const t = typeof x === "number" ? scalar(x) : x
  // NaN is kept (as JAX's maximum(x, 0)): x == x is false only for NaN
  return where(greater(t, 0), t, where(equal(t, t), 0, t))
}

/**
 * The logistic function without overflow: each branch only ever sees inputs
 * of one sign, so `exp` never overflows and the unused branch never makes a
 * NaN that would leak into the gradient.
 */
export const sigmoid = (x: TensorLike): Tensor => {
  const t = cast(typeof x === "number" ? scalar(x) : x, toInexact(typeof x === "number" ? defaultNumberDType : x.dtype))
  const neg = less(t, 0)
  const pos = where(neg, 0, t)
  const ng = where(neg, t, 0)
  const ePos = exp(mul(pos, -1))
  const eNeg = exp(ng)
  return where(neg, div(eNeg, add(eNeg, 1)), div(1, add(ePos, 1)))
}

export const stopGradient = (x: Tensor): Tensor => bind("stopGradient", [x], {})

export const real = (x: Tensor): Tensor => bind("real", [x], {})
export const imag = (x: Tensor): Tensor => bind("imag", [x], {})
export const conj = (x: Tensor): Tensor => (isComplex(x.dtype) ? bind("conj", [x], {}) : x)
export const complex = (re: TensorLike, im: TensorLike): Tensor => {
  const ts = align("complex", [re, im], "float32")
  return Array.isArray(ts) ? bind("complex", ts, {}) : ts
}

/** The argument of a complex number (atan2(imag, real)); for reals, π below 0 and 0 elsewhere. */
export const angle = (x: Tensor): Tensor =>
  isComplex(x.dtype) ? imag(log(x)) : where(less(x, 0), cast(scalar(Math.PI), toInexact(x.dtype)), 0)

/** Fails (as an error tensor) unless `x` has an inexact dtype. */
export const requireInexact = (op: string, x: Tensor): Tensor =>
  isInexact(x.dtype) ? x : errorTensor(new DTypeError({ message: `${op}: expected a float tensor, got ${x.dtype}` }), x.dtype)
