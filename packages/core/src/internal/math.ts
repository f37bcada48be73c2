/**
 * Elementwise functions composed from the primitives: trigonometric and
 * hyperbolic functions and their inverses (from sin, cos, exp, expm1, log1p,
 * sqrt and atan2), rounding (from floor), mod, clip, and the activations.
 * Each formula is chosen for accuracy over the whole domain and for a
 * gradient that is right where the naive one is not (branches of `where`
 * only ever see inputs that are safe for them).
 */
import { defaultNumberDType, isComplex, isInexact, toInexact } from "../DType.js"
import { DTypeError } from "../Errors.js"
import {
  abs, add, alignShapes, binary, cast, div, equal, exp, expm1, greater, less, log, log1p, maximum, minimum, mul, neg, scalar, sigmoid,
  sin, cos, sqrt, sub, tanh, type TensorLike, unary, where
} from "./ops.js"
import { customTensor, errorTensor, type Tensor } from "./tensor.js"

const asT = (x: TensorLike): Tensor => (typeof x === "number" ? scalar(x) : x)
/** x as a float tensor (integers and bool promote to float32). */
const fl = (x: TensorLike): Tensor => {
  const t = asT(x)
  return cast(t, toInexact(t.dtype === "bool" ? defaultNumberDType : t.dtype))
}
/** x as a real float tensor, or an error naming the op. */
const real = (op: string, x: TensorLike): Tensor => {
  const t = fl(x)
  return t.op !== "error" && isComplex(t.dtype) ? errorTensor(new DTypeError({ message: `${op}: not defined for complex64` }), t.dtype) : t
}
const yes = (): Tensor => scalar(1, "bool")
const no = (): Tensor => scalar(0, "bool")
export const isNaN_ = (x: Tensor): Tensor => where(equal(x, x), no(), yes())
const LN2 = Math.LN2
/** Above this, x² / (1 + √(1 + x²)) would overflow: asinh and acosh use log(2x). */
const LARGE = 1e8

export const tan = (x: TensorLike): Tensor => {
  const t = fl(x)
  return div(sin(t), cos(t))
}
export const sinh = (x: TensorLike): Tensor => {
  const t = fl(x)
  // expm1 keeps small arguments accurate (no 1 − 1 cancellation)
  return mul(sub(expm1(t), expm1(neg(t))), 0.5)
}
export const cosh = (x: TensorLike): Tensor => {
  const t = fl(x)
  return mul(add(exp(t), exp(neg(t))), 0.5)
}
export const atan2 = (y: TensorLike, x: TensorLike): Tensor => {
  const r = binary("atan2", y, x, true)
  return r
}
export const atan = (x: TensorLike): Tensor => {
  const t = real("atan", x)
  return t.op === "error" ? t : binary("atan2", t, 1, true)
}
/** asin x = atan2(x, √((1 − x)(1 + x))): accurate up to |x| = 1. */
export const asin = (x: TensorLike): Tensor => {
  const t = real("asin", x)
  return t.op === "error" ? t : binary("atan2", t, sqrt(mul(sub(1, t), add(1, t))), true)
}
/** acos x = atan2(√((1 − x)(1 + x)), x). */
export const acos = (x: TensorLike): Tensor => {
  const t = real("acos", x)
  return t.op === "error" ? t : binary("atan2", sqrt(mul(sub(1, t), add(1, t))), t, true)
}
/** asinh, odd: for y = |x|, log1p(y + y² / (1 + √(1 + y²))), and log(2y) for huge y. */
export const asinh = (x: TensorLike): Tensor => {
  const t = real("asinh", x)
  if (t.op === "error") return t
  const negative = less(t, 0)
  const y = where(negative, neg(t), t) // derivative ±1, never 0 (unlike |x| at 0)
  const big = greater(y, LARGE)
  const ys = where(big, 1, y)
  const small = log1p(add(ys, div(mul(ys, ys), add(1, sqrt(add(1, mul(ys, ys)))))))
  const r = where(big, add(log(where(big, y, 1)), LN2), small)
  return where(negative, neg(r), r)
}
/** acosh x = log1p((x − 1) + √((x − 1)(x + 1))), log(2x) for huge x; NaN below 1. */
export const acosh = (x: TensorLike): Tensor => {
  const t = real("acosh", x)
  if (t.op === "error") return t
  const big = greater(t, LARGE)
  const ts = where(big, 2, t)
  const xm1 = sub(ts, 1)
  const small = log1p(add(xm1, sqrt(mul(xm1, add(ts, 1)))))
  return where(big, add(log(where(big, t, 1)), LN2), small)
}
/** atanh x = ½ log1p(2x / (1 − x)). */
export const atanh = (x: TensorLike): Tensor => {
  const t = real("atanh", x)
  return t.op === "error" ? t : mul(log1p(div(mul(t, 2), sub(1, t))), 0.5)
}
/** The error function (a primitive). */
export const erf = (x: TensorLike): Tensor => {
  const t = real("erf", x)
  return t.op === "error" ? t : unary("erf", t, true)
}

/** Integers (and bool, as int32) round to themselves. */
const rounding = (op: string, x: TensorLike, f: (t: Tensor) => Tensor): Tensor => {
  const t = asT(x)
  if (t.op === "error") return t
  if (isComplex(t.dtype)) return errorTensor(new DTypeError({ message: `${op}: not defined for complex64` }), t.dtype)
  if (!isInexact(t.dtype)) return cast(t, "int32")
  return f(t)
}
export const floor = (x: TensorLike): Tensor => rounding("floor", x, (t) => unary("floor", t, true))
export const ceil = (x: TensorLike): Tensor => rounding("ceil", x, (t) => neg(unary("floor", neg(t), true)))
/** Rounds half to even (as NumPy and JAX). */
export const round = (x: TensorLike): Tensor =>
  rounding("round", x, (t) => {
    const r = unary("floor", t, true)
    const d = sub(t, r) // exact: the fractional part
    const half = unary("floor", mul(r, 0.5), true)
    const odd = less(half, mul(r, 0.5))
    const up = where(greater(d, 0.5), yes(), where(equal(d, 0.5), odd, no()))
    return where(up, add(r, 1), r)
  })

