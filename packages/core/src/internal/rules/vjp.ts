/**
 * Reverse-mode rules: the cotangent of each input given the cotangent of the
 * output (`null`: no contribution). For complex numbers the rules use the
 * plain (non-conjugating) transpose, as JAX, so `grad(f, { holomorphic })`
 * gives f'(z). Written with differentiable ops: any order of nesting works.
 */
import { isInexact } from "../../DType.js"
import { bind } from "../bind.js"
import * as O from "../ops.js"
import type { Prim, PrimParams } from "../primitives.js"
import { invertPerm } from "../shape.js"
import { inputTensor, type Tensor } from "../tensor.js"
import { vjpGraph } from "../interpret.js"
import { linalgJvp, triangularSolveVjp } from "../linalg/rules.js"
import { erfDeriv, type JvpRule, maxShare, nonZero, safeLog, unreduce, zerosOf } from "./jvp.js"
import { convVjp } from "../conv/rules.js"

type T = Tensor | null
export type VjpRule<P extends Prim> = (ct: Tensor, primals: ReadonlyArray<Tensor>, params: PrimParams[P], out: Tensor) => ReadonlyArray<T>

const unary = <P extends Prim>(deriv: (x: Tensor, out: Tensor) => Tensor): VjpRule<P> => (ct, [x], _p, out) => [O.mul(ct, deriv(x!, out))]
const none: VjpRule<any> = (_ct, xs) => xs.map(() => null)

/**
 * Swaps the last two axes. One node per tensor: the weight matrix of a loop
 * step is transposed by the rule of every step's product.
 */
const mT = (x: Tensor): Tensor => {
  let t = transposes.get(x)
  if (t === undefined) {
    const r = x.ndim
    // one params object per rank, shared by the transposes of every step
    let p = swapLast[r]
    if (p === undefined) swapLast[r] = p = Object.freeze({ perm: Object.freeze([...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]) })
    t = bind("transpose", [x], p)
    transposes.set(x, t)
  }
  return t
}
const transposes = new WeakMap<Tensor, Tensor>()
const swapLast: Array<PrimParams["transpose"]> = []

/**
 * The reverse rule of a primitive whose forward rule is given: the forward
 * rule is linear in the tangents, so pulling `ct` back through it (with the
 * tangents as fresh symbols) applies its transpose. The result is built
 * with differentiable ops, as every rule.
 */
const transposed =
  <P extends Prim>(rule: JvpRule<P>): VjpRule<P> =>
  (ct, xs, params, out) => {
    const tangents = xs.map((x) => inputTensor(x.shape, x.dtype))
    const t = rule(tangents, xs, params, out)
    if (t === null) return xs.map(() => null)
    if (t.op === "error") return xs.map(() => t)
    const cts = vjpGraph([t], [ct], tangents)
    for (const tan of tangents) tan.live = false
    return cts
  }

