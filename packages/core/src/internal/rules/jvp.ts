/**
 * Forward-mode rules: the tangent of each primitive's output given the
 * tangents of its inputs (`null` is a symbolic zero). Rules are written with
 * differentiable ops, so they can be differentiated again, to any order.
 */
import { isInexact } from "../../DType.js"
import { bind } from "../bind.js"
import * as O from "../ops.js"
import type { Prim, PrimParams } from "../primitives.js"
import { scalar } from "../ops.js"
import type { Tensor } from "../tensor.js"
import { linalgJvp } from "../linalg/rules.js"
import { convJvp } from "../conv/rules.js"

type T = Tensor | null
export type JvpRule<P extends Prim> = (tangents: ReadonlyArray<T>, primals: ReadonlyArray<Tensor>, params: PrimParams[P], out: Tensor) => T

/** Zeros with the shape and dtype of `like`. */
export const zerosOf = (like: Tensor): Tensor => O.broadcastTo(scalar(0, like.dtype), like.shape)
const inst = (t: T, like: Tensor): Tensor => t ?? zerosOf(like)

/** Rule of a linear primitive: apply it to the tangents (zeros filled in). */
const linear = <P extends Prim>(prim: P): JvpRule<P> => (ts, xs, params) =>
  ts.every((t) => t === null) ? null : bind(prim, ts.map((t, i) => inst(t, xs[i]!)), params)

/** Rule of a unary primitive: t · f'(x). */
const unary = <P extends Prim>(deriv: (x: Tensor, out: Tensor) => Tensor): JvpRule<P> => ([t], [x], _p, out) =>
  t == null ? null : O.mul(t, deriv(x!, out))

const zero: JvpRule<any> = () => null

/** ta · da + tb · db, skipping symbolic zeros. */
const sumTerms = (...terms: ReadonlyArray<T>): T => {
  const live = terms.filter((t): t is Tensor => t !== null)
  return live.length === 0 ? null : live.reduce((a, b) => O.add(a, b))
}
const times = (t: T, f: () => Tensor): T => (t === null ? null : O.mul(t, f()))

/** x with its zeros replaced by 1 (the divisor of the complex |x| rules, so that their value at 0 is 0, as JAX). */
export const nonZero = (x: Tensor): Tensor => O.where(O.equal(x, 0), 1, x)

/** log(x), but 0 where x == 0 (the y-derivative of x^y at x = 0). */
export const safeLog = (x: Tensor): Tensor => O.log(O.where(O.equal(x, 0), 1, x))

/** The share of the gradient that goes to `a` in max/min: 1, ½ at ties, 0. */
export const maxShare = (a: Tensor, b: Tensor, wins: Tensor): Tensor =>
  O.where(wins, O.broadcastTo(scalar(1, a.dtype), a.shape), O.where(O.equal(a, b), 0.5, 0))

/** Broadcasts a reduced tensor back over the reduced axes. */
export const unreduce = (y: Tensor, x: Tensor, axes: ReadonlyArray<number>): Tensor => {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i))
  return bind("broadcast", [y], { shape: x.shape, dims: kept })
}

/** erf'(x) = 2/√π · e^(−x²). */
export const erfDeriv = (x: Tensor): Tensor => O.mul(O.exp(O.neg(O.mul(x, x))), 2 / Math.sqrt(Math.PI))

