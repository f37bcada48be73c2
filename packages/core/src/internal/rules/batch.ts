/**
 * Batching rules for vmap: each primitive applied to arguments some of which
 * carry a leading batch axis of size `n`. The result always carries the
 * batch axis first.
 */
import { bind } from "../bind.js"
import type { Prim, PrimParams } from "../primitives.js"
import { sizeOf } from "../shape.js"
import type { Tensor } from "../tensor.js"
import { convBatch } from "../conv/rules.js"

export interface BatchArg {
  readonly t: Tensor
  /** Whether `t` has the batch axis (at 0). */
  readonly batched: boolean
}
export type BatchRule<P extends Prim> = (args: ReadonlyArray<BatchArg>, params: PrimParams[P], n: number) => Tensor

/** Gives an unbatched argument the batch axis by broadcasting. */
export const withBatch = (a: BatchArg, n: number): Tensor =>
  a.batched ? a.t : bind("broadcast", [a.t], { shape: [n, ...a.t.shape], dims: a.t.shape.map((_, i) => i + 1) })

const shift = (axes: ReadonlyArray<number>) => axes.map((a) => a + 1)

/** Elementwise primitives: batch every argument, apply as is. */
const elementwise = <P extends Prim>(prim: P): BatchRule<P> => (args, params, n) => bind(prim, args.map((a) => withBatch(a, n)), params)

/** Primitives batched over any leading axes: give every operand the batch axis. */
const leading = elementwise

export const batchRules: { readonly [P in Prim]: BatchRule<P> } = {
  neg: elementwise("neg"),
  exp: elementwise("exp"),
  log: elementwise("log"),
  sin: elementwise("sin"),
  cos: elementwise("cos"),
  tanh: elementwise("tanh"),
  sqrt: elementwise("sqrt"),
  abs: elementwise("abs"),
  sign: elementwise("sign"),
  log1p: elementwise("log1p"),
  expm1: elementwise("expm1"),
  erf: elementwise("erf"),
  floor: elementwise("floor"),
  atan2: elementwise("atan2"),
  add: elementwise("add"),
  sub: elementwise("sub"),
  mul: elementwise("mul"),
  div: elementwise("div"),
  pow: elementwise("pow"),
  max: elementwise("max"),
  min: elementwise("min"),
  greater: elementwise("greater"),
  less: elementwise("less"),
  equal: elementwise("equal"),
  where: elementwise("where"),
  cast: elementwise("cast"),
  stopGradient: elementwise("stopGradient"),
  real: elementwise("real"),
  imag: elementwise("imag"),
  complex: elementwise("complex"),
  conj: elementwise("conj"),
  sum: ([a], { axes }) => bind("sum", [a!.t], { axes: shift(axes) }),
  reduceMax: ([a], { axes }) => bind("reduceMax", [a!.t], { axes: shift(axes) }),
  reshape: ([a], { shape }, n) => bind("reshape", [a!.t], { shape: [n, ...shape] }),
  broadcast: ([a], { shape, dims }, n) => bind("broadcast", [a!.t], { shape: [n, ...shape], dims: [0, ...shift(dims)] }),
  transpose: ([a], { perm }) => bind("transpose", [a!.t], { perm: [0, ...shift(perm)] }),
  slice: ([a], { starts, stops }, n) => bind("slice", [a!.t], { starts: [0, ...starts], stops: [n, ...stops] }),
  pad: ([a], { before, after }) => bind("pad", [a!.t], { before: [0, ...before], after: [0, ...after] }),
  concat: (args, { axis }, n) => bind("concat", args.map((a) => withBatch(a, n)), { axis: axis + 1 }),
  gather: ([x, idx], { axis, batchDims }, n) => {
    if (!idx!.batched && batchDims === 0) return bind("gather", [x!.t, idx!.t], { axis: axis + 1, batchDims })
    if (!x!.batched && batchDims === 0) {
      // x shared: gather once, then move the batch axis (now at `axis`) to the front
      const out = bind("gather", [x!.t, idx!.t], { axis, batchDims })
      const perm = [axis, ...out.shape.map((_, i) => i).filter((i) => i !== axis)]
      return axis === 0 ? out : bind("transpose", [out], { perm })
    }
    return bind("gather", [withBatch(x!, n), withBatch(idx!, n)], { axis: axis + 1, batchDims: batchDims + 1 })
  },
  scatterAdd: (args, { axis, batchDims }, n) => bind("scatterAdd", args.map((a) => withBatch(a, n)), { axis: axis + 1, batchDims: batchDims + 1 }),
  argsort: ([a], params) => bind("argsort", [a!.t], params), // the last axis stays last
  cumsum: ([a], { axis, reverse }) => bind("cumsum", [a!.t], { axis: axis + 1, reverse }),
  matmul: ([a, b], _p, n) => {
    // a batched stack of matrices times one shared matrix: fold the batch into the rows
    if (a!.batched && !b!.batched && b!.t.ndim === 2) {
      const [, ...rest] = a!.t.shape
      const k = rest[rest.length - 1]!
      const rows = bind("reshape", [a!.t], { shape: [n * sizeOf(rest) / k, k] })
      const out = bind("matmul", [rows, b!.t], {})
      return bind("reshape", [out], { shape: [n, ...rest.slice(0, -1), b!.t.shape[1]!] })
    }
    return bind("matmul", [withBatch(a!, n), withBatch(b!, n)], {})
  },
  // one draw per key: the batch of keys is the leading batch of the output
  random: ([k], params) => bind("random", [k!.t], params),
  // linear algebra: batched over leading axes already
  cholesky: leading("cholesky"),
  triangularSolve: leading("triangularSolve"),
  lu: leading("lu"),
  qr: leading("qr"),
  eigh: leading("eigh"),
  svd: leading("svd"),
  conv: convBatch
}
