/**
 * The closed set of primitives. Only these have backend kernels and
 * differentiation / batching rules; every public op is composed from them.
 *
 * Conventions that keep the rules short:
 * - elementwise binary primitives take operands of *equal* shape and dtype
 *   (the frontend inserts explicit `broadcast` and `cast` nodes);
 * - `broadcast` is JAX's broadcast_in_dim: input axis i maps to output axis
 *   `dims[i]`, where its size must equal the output size or be 1;
 * - `matmul` is batched: `[...b, m, k] @ [...b, k, n]` with equal batch dims.
 * - the linear-algebra primitives work on the last two axes, batched over the
 *   leading ones, on float32/float64. A primitive has one output, so those
 *   with several results pack them as rows of one matrix (`internal/linalg`):
 *   `lu`: `[n + 2, n]` (packed L\U, then the row permutation, then the sign of
 *   the determinant); `qr`: `[m + n, k]` (Q, then Rᵀ; k = min(m, n));
 *   `eigh`: `[n + 1, n]` (ascending eigenvalues, then the eigenvectors as
 *   columns); `svd`: `[m + 1 + n, k]` (U, then the descending singular
 *   values, then V). `triangularSolve` solves `op(a) x = b` for `b` of shape
 *   `[..., n, k]`, reading only the triangle of `a` that `lower` names.
 */
import type { DType } from "../DType.js"

export interface PrimParams {
  // unary elementwise
  neg: {}
  exp: {}
  log: {}
  sin: {}
  cos: {}
  tanh: {}
  sqrt: {}
  abs: {}
  sign: {}
  log1p: {}
  expm1: {}
  erf: {}
  floor: {}
  // binary elementwise (equal shapes)
  add: {}
  sub: {}
  mul: {}
  div: {}
  pow: {}
  max: {}
  min: {}
  atan2: {}
  // comparisons (output bool)
  greater: {}
  less: {}
  equal: {}
  // select: where(cond, x, y)
  where: {}
  // reductions over sorted distinct axes, dropping them
  sum: { readonly axes: ReadonlyArray<number> }
  reduceMax: { readonly axes: ReadonlyArray<number> }
  // structure
  reshape: { readonly shape: ReadonlyArray<number> }
  broadcast: { readonly shape: ReadonlyArray<number>; readonly dims: ReadonlyArray<number> }
  transpose: { readonly perm: ReadonlyArray<number> }
  slice: { readonly starts: ReadonlyArray<number>; readonly stops: ReadonlyArray<number> }
  pad: { readonly before: ReadonlyArray<number>; readonly after: ReadonlyArray<number> }
  concat: { readonly axis: number }
  // linear algebra
  matmul: {}
  // dtypes
  cast: { readonly dtype: DType }
  // autodiff
  stopGradient: {}
  // complex numbers
  real: {}
  imag: {}
  complex: {}
  conj: {}
  // random numbers from a Threefry-2x32 key (see RandomParams)
  random: RandomParams
  // indexing along one axis (int32 indices; negative count from the end, out-of-range clamped):
  // x [...B, ...P, n, ...Q] with B the first `batchDims` axes, indices [...B, ...J]
  // gather → [...B, ...P, ...J, ...Q]; scatterAdd(x, indices, updates of that shape) → x's shape
  gather: { readonly axis: number; readonly batchDims: number }
  scatterAdd: { readonly axis: number; readonly batchDims: number }
  // sorting: the int32 permutation that sorts the last axis (stable; NaN last, or first when descending)
  argsort: { readonly descending: boolean }
  // cumulative sum along an axis (from the end when `reverse`)
  cumsum: { readonly axis: number; readonly reverse: boolean }
  // dense linear algebra on the last two axes (any leading batch axes; see internal/linalg)
  cholesky: {}
  triangularSolve: { readonly lower: boolean; readonly transpose: boolean; readonly unitDiagonal: boolean }
  lu: {}
  qr: {}
  eigh: {}
  svd: {}
  // convolution (lax.conv_general_dilated in the PyTorch layout; see internal/conv)
  conv: {
    readonly strides: ReadonlyArray<number>
    readonly padding: ReadonlyArray<readonly [number, number]>
    readonly lhsDilation: ReadonlyArray<number>
    readonly rhsDilation: ReadonlyArray<number>
    readonly groups: number
  }
}

/**
 * What a `random` node draws from its int32 key `[...batch, 2]` (one draw
 * per key; the output is `[...batch, ...shape]`): `hash` gives the key
 * hashed at the counter `(a, b)` (a new key, int32 `[2]`); `bits` raw
 * words; `uniform` floats in `[a, b)`; `normal` floats of mean `a` and
 * standard deviation `b`; `bernoulli` booleans true with probability `a`;
 * `randint` integers in `[a, b)`; `permutation` a permutation of
 * `0..shape[0]-1`. The numbers are those of `Random`'s samplers.
 */
export interface RandomParams {
  readonly kind: "hash" | "bits" | "uniform" | "normal" | "bernoulli" | "randint" | "permutation"
  readonly shape: ReadonlyArray<number>
  readonly dtype: DType
  readonly a: number
  readonly b: number
}

/** A primitive's name. */
export type Prim = keyof PrimParams

/** Every primitive, once (used to check tables at run time in tests too). */
export const prims: ReadonlyArray<Prim> = [
  "neg", "exp", "log", "sin", "cos", "tanh", "sqrt", "abs", "sign", "log1p", "expm1",
  "add", "sub", "mul", "div", "pow", "max", "min",
  "greater", "less", "equal", "where",
  "sum", "reduceMax",
  "reshape", "broadcast", "transpose", "slice", "pad", "concat",
  "matmul", "cast", "stopGradient",
  "real", "imag", "complex", "conj",
  "random",
  "erf", "floor", "atan2", "gather", "scatterAdd", "argsort", "cumsum",
  "cholesky", "triangularSolve", "lu", "qr", "eigh", "svd",
  "conv"
]

export type UnaryPrim = "neg" | "exp" | "log" | "sin" | "cos" | "tanh" | "sqrt" | "abs" | "sign" | "log1p" | "expm1" | "erf" | "floor"
export type BinaryPrim = "add" | "sub" | "mul" | "div" | "pow" | "max" | "min" | "atan2"
export type ComparePrim = "greater" | "less" | "equal"

export const unaryPrims: ReadonlyArray<UnaryPrim> = ["neg", "exp", "log", "sin", "cos", "tanh", "sqrt", "abs", "sign", "log1p", "expm1", "erf", "floor"]
export const binaryPrims: ReadonlyArray<BinaryPrim> = ["add", "sub", "mul", "div", "pow", "max", "min", "atan2"]
export const comparePrims: ReadonlyArray<ComparePrim> = ["greater", "less", "equal"]