export const jvpRules: { readonly [P in Prim]: JvpRule<P> } = {
  neg: linear("neg"),
  exp: unary((_x, y) => y), // d eˣ = eˣ
  log: ([t], [x]) => (t == null ? null : O.div(t, x!)), // d log x = 1/x
  sin: unary((x) => O.cos(x)), // d sin = cos
  cos: unary((x) => O.neg(O.sin(x))), // d cos = −sin
  tanh: unary((_x, y) => O.sub(1, O.mul(y, y))), // d tanh = 1 − tanh²
  sqrt: ([t], _x, _p, y) => (t == null ? null : O.div(t, O.mul(y, 2))), // d √x = 1/(2√x)
  abs: ([t], [x], _p, y) =>
    t == null ? null : x!.dtype === "complex64" ? O.div(O.real(O.mul(O.conj(x!), t)), nonZero(y)) : O.mul(t, O.sign(x!)), // d|x| = sign x; complex: Re(x̄ t)/|x| (0 at 0, as JAX)
  sign: zero,
  log1p: ([t], [x]) => (t == null ? null : O.div(t, O.add(x!, 1))), // 1/(1+x)
  expm1: unary((_x, y) => O.add(y, 1)), // eˣ
  erf: unary((x) => erfDeriv(x)), // 2/√π · e^(−x²)
  floor: zero,
  add: ([ta, tb], [a, b]) => (ta === null && tb === null ? null : O.add(inst(ta!, a!), inst(tb!, b!))),
  sub: ([ta, tb], [a, b]) => (ta === null && tb === null ? null : O.sub(inst(ta!, a!), inst(tb!, b!))),
  mul: ([ta, tb], [a, b]) => sumTerms(times(ta!, () => b!), times(tb!, () => a!)), // ta·b + a·tb
  div: ([ta, tb], [_a, b], _p, y) => sumTerms(times(ta!, () => O.reciprocal(b!)), times(tb!, () => O.neg(O.div(y, b!)))), // ta/b − tb·y/b
  pow: ([ta, tb], [x, p], _p, y) =>
    sumTerms(times(ta!, () => O.mul(p!, O.pow(x!, O.sub(p!, 1)))), times(tb!, () => O.mul(safeLog(x!), y))), // p·x^(p−1), log x · xᵖ
  // each operand's share on its own (not 1 − the other's): at a NaN neither wins nor ties, so both get 0 (as JAX)
  max: ([ta, tb], [a, b]) =>
    sumTerms(times(ta!, () => maxShare(a!, b!, O.greater(a!, b!))), times(tb!, () => maxShare(b!, a!, O.greater(b!, a!)))),
  min: ([ta, tb], [a, b]) =>
    sumTerms(times(ta!, () => maxShare(a!, b!, O.less(a!, b!))), times(tb!, () => maxShare(b!, a!, O.less(b!, a!)))),
  atan2: ([ta, tb], [a, b]) => {
    if (ta === null && tb === null) return null
    // d atan2(a, b) = (b·ta − a·tb) / (a² + b²)
    const r = O.add(O.mul(a!, a!), O.mul(b!, b!))
    return sumTerms(times(ta!, () => O.div(b!, r)), times(tb!, () => O.neg(O.div(a!, r))))
  },
  greater: zero,
  less: zero,
  equal: zero,
  where: ([_tc, tx, ty], [c, x, y]) => (tx === null && ty === null ? null : bind("where", [c!, inst(tx!, x!), inst(ty!, y!)], {})),
  sum: linear("sum"),
  reduceMax: ([t], [x], { axes }, y) => {
    if (t == null) return null
    const mask = O.cast(O.equal(x!, unreduce(y, x!, axes)), x!.dtype) // where x attains the max
    const count = bind("sum", [mask], { axes })
    return O.div(bind("sum", [O.mul(t, mask)], { axes }), count) // mean of the tangents at the maxima
  },
  reshape: linear("reshape"),
  broadcast: linear("broadcast"),
  transpose: linear("transpose"),
  slice: linear("slice"),
  pad: linear("pad"),
  concat: linear("concat"),
  matmul: ([ta, tb], [a, b]) =>
    sumTerms(ta == null ? null : bind("matmul", [ta, b!], {}), tb == null ? null : bind("matmul", [a!, tb], {})), // ta·b + a·tb
  cast: ([t], [x], { dtype }) => (t == null || !isInexact(dtype) || !isInexact(x!.dtype) ? null : O.cast(t, dtype)),
  stopGradient: zero,
  real: linear("real"),
  imag: linear("imag"),
  complex: linear("complex"),
  conj: linear("conj"),
  random: zero, // draws carry no derivative
  gather: ([t], [_x, idx], params) => (t == null ? null : bind("gather", [t, idx!], params)), // linear in x
  scatterAdd: ([tx, _ti, tu], [x, idx, u], params) =>
    tx == null && tu == null ? null : bind("scatterAdd", [inst(tx!, x!), idx!, inst(tu!, u!)], params), // linear in x and the updates
  argsort: zero,
  cumsum: linear("cumsum"),
  ...linalgJvp,
  conv: convJvp // bilinear: conv(dx, w) + conv(x, dw)
}
