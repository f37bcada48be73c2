/**
 * Linear-algebra conformance cases (float32): every Linalg function, its
 * gradients, batched, and a size above the WebGL backend's host threshold,
 * compared with the CPU backend on every backend. Factors with a sign
 * freedom (eigh, svd) are compared through sign-invariant quantities.
 */
import { Linalg, Tensor } from "@diffect/core"
import { grad, vmap } from "@diffect/transforms"
import type { Case } from "./cases.js"
import { uniform } from "./data.js"

type T = Tensor.Tensor

const tol = { rtol: 1e-3, atol: 1e-4 }
const mT = (x: T) => Tensor.transpose(x, [...x.shape.slice(0, -2).map((_, i) => i), x.ndim - 1, x.ndim - 2])
const eye = (n: number) => Tensor.eye(n)
/** x xᵀ + n I (positive-definite). */
const spd = (x: T) => Tensor.add(Tensor.matmul(x, mT(x)), Tensor.mul(eye(x.shape[x.ndim - 1]!), x.shape[x.ndim - 1]!))
const wellConditioned = (x: T) => Tensor.add(x, Tensor.mul(eye(x.shape[x.ndim - 1]!), 3))

export const linalgCases: ReadonlyArray<Case> = [
  {
    name: "cholesky of a batch of positive-definite matrices, and its gradient",
    prims: ["cholesky", "triangularSolve"],
    run: () =>
      grad((x: T) => Tensor.sum(Tensor.mul(Linalg.cholesky(spd(x)), uniform([2, 4, 4], 2))), { returnValue: true })(uniform([2, 4, 4], 1)),
    tol
  },
  {
    name: "solveTriangular: lower / upper, transposed, unit diagonal, vector right-hand side",
    prims: ["triangularSolve"],
    run: () => {
      const a = wellConditioned(uniform([3, 3], 3))
      const b = uniform([3, 2], 4)
      return [
        Linalg.solveTriangular(a, b, { lower: true }),
        Linalg.solveTriangular(a, b, { lower: false, transpose: true }),
        Linalg.solveTriangular(a, b, { lower: true, unitDiagonal: true }),
        Linalg.solveTriangular(a, uniform([3], 5))
      ]
    },
    tol
  },
  {
    name: "solve, inv, det, slogdet (LU with pivoting) and their gradients",
    prims: ["lu", "triangularSolve", "matmul"],
    run: () => {
      const a = uniform([4, 4], 6)
      const b = uniform([4, 2], 7)
      const [sign, logAbsDet] = Linalg.slogdet(a)
      const g = grad((x: T, y: T) => Tensor.sum(Linalg.solve(x, y)), { argnums: [0, 1] })(a, b)
      return [Linalg.solve(a, b), Linalg.inv(a), Linalg.det(a), sign, logAbsDet, g, grad((x: T) => Linalg.slogdet(x)[1])(a)]
    },
    tol
  },
  {
    name: "solve of a 40 × 40 system (above the host threshold) and vmap of det",
    prims: ["lu", "triangularSolve"],
    run: () => [Linalg.solve(wellConditioned(uniform([40, 40], 8)), uniform([40, 30], 9)), vmap((x: T) => Linalg.det(x))(uniform([5, 3, 3], 10))],
    tol: { rtol: 2e-3, atol: 2e-4 }
  },
  {
    name: "qr of tall, square and wide matrices, and a gradient through q and r",
    prims: ["qr", "triangularSolve"],
    run: () => [
      ...Linalg.qr(uniform([5, 3], 11)),
      ...Linalg.qr(uniform([2, 3, 3], 12)),
      ...Linalg.qr(uniform([2, 4], 13)),
      grad((x: T) => {
        const [q, r] = Linalg.qr(x)
        return Tensor.add(Tensor.sum(Tensor.mul(q, q)), Tensor.sum(Tensor.square(Tensor.mul(r, uniform([3, 3], 15)))))
      })(uniform([4, 3], 14))
    ],
    tol
  },
  {
    name: "eigh: eigenvalues, v ∘ v, and the gradient of a sign-invariant function",
    prims: ["eigh"],
    run: () => {
      const x = uniform([2, 4, 4], 16)
      const a = Tensor.add(x, mT(x))
      const [w, v] = Linalg.eigh(a)
      const g = grad((y: T) => {
        const [w2, v2] = Linalg.eigh(y)
        return Tensor.add(Tensor.sum(Tensor.mul(w2, uniform([2, 4], 17))), Tensor.sum(Tensor.mul(Tensor.mul(v2, v2), uniform([2, 4, 4], 18))))
      })(a)
      return [w, Tensor.mul(v, v), g]
    },
    tol: { rtol: 2e-3, atol: 5e-4 }
  },
  {
    name: "svd: singular values, u ∘ u, vt ∘ vt, and the gradient of the nuclear norm",
    prims: ["svd"],
    run: () => {
      const a = uniform([5, 3], 19)
      const [u, s, vt] = Linalg.svd(a)
      const [, s2] = Linalg.svd(uniform([3, 6], 20))
      return [s, Tensor.mul(u, u), Tensor.mul(vt, vt), s2, grad((x: T) => Tensor.sum(Linalg.svd(x)[1]))(a)]
    },
    tol: { rtol: 2e-3, atol: 5e-4 }
  }
]
