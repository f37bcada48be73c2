/**
 * The linear-algebra functions, composed from the six primitives:
 * `solve`, `inv`, `det` and `slogdet` from `lu` and `triangularSolve`
 * (never from an inverse), and the unpacking of the packed outputs.
 */
import { type DType } from "../../DType.js"
import { DTypeError, ShapeError } from "../../Errors.js"
import { bind } from "../bind.js"
import * as O from "../ops.js"
import { broadcastShapes, fmt, shapeEq } from "../shape.js"
import * as S from "../structural.js"
import { argmin, prod, rangeTensor } from "../stats.js"
import { sum } from "../reduce.js"
import { customTensor, errorTensor, firstError, type Tensor } from "../tensor.js"
import { asCol, asRow, diagonal, eye, mm, mT, permutationMatrix, row, rows, triu } from "./matrix.js"
import { linalgError, trisolve } from "./rules.js"

const isFloat = (d: DType) => d === "float32" || d === "float64"

/** Integers and bools become float32 (as every inexact op); complex64 is refused. */
const floating = (op: string, x: Tensor): Tensor => {
  if (x.op === "error") return x
  if (x.dtype === "complex64") return errorTensor(new DTypeError({ message: `${op}: complex64 is not supported (float32 or float64 matrices), got ${fmt(x.shape)}` }), x.dtype)
  return isFloat(x.dtype) ? x : O.cast(x, "float32")
}

/** `x` as a (stack of) square float matrices, or the error that says why not. */
const squareMatrix = (op: string, x: Tensor): Tensor => {
  const a = floating(op, x)
  if (a.op === "error") return a
  if (a.ndim < 2) return errorTensor(new ShapeError({ message: `${op}: expected a matrix (at least 2 axes), got ${a.dtype} ${fmt(a.shape)}` }), a.dtype)
  if (a.shape[a.ndim - 1] !== a.shape[a.ndim - 2]) return linalgError(`${op}: expected square matrices, got ${a.dtype} ${fmt(a.shape)}`, a.dtype)
  return a
}

const anyMatrix = (op: string, x: Tensor): Tensor => {
  const a = floating(op, x)
  if (a.op === "error") return a
  if (a.ndim < 2) return errorTensor(new ShapeError({ message: `${op}: expected a matrix (at least 2 axes), got ${a.dtype} ${fmt(a.shape)}` }), a.dtype)
  return a
}

/** ½ (a + aᵀ): the symmetric part, the input of cholesky and eigh (as JAX's symmetrize_input). */
const symmetrize = (a: Tensor): Tensor => O.mul(O.add(a, mT(a)), 0.5)

export const cholesky = (x: Tensor): Tensor => {
  const a = squareMatrix("cholesky", x)
  return a.op === "error" ? a : bind("cholesky", [symmetrize(a)], {})
}

/**
 * `a` and `b` at a common float dtype and batch shape, with `b` as a stack
 * of matrices; `vector` says whether `b` was a (stack of) vectors.
 */
const system = (op: string, x: Tensor, y: Tensor): { a: Tensor; b: Tensor; vector: boolean } | Tensor => {
  let a = squareMatrix(op, x)
  let b = floating(op, y)
  const bad = firstError([a, b])
  if (bad) return bad
  const dtype: DType = a.dtype === "float64" || b.dtype === "float64" ? "float64" : "float32"
  a = O.cast(a, dtype)
  b = O.cast(b, dtype)
  const n = a.shape[a.ndim - 1]!
  // b is a vector when it is 1-D, or when it has a's shape without the last axis (as PyTorch)
  const vector = b.ndim === 1 || (b.ndim === a.ndim - 1 && shapeEq(b.shape, a.shape.slice(0, -1)))
  const bm = vector ? S.reshape(b, [...b.shape, 1]) : b
  if (bm.ndim < 2 || bm.shape[bm.ndim - 2] !== n)
    return errorTensor(new ShapeError({ message: `${op}: a of shape ${fmt(a.shape)} does not fit b of shape ${fmt(b.shape)} (${dtype})` }), dtype)
  const batch = broadcastShapes(a.shape.slice(0, -2), bm.shape.slice(0, -2))
  if (batch === undefined)
    return errorTensor(new ShapeError({ message: `${op}: batch axes of a ${fmt(a.shape)} and b ${fmt(b.shape)} do not broadcast` }), dtype)
  return {
    a: O.broadcastTo(a, [...batch, n, n], op),
    b: O.broadcastTo(bm, [...batch, n, bm.shape[bm.ndim - 1]!], op),
    vector
  }
}