/** NumPy's mod: x − y·floor(x / y), the sign of y (integers: exact, 0 where y is 0). */
export const mod = (a: TensorLike, b: TensorLike): Tensor => {
  const x = asT(a)
  const dtype = binary("sub", a, b).dtype
  if (isComplex(dtype)) return errorTensor(new DTypeError({ message: "mod: not defined for complex64" }), dtype)
  if (isInexact(dtype)) {
    const xf = cast(x, dtype)
    const y = typeof b === "number" ? scalar(b, dtype) : cast(b, dtype)
    return sub(xf, mul(y, floor(div(xf, y))))
  }
  const xi = cast(x, "int32")
  const y = typeof b === "number" ? scalar(b, "int32") : cast(b, "int32")
  const q = cast(floor(div(xi, y)), "int32")
  let r = sub(xi, mul(y, q))
  // the float quotient may be one off for large integers: bring r into [0, y) or (y, 0]
  const wrongSign = where(equal(r, 0), no(), where(less(r, 0), greater(y, 0), less(y, 0)))
  r = where(wrongSign, add(r, y), r)
  const tooBig = where(greater(y, 0), greater(add(r, 1), y), less(sub(r, 1), y))
  r = where(tooBig, sub(r, y), r)
  return where(equal(y, 0), 0, r)
}

/** min(max(x, lo), hi); either bound may be absent. */
export const clip = (x: TensorLike, lo?: TensorLike, hi?: TensorLike): Tensor => {
  let t = asT(x)
  if (lo !== undefined) t = maximum(t, lo)
  if (hi !== undefined) t = minimum(t, hi)
  return t
}

/**
 * log(eᵃ + eᵇ) = max(a, b) + log1p(e^(−|a − b|)); equal infinities give a + b.
 * Differentiated by its own rule, ∂/∂a = sigmoid(a − b) (as JAX's custom_jvp):
 * the |a − b| of the value formula has a kink at a = b that the function has not.
 */
export const logaddexp = (a: TensorLike, b: TensorLike): Tensor => {
  const dtype = toInexact(binary("add", a, b).dtype)
  if (isComplex(dtype)) return errorTensor(new DTypeError({ message: "logaddexp: not defined for complex64" }), dtype)
  const al = alignShapes("logaddexp", [typeof a === "number" ? scalar(a, dtype) : cast(a, dtype), typeof b === "number" ? scalar(b, dtype) : cast(b, dtype)])
  if (!Array.isArray(al)) return al
  const [xb, yb] = al as [Tensor, Tensor]
  const delta = sub(xb, yb)
  const bad = isNaN_(delta)
  const value = where(bad, add(xb, yb), add(maximum(xb, yb), log1p(exp(neg(abs(where(bad, 0, delta)))))))
  if (value.op === "error") return value
  const weights = (p: ReadonlyArray<Tensor>): [Tensor, Tensor] => {
    const d = sub(p[0]!, p[1]!)
    const s = where(isNaN_(d), 0, d)
    return [sigmoid(s), sigmoid(neg(s))]
  }
  return customTensor([xb, yb], value, {
    name: "logaddexp",
    jvp: (p, [ta, tb]) => {
      const [wa, wb] = weights(p)
      return add(mul(ta!, wa), mul(tb!, wb))
    },
    vjp: (p, _out, ct) => {
      const [wa, wb] = weights(p)
      return [mul(ct, wa), mul(ct, wb)]
    }
  })
}

export const softplus = (x: TensorLike): Tensor => logaddexp(real("softplus", x), 0)
export const logSigmoid = (x: TensorLike): Tensor => neg(softplus(neg(real("logSigmoid", x))))
export const silu = (x: TensorLike): Tensor => {
  const t = real("silu", x)
  return mul(t, sigmoid(t))
}

/** Options of gelu. */
export interface GeluOptions {
  /** The tanh approximation (JAX's default, true) or the exact x·Φ(x). */
  readonly approximate?: boolean | undefined
}
export const gelu = (x: TensorLike, options: GeluOptions = {}): Tensor => {
  const t = real("gelu", x)
  if (options.approximate === false) return mul(mul(t, 0.5), add(1, erf(mul(t, Math.SQRT1_2))))
  const inner = mul(add(t, mul(mul(mul(t, t), t), 0.044715)), Math.sqrt(2 / Math.PI))
  return mul(mul(t, 0.5), add(1, tanh(inner)))
}

/** Options of elu. */
export interface EluOptions {
  /** The scale of the negative part (default 1). */
  readonly alpha?: number | undefined
}
export const elu = (x: TensorLike, options: EluOptions = {}): Tensor => {
  const t = real("elu", x)
  const pos = greater(t, 0)
  return where(pos, t, mul(expm1(where(pos, 0, t)), options.alpha ?? 1))
}

/** Options of leakyRelu. */
export interface LeakyReluOptions {
  /** The slope below 0 (default 0.01). */
  readonly negativeSlope?: number | undefined
}
export const leakyRelu = (x: TensorLike, options: LeakyReluOptions = {}): Tensor => {
  const t = real("leakyRelu", x)
  return where(less(t, 0), mul(t, options.negativeSlope ?? 0.01), t)
}
