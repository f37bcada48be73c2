/**
 * Linear-algebra conformance cases (float32): every Linalg function, its
 * gradients, batched, and a size above the WebGL backend's host threshold,
 * compared with the CPU backend on every backend. Factors with a sign
 * freedom (eigh, svd) are compared through sign-invariant quantities.
 */
import { Internal, Linalg, Tensor } from "@diffect/core"
import { grad, vmap } from "@diffect/transforms"
import type { Case } from "./cases.js"
import { uniform } from "./data.js"

type T = Tensor.Tensor

const tol = { rtol: 1e-3, atol: 1e-4 }
/**
 * Well-conditioned float32 factorizations and solves at n ≤ 70: the WebGL
 * shaders (float32 throughout) were within 1.3e-6 · (0.1 + |expected|) of
 * the CPU's float64 results on SwiftShader; 15× that.
 */
const tight = { rtol: 2e-5, atol: 2e-6 }
const mT = (x: T) => Tensor.transpose(x, [...x.shape.slice(0, -2).map((_, i) => i), x.ndim - 1, x.ndim - 2])
const eye = (n: number) => Tensor.eye(n)
/** x xᵀ + n I (positive-definite). */
const spd = (x: T) => Tensor.add(Tensor.matmul(x, mT(x)), Tensor.mul(eye(x.shape[x.ndim - 1]!), x.shape[x.ndim - 1]!))
const wellConditioned = (x: T) => Tensor.add(x, Tensor.mul(eye(x.shape[x.ndim - 1]!), 3))
/** Entries of order 1/√n off the diagonal and 2 on it: triangular solves and LU stay well-conditioned at any n. */
const scaled = (shape: ReadonlyArray<number>, seed: number) => {
  const n = shape[shape.length - 1]!
  return Tensor.add(Tensor.div(uniform(shape, seed), Math.sqrt(n)), Tensor.mul(eye(n), 2))
}
/** x xᵀ + δ I for x of n × n/4: n − n/4 eigenvalues δ, the rest about n²/12 (condition ≈ n² / (12 δ)). */
const nearlySingular = (batch: ReadonlyArray<number>, n: number, seed: number, delta: number) => {
  const x = uniform([...batch, n, n / 4], seed)
  return Tensor.add(Tensor.matmul(x, mT(x)), Tensor.mul(eye(n), delta))
}
const bind = Internal.bind

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
    name: "cholesky at n = 1 (a batch of 3), of a batch of 2 at n = 64, and at n = 70 (rows not a multiple of 4)",
    prims: ["cholesky"],
    run: () => [Linalg.cholesky(uniform([3, 1, 1], 21, 0.5, 4)), Linalg.cholesky(spd(uniform([2, 64, 64], 22))), Linalg.cholesky(spd(uniform([70, 70], 23)))],
    tol: tight
  },
  {
    // condition ≈ 3·10³; the WebGL shaders were within 1.9e-5 · (0.1 + |expected|) (its float32 matmul building the input, 1.2e-5)
    name: "cholesky of an ill-conditioned (but positive-definite) batch, n = 32",
    prims: ["cholesky"],
    run: () => Linalg.cholesky(nearlySingular([2], 32, 24, 0.03)),
    tol: { rtol: 2e-4, atol: 2e-5 }
  },
  {
    name: "solveTriangular at n = 64 (batch of 2): lower / upper, transposed, unit diagonal, 64 and 5 right-hand sides; and n = 1",
    prims: ["triangularSolve"],
    run: () => {
      const a = scaled([2, 64, 64], 25)
      const b = uniform([2, 64, 64], 26)
      const b5 = uniform([2, 64, 5], 27)
      return [
        Linalg.solveTriangular(a, b, { lower: true }),
        Linalg.solveTriangular(a, b, { lower: false }),
        Linalg.solveTriangular(a, b5, { lower: true, transpose: true }),
        Linalg.solveTriangular(a, b5, { lower: false, transpose: true, unitDiagonal: true }),
        Linalg.solveTriangular(uniform([3, 1, 1], 28, 0.5, 2), uniform([3, 1, 4], 29), { lower: true })
      ]
    },
    tol: tight
  },
  {
    name: "lu's packed factors, permutation and sign at n = 64 (batch of 2), n = 5 (batch of 3) and n = 1",
    prims: ["lu"],
    run: () => [bind("lu", [uniform([2, 64, 64], 30)], {}), bind("lu", [uniform([3, 5, 5], 31)], {}), bind("lu", [uniform([2, 1, 1], 32)], {})],
    // a uniform 64 × 64 matrix is not well-conditioned: the WebGL shaders' factors were within 2.3e-5 · (0.1 + |expected|)
    tol: { rtol: 3e-4, atol: 3e-5 }
  },
  {
    name: "solve and inv at n = 64 (batch of 2), solve at n = 70, det of singular matrices (a zero pivot) and of 1 × 1 ones",
    prims: ["lu", "triangularSolve", "gather"],
    run: () => {
      const a = scaled([2, 64, 64], 33)
      return [
        Linalg.solve(a, uniform([2, 64, 8], 34)),
        Linalg.inv(a),
        Linalg.solve(scaled([70, 70], 35), uniform([70, 3], 36)),
        // a zero first column (the pivot search finds 0: nothing to eliminate), duplicate rows (an exactly zero second pivot)
        Linalg.slogdet(Tensor.make([[[0, 1, 2], [0, 3, 4], [0, 5, 6]], [[1, 2, 3], [2, 4, 6], [1, 0, 1]]])),
        Linalg.det(uniform([3, 1, 1], 37))
      ]
    },
    tol: tight
  },
  {
    // graded rows over 10⁻²..10² (condition ≈ 10⁴): the WebGL shaders' solution was within 6.9e-5 · (0.1 + |expected|)
    name: "solve of an ill-conditioned 32 × 32 system",
    prims: ["lu", "triangularSolve"],
    run: () => {
      const grade = Tensor.reshape(Tensor.pow(10, Tensor.linspace(-2, 2, 32)), [32, 1])
      return Linalg.solve(Tensor.mul(scaled([32, 32], 38), grade), uniform([32, 4], 39))
    },
    tol: { rtol: 5e-4, atol: 5e-5 }
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