const unvector = (x: Tensor, vector: boolean): Tensor => (vector ? S.reshape(x, x.shape.slice(0, -1)) : x)

export interface SolveTriangularOptions {
  /** Whether `a` is lower triangular (default false: upper, as SciPy). */
  readonly lower?: boolean | undefined
  /** Solve `aᵀ x = b` instead of `a x = b` (default false). */
  readonly transpose?: boolean | undefined
  /** Take the diagonal of `a` to be ones, without reading it (default false). */
  readonly unitDiagonal?: boolean | undefined
}

export const solveTriangular = (x: Tensor, y: Tensor, options: SolveTriangularOptions = {}): Tensor => {
  const s = system("solveTriangular", x, y)
  if ("op" in s) return s
  const out = trisolve(s.a, s.b, options.lower === true, options.transpose === true, options.unitDiagonal === true)
  return unvector(out, s.vector)
}

/** The packed LU factors, the permutation and the sign row of `a`. */
const luParts = (a: Tensor): { lu: Tensor; perm: Tensor; sign: Tensor } => {
  const n = a.shape[a.ndim - 1]!
  const out = bind("lu", [a], {})
  return { lu: rows(out, 0, n), perm: row(out, n), sign: row(out, n + 1) }
}

export const solve = (x: Tensor, y: Tensor): Tensor => {
  const s = system("solve", x, y)
  if ("op" in s) return s
  // P a = L U: x = U⁻¹ L⁻¹ P b
  const { lu, perm } = luParts(s.a)
  // P b: the rows of b gathered by the permutation (no n × n permutation matrix)
  const r = s.b.ndim - 2
  const pb = bind("gather", [s.b, O.cast(O.stopGradient(perm), "int32")], { axis: r, batchDims: r })
  const out = trisolve(lu, trisolve(lu, pb, true, false, true), false)
  return unvector(out, s.vector)
}

export const inv = (x: Tensor): Tensor => {
  const a = squareMatrix("inv", x)
  if (a.op === "error") return a
  return solve(a, O.broadcastTo(eye(a.shape[a.ndim - 1]!, a.dtype), a.shape))
}

export const slogdet = (x: Tensor): readonly [Tensor, Tensor] => {
  const a = squareMatrix("slogdet", x)
  if (a.op === "error") return [a, a]
  const n = a.shape[a.ndim - 1]!
  if (n === 0) {
    const shape = a.shape.slice(0, -2)
    return [O.broadcastTo(O.scalar(1, a.dtype), shape), O.broadcastTo(O.scalar(0, a.dtype), shape)]
  }
  const { lu, sign } = luParts(a)
  const logAbsDet = bind("sum", [O.log(O.abs(diagonal(lu)))], { axes: [a.ndim - 2] })
  const s = S.reshape(S.slice(sign, sign.shape.map(() => 0), sign.shape.map((d, i) => (i === sign.ndim - 1 ? 1 : d))), a.shape.slice(0, -2))
  return [O.stopGradient(s), logAbsDet]
}

/** 0, 1, …, n − 1 in `dtype`. */
const iota = (n: number, dtype: DType): Tensor => O.cast(rangeTensor(n), dtype)

/**
 * adj(a)ᵀ, the gradient of det(a), finite for every a of rank n − 1 or more
 * (and zero below). With P a = L U (L unit lower, U upper with pivots d),
 * adj(a) = det(P) · adj(U) L⁻¹ P. For U: take the pivot k of least
 * magnitude (the zero one of a singular a) and let Û be U with d_k set to
 * 1, so U = Û + (d_k − 1) e_k e_kᵀ, det Û = c = Π_{j≠k} d_j and (by the
 * matrix determinant lemma and Sherman–Morrison, multiplied out)
 * adj(U) = c · (d_k Û⁻¹ − (d_k − 1) Û⁻¹e_k e_kᵀÛ⁻¹): a polynomial identity,
 * true at d_k = 0 too. Only Û is inverted, which is regular whenever the
 * other pivots are (rank n − 1); with two zero pivots the adjugate is zero.
 * Each step is differentiable (k is piecewise constant), so det
 * differentiates again where the LU does (a regular a: the LU's derivative
 * inverts U).
 */