export const vjpRules: { readonly [P in Prim]: VjpRule<P> } = {
  neg: (ct) => [O.neg(ct)],
  exp: unary((_x, y) => y),
  log: (ct, [x]) => [O.div(ct, x!)],
  sin: unary((x) => O.cos(x)),
  cos: unary((x) => O.neg(O.sin(x))),
  tanh: unary((_x, y) => O.sub(1, O.mul(y, y))),
  sqrt: (ct, _x, _p, y) => [O.div(ct, O.mul(y, 2))],
  abs: (ct, [x], _p, y) =>
    x!.dtype === "complex64" ? [O.mul(O.cast(ct, "complex64"), O.div(O.conj(x!), O.cast(nonZero(y), "complex64")))] : [O.mul(ct, O.sign(x!))],
  sign: none,
  log1p: (ct, [x]) => [O.div(ct, O.add(x!, 1))],
  expm1: unary((_x, y) => O.add(y, 1)),
  erf: unary((x) => erfDeriv(x)),
  floor: none,
  add: (ct) => [ct, ct],
  sub: (ct) => [ct, O.neg(ct)],
  mul: (ct, [a, b]) => [O.mul(ct, b!), O.mul(ct, a!)],
  div: (ct, [_a, b], _p, y) => [O.div(ct, b!), O.neg(O.div(O.mul(ct, y), b!))],
  pow: (ct, [x, p], _p, y) => [O.mul(ct, O.mul(p!, O.pow(x!, O.sub(p!, 1)))), O.mul(ct, O.mul(safeLog(x!), y))],
  // each operand's share on its own (see jvp.ts): at a NaN both get 0
  max: (ct, [a, b]) => [O.mul(ct, maxShare(a!, b!, O.greater(a!, b!))), O.mul(ct, maxShare(b!, a!, O.greater(b!, a!)))],
  min: (ct, [a, b]) => [O.mul(ct, maxShare(a!, b!, O.less(a!, b!))), O.mul(ct, maxShare(b!, a!, O.less(b!, a!)))],
  atan2: (ct, [a, b]) => {
    const r = O.add(O.mul(a!, a!), O.mul(b!, b!))
    return [O.mul(ct, O.div(b!, r)), O.neg(O.mul(ct, O.div(a!, r)))] // b/(a²+b²), −a/(a²+b²)
  },
  greater: none,
  less: none,
  equal: none,
  where: (ct, [c]) => [null, O.where(c!, ct, 0), O.where(c!, 0, ct)],
  sum: (ct, [x], { axes }) => [unreduce(ct, x!, axes)],
  reduceMax: (ct, [x], { axes }, y) => {
    const mask = O.cast(O.equal(x!, unreduce(y, x!, axes)), x!.dtype)
    const count = bind("sum", [mask], { axes })
    return [O.mul(unreduce(O.div(ct, count), x!, axes), mask)]
  },
  reshape: (ct, [x]) => [bind("reshape", [ct], { shape: x!.shape })],
  broadcast: (ct, [x], { shape, dims }) => {
    // sum over the added axes and over the axes that were stretched from 1
    const axes = shape.map((_, i) => i).filter((i) => {
      const k = dims.indexOf(i)
      return k < 0 || (x!.shape[k] === 1 && shape[i] !== 1)
    })
    const summed = axes.length === 0 ? ct : bind("sum", [ct], { axes })
    return [summed.shape.length === x!.shape.length && summed.shape.every((d, i) => d === x!.shape[i]) ? summed : bind("reshape", [summed], { shape: x!.shape })]
  },
  transpose: (ct, _x, { perm }) => [bind("transpose", [ct], { perm: invertPerm(perm) })],
  slice: (ct, [x], { starts, stops }) => [bind("pad", [ct], { before: starts, after: stops.map((s, i) => x!.shape[i]! - s) })],
  pad: (ct, [x], { before }) => [bind("slice", [ct], { starts: before, stops: before.map((b, i) => b + x!.shape[i]!) })],
  concat: (ct, xs, { axis }) => {
    let at = 0
    return xs.map((x) => {
      const starts = x.shape.map((_, i) => (i === axis ? at : 0))
      const stops = x.shape.map((d, i) => (i === axis ? at + d : d))
      at += x.shape[axis]!
      return bind("slice", [ct], { starts, stops })
    })
  },
  matmul: (ct, [a, b]) => [bind("matmul", [ct, mT(b!)], {}), bind("matmul", [mT(a!), ct], {})], // ct·bᵀ, aᵀ·ct
  cast: (ct, [x], { dtype }) => [isInexact(dtype) && isInexact(x!.dtype) ? O.cast(ct, x!.dtype) : null],
  stopGradient: none,
  real: (ct, [x]) => [O.cast(ct, x!.dtype)], // complex: ct + 0i
  imag: (ct, [x]) => [x!.dtype === "complex64" ? O.complex(O.broadcastTo(O.scalar(0), ct.shape), O.neg(ct)) : null], // −i·ct
  complex: (ct) => [O.real(ct), O.neg(O.imag(ct))],
  conj: (ct) => [O.conj(ct)],
  random: none,
  // gather's transpose adds each cotangent back at its (clamped) index; scatterAdd's reads them
  gather: (ct, [x, idx], params) => [bind("scatterAdd", [zerosOf(x!), idx!, ct], params), null],
  scatterAdd: (ct, [_x, idx], params) => [ct, null, bind("gather", [ct, idx!], params)],
  argsort: none,
  cumsum: (ct, _x, { axis, reverse }) => [bind("cumsum", [ct], { axis, reverse: !reverse })],
  // linear algebra: the forward rules transposed (triangularSolve, linear in b, has its own)
  cholesky: transposed(linalgJvp.cholesky),
  triangularSolve: triangularSolveVjp,
  lu: transposed(linalgJvp.lu),
  qr: transposed(linalgJvp.qr),
  eigh: transposed(linalgJvp.eigh),
  svd: transposed(linalgJvp.svd),
  conv: convVjp // transposed convolutions (see conv/rules.ts)
}
