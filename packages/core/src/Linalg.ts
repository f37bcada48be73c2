/**
 * Dense linear algebra on the last two axes of float32 / float64 tensors,
 * batched over any leading axes, differentiable in every mode (jvp, vjp,
 * vmap, and again: the smooth functions to any order).
 *
 * Six primitives carry the work (`cholesky`, `triangularSolve`, `lu` with
 * partial pivoting, Householder `qr`, Jacobi `eigh`, one-sided Jacobi `svd`);
 * `solve`, `inv`, `det` and `slogdet` are composed from `lu` and triangular
 * solves (never through an inverse). Integer inputs are computed in float32;
 * complex64 is a `DTypeError`. A matrix that is not square where a square
 * one is needed, or not positive-definite for `cholesky`, is a typed
 * `LinalgError` (the latter when the value is computed); mismatched
 * right-hand sides are a `ShapeError`. As everywhere, these functions are
 * pure and return a tensor that carries the error until it is read.
 *
 * Derivatives follow the standard formulas (JAX's `lax/linalg.py`; Murray
 * 2016 for cholesky). `cholesky` and `eigh` use the symmetric part
 * ½(a + aᵀ) of their input (as JAX), so their gradients are symmetric.
 * Eigenvectors and singular vectors are defined up to sign (and rotation
 * within repeated eigenvalues): their derivatives exist where the
 * eigenvalues / singular values are distinct, as in JAX.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Linalg, Tensor } from "@diffect/core"
 * const a = Tensor.make([[4, 2], [2, 3]], { dtype: "float64" })
 * const x = Linalg.solve(a, Tensor.make([1, 2], { dtype: "float64" }))
 * const l = Linalg.cholesky(a)
 * Effect.runPromise(Tensor.toArray(x)) // [-0.125, 0.75]
 * ```
 * @module
 */
import { ShapeError } from "./Errors.js"
import * as G from "./internal/guard.js"
import * as L from "./internal/linalg/ops.js"
import { errorTensor, type Tensor } from "./internal/tensor.js"

export type { SolveTriangularOptions } from "./internal/linalg/ops.js"

const options: G.Check = (op, u) =>
  u === undefined || (typeof u === "object" && u !== null && !Array.isArray(u))
    ? undefined
    : new ShapeError({ message: `${op}: options must be an object { lower?, transpose?, unitDiagonal? }, got ${G.describeValue(u)}` })

const checked = <R>(op: string, checks: ReadonlyArray<G.Check | undefined>, args: ReadonlyArray<unknown>, fail: (e: Tensor) => R, f: () => R): R => {
  const e = G.firstFailure(op, checks, args)
  return e ? fail(errorTensor(e)) : f()
}

/**
 * The lower Cholesky factor `l` of a symmetric positive-definite `a`
 * (`a = l lᵀ`), `[..., n, n]`. Only the symmetric part of `a` is used; a
 * matrix that is not positive-definite fails with `LinalgError` when read.
 */
export const cholesky = (a: Tensor): Tensor => checked("cholesky", [G.tensor("a")], [a], (e) => e, () => L.cholesky(a))

/**
 * Solves `a x = b` (or `aᵀ x = b` with `transpose`) for triangular `a`
 * `[..., n, n]`, reading only the triangle `lower` names (default: upper,
 * as SciPy). `b` is `[..., n, k]`, or `[n]` / `a`'s shape without the last
 * axis for vectors; leading axes broadcast.
 */
export const solveTriangular = (a: Tensor, b: Tensor, opts?: L.SolveTriangularOptions): Tensor =>
  checked("solveTriangular", [G.tensor("a"), G.tensor("b"), options], [a, b, opts], (e) => e, () => L.solveTriangular(a, b, opts))

/**
 * Solves `a x = b` for square `a` `[..., n, n]` by LU with partial
 * pivoting. `b` is `[..., n, k]`, or a vector (`[n]`, or `a`'s shape
 * without the last axis); leading axes broadcast. A singular `a` gives
 * infinities or NaN, as LAPACK-based libraries do.
 */
export const solve = (a: Tensor, b: Tensor): Tensor => checked("solve", [G.tensor("a"), G.tensor("b")], [a, b], (e) => e, () => L.solve(a, b))

/** The inverse of square `a` `[..., n, n]` (by `solve` with the identity; prefer `solve` itself). */
export const inv = (a: Tensor): Tensor => checked("inv", [G.tensor("a")], [a], (e) => e, () => L.inv(a))

/**
 * The determinant of square `a` `[..., n, n]`, `[...]` (sign · exp(logAbsDet)
 * from the LU factors). Its gradient is the adjugate's transpose, computed
 * from the LU without dividing by the smallest pivot, so it is finite (and
 * exact) at singular matrices too: at rank n − 1 the cofactors, below zero.
 */
export const det = (a: Tensor): Tensor => checked("det", [G.tensor("a")], [a], (e) => e, () => L.det(a))

/**
 * `[sign, logAbsDet]` of square `a` `[..., n, n]`: `det(a) = sign ·
 * exp(logAbsDet)`, without overflow. A singular `a` gives sign 0 and
 * logAbsDet −∞. The sign has a zero derivative.
 */
export const slogdet = (a: Tensor): readonly [Tensor, Tensor] =>
  checked("slogdet", [G.tensor("a")], [a], (e) => [e, e] as const, () => L.slogdet(a))

/**
 * The reduced QR decomposition `[q, r]` of `a` `[..., m, n]`: `q` `[..., m,
 * k]` with orthonormal columns, `r` `[..., k, n]` upper triangular, k =
 * min(m, n) (Householder; the signs of r's diagonal are LAPACK's).
 */
export const qr = (a: Tensor): readonly [Tensor, Tensor] => checked("qr", [G.tensor("a")], [a], (e) => [e, e] as const, () => L.qr(a))

/**
 * The eigen-decomposition `[w, v]` of the symmetric part of `a` `[..., n,
 * n]`: eigenvalues `w` `[..., n]` in ascending order and eigenvectors as the
 * columns of `v` (`a v = v diag(w)`).
 */
export const eigh = (a: Tensor): readonly [Tensor, Tensor] =>
  checked("eigh", [G.tensor("a")], [a], (e) => [e, e] as const, () => L.eigh(a))

/**
 * The reduced singular value decomposition `[u, s, vt]` of `a` `[..., m,
 * n]`: `a = u diag(s) vt` with `u` `[..., m, k]`, `s` `[..., k]` descending,
 * `vt` `[..., k, n]`, k = min(m, n).
 */
export const svd = (a: Tensor): readonly [Tensor, Tensor, Tensor] =>
  checked("svd", [G.tensor("a")], [a], (e) => [e, e, e] as const, () => L.svd(a))