const adjugateT = (a: Tensor): Tensor => {
  const n = a.shape[a.ndim - 1]!
  const dt = a.dtype
  const { lu, perm } = luParts(a)
  const d = diagonal(lu) // [..., n]
  const k = O.stopGradient(O.cast(argmin(O.abs(d), { axis: -1, keepdims: true }), dt)) // [..., 1]
  const hot = O.equal(iota(n, dt), k) // [..., n]
  const e = O.cast(hot, dt)
  const dk = asCol(sum(O.mul(e, d), { axis: -1, keepdims: true })) // [..., 1, 1]
  const dHat = O.where(hot, 1, d)
  const c = asCol(prod(dHat, { axis: -1, keepdims: true })) // [..., 1, 1]
  const uHat = O.add(triu(lu, 1), O.mul(eye(n, dt), asRow(dHat)))
  const uInv = trisolve(uHat, O.broadcastTo(eye(n, dt), a.shape), false)
  const outer = mm(mm(uInv, asCol(e)), mm(asRow(e), uInv)) // Û⁻¹e_k e_kᵀÛ⁻¹
  const adjU = O.where(O.equal(c, 0), 0, O.mul(O.sub(O.mul(uInv, dk), O.mul(outer, O.sub(dk, 1))), c))
  const i = asCol(iota(n, dt)), j = asRow(iota(n, dt))
  // parity of the permutation: (−1)^inversions = Π_{i<j} sign(perm_j − perm_i)
  const pr = O.stopGradient(perm)
  const pairs = O.where(O.less(i, j), O.sign(O.sub(asRow(pr), asCol(pr))), 1)
  const parity = asCol(asCol(prod(pairs, { axis: [-2, -1] })))
  // adj(a)ᵀ = det(P) Pᵀ L⁻ᵀ adj(U)ᵀ
  const x = trisolve(lu, mT(adjU), true, true, true)
  return O.mul(mm(mT(permutationMatrix(perm, dt)), x), parity)
}

export const det = (x: Tensor): Tensor => {
  const [sign, logAbsDet] = slogdet(x)
  if (sign.op === "error") return sign
  const value = O.mul(sign, O.exp(logAbsDet))
  const a = squareMatrix("det", x)
  if (a.shape[a.ndim - 1] === 0) return value
  // differentiated by the adjugate (the LU's log |pivots| have no finite derivative at a zero pivot)
  return customTensor([a], value, {
    name: "det",
    jvp: ([p], [t]) => sum(O.mul(adjugateT(p!), t!), { axis: [-2, -1] }),
    vjp: ([p], _out, ct) => [O.mul(adjugateT(p!), asCol(asCol(ct)))]
  })
}

export const qr = (x: Tensor): readonly [Tensor, Tensor] => {
  const a = anyMatrix("qr", x)
  if (a.op === "error") return [a, a]
  const m = a.shape[a.ndim - 2]!, n = a.shape[a.ndim - 1]!
  const out = bind("qr", [a], {})
  return [rows(out, 0, m), mT(rows(out, m, m + n))]
}

export const eigh = (x: Tensor): readonly [Tensor, Tensor] => {
  const a = squareMatrix("eigh", x)
  if (a.op === "error") return [a, a]
  const n = a.shape[a.ndim - 1]!
  const out = bind("eigh", [symmetrize(a)], {})
  return [row(out, 0), rows(out, 1, n + 1)]
}

export const svd = (x: Tensor): readonly [Tensor, Tensor, Tensor] => {
  const a = anyMatrix("svd", x)
  if (a.op === "error") return [a, a, a]
  const m = a.shape[a.ndim - 2]!, n = a.shape[a.ndim - 1]!
  const out = bind("svd", [a], {})
  return [rows(out, 0, m), row(out, m), mT(rows(out, m + 1, m + 1 + n))]
}
