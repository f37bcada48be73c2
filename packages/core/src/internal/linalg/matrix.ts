/**
 * Matrix helpers on the last two axes, built from differentiable ops (so
 * the linear-algebra rules that use them can be differentiated again).
 */
import { allocHost, type DType } from "../../DType.js"
import { bind } from "../bind.js"
import * as O from "../ops.js"
import * as S from "../structural.js"
import { constTensor, type Tensor } from "../tensor.js"

/** Swaps the last two axes. */
export const mT = (x: Tensor): Tensor => {
  const r = x.ndim
  return bind("transpose", [x], { perm: [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2] })
}

/** Batched matrix product (equal leading axes or broadcasting ones). */
export const mm = (a: Tensor, b: Tensor): Tensor => S.matmul(a, b)

/** The identity of size n. */
export const eye = (n: number, dtype: DType): Tensor => {
  const host = allocHost(dtype, n * n)
  for (let i = 0; i < n; i++) host[i * n + i] = 1
  return constTensor(host, [n, n], dtype)
}

/** A bool [rows, cols] mask of the entries with `col - row` in [lo, hi]. */
const band = (rows: number, cols: number, lo: number, hi: number): Tensor => {
  const host = allocHost("bool", rows * cols)
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) host[i * cols + j] = j - i >= lo && j - i <= hi ? 1 : 0
  return constTensor(host, [rows, cols], "bool")
}

const rowsCols = (x: Tensor): [number, number] => [x.shape[x.ndim - 2]!, x.shape[x.ndim - 1]!]

/** The lower triangle (entries with col − row ≤ k), zeros elsewhere. */
export const tril = (x: Tensor, k = 0): Tensor => {
  const [m, n] = rowsCols(x)
  return O.where(band(m, n, -Infinity, k), x, 0)
}

/** The upper triangle (entries with col − row ≥ k), zeros elsewhere. */
export const triu = (x: Tensor, k = 0): Tensor => {
  const [m, n] = rowsCols(x)
  return O.where(band(m, n, k, Infinity), x, 0)
}

/** The diagonal of each square matrix, `[..., n]`. */
export const diagonal = (x: Tensor): Tensor => {
  const [m] = rowsCols(x)
  return bind("sum", [O.where(band(m, m, 0, 0), x, 0)], { axes: [x.ndim - 1] })
}

/** Rows [start, stop) of each matrix. */
export const rows = (x: Tensor, start: number, stop: number): Tensor =>
  S.slice(
    x,
    x.shape.map((_, i) => (i === x.ndim - 2 ? start : 0)),
    x.shape.map((d, i) => (i === x.ndim - 2 ? stop : d))
  )

/** Columns [start, stop) of each matrix. */
export const cols = (x: Tensor, start: number, stop: number): Tensor =>
  S.slice(
    x,
    x.shape.map((_, i) => (i === x.ndim - 1 ? start : 0)),
    x.shape.map((d, i) => (i === x.ndim - 1 ? stop : d))
  )

/** Row `i` of each matrix, `[..., n]`. */
export const row = (x: Tensor, i: number): Tensor => S.reshape(rows(x, i, i + 1), [...x.shape.slice(0, -2), x.shape[x.ndim - 1]!])

/** Stacks matrices with equal columns on top of each other. */
export const stackRows = (xs: ReadonlyArray<Tensor>): Tensor => S.concat(xs, xs[0]!.ndim - 2)

/** A vector `[..., n]` as a one-row matrix `[..., 1, n]`. */
export const asRow = (v: Tensor): Tensor => S.reshape(v, [...v.shape.slice(0, -1), 1, v.shape[v.ndim - 1]!])

/** A vector `[..., n]` as a one-column matrix `[..., n, 1]`. */
export const asCol = (v: Tensor): Tensor => S.reshape(v, [...v.shape, 1])

/** `P` with `P[i, j] = 1` where `perm[i] == j` (so `(P a)[i] = a[perm[i]]`), from a float permutation vector. */
export const permutationMatrix = (perm: Tensor, dtype: DType): Tensor => {
  const n = perm.shape[perm.ndim - 1]!
  const host = allocHost(dtype, n)
  for (let j = 0; j < n; j++) host[j] = j
  const js = constTensor(host, [1, n], dtype)
  return O.cast(O.equal(asCol(O.stopGradient(perm)), js), dtype)
}
