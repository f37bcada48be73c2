/**
 * vmap: inAxes (numbers, null, arrays, negative), outAxes (numbers,
 * negative, per output entry, null), pytree and number arguments, nested
 * vmap, composition with grad both ways (per-example gradients, grad of a
 * vmap), jacobians and hessians batched; a property that vmap agrees with
 * a loop over the batch for ops covering the batching rules; and its
 * shape errors.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, vmap } from "@diffect/transforms"
import { arbitraries, checkGrads } from "@diffect/transforms/testing"
import { expectClose, expectFailure, f64, flat, run, type T } from "./helpers.js"

const X = f64([[1, 2, 3], [4, 5, 6]]) // [2, 3]
const rowSumSq = (r: T) => Tensor.sum(Tensor.mul(r, r))

/** The i-th slice of `t` along `axis`. */
const take = (t: T, i: number, axis = 0): T => {
  const starts = t.shape.map((_, k) => (k === axis ? i : 0))
  const stops = t.shape.map((d, k) => (k === axis ? i + 1 : d))
  return Tensor.reshape(Tensor.slice(t, starts, stops), t.shape.filter((_, k) => k !== axis))
}

/** Stacks results along a new leading axis. */
const stack = (ts: ReadonlyArray<T>): T => Tensor.concat(ts.map((t) => Tensor.reshape(t, [1, ...t.shape])), 0)

describe("vmap: axes", () => {
  it("maps over axis 0 by default, over another axis, and over a negative axis", async () => {
    await expectClose(await run(vmap(rowSumSq)(X)), [14, 77], undefined, "", [2])
    await expectClose(await run(vmap(rowSumSq, { inAxes: 1 })(X)), [17, 29, 45], undefined, "", [3])
    await expectClose(await run(vmap(rowSumSq, { inAxes: -1 })(X)), [17, 29, 45], undefined, "", [3])
    await expectClose(await run(vmap(rowSumSq, { inAxes: [-2] })(X)), [14, 77])
  })

  it("inAxes arrays with null: unbatched arguments (tensors and numbers) are shared", async () => {
    const f = (r: T, w: T, k: number) => Tensor.mul(Tensor.sum(Tensor.mul(r, w)), k)
    const w = f64([1, 0, -1])
    await expectClose(await run(vmap(f, { inAxes: [0, null, null] })(X, w, 2)), [-4, -4])
    await expectClose(await run(vmap(f, { inAxes: [1, 0, null] })(X, f64([1, 2, 3]), 1)), [5, 14, 27])
  })

  it("outAxes: a number, a negative number, one per output entry, null for an unbatched output", async () => {
    const f = (r: T) => Tensor.mul(r, 2) // [3] per row
    await expectClose(await run(vmap(f)(X)), [[2, 4, 6], [8, 10, 12]], undefined, "", [2, 3])
    await expectClose(await run(vmap(f, { outAxes: 1 })(X)), [[2, 8], [4, 10], [6, 12]], undefined, "", [3, 2])
    await expectClose(await run(vmap(f, { outAxes: -1 })(X)), [[2, 8], [4, 10], [6, 12]], undefined, "", [3, 2])
    const g = (r: T, c: T) => [Tensor.mul(r, 2), Tensor.sum(r), Tensor.mul(c, 3)] as const
    const [a, b, c] = await run(vmap(g, { inAxes: [0, null], outAxes: [1, 0, null] })(X, f64([1, 2])))
    await expectClose(a, [[2, 8], [4, 10], [6, 12]], undefined, "a", [3, 2])
    await expectClose(b, [6, 15], undefined, "b", [2])
    await expectClose(c, [3, 6], undefined, "c: unbatched", [2])
    // an output that does not depend on the batch gets the batch axis when asked, and stays unbatched with outAxes null
    await expectClose(await run(vmap((_r: T) => f64([7, 8]))(X)), [[7, 8], [7, 8]], undefined, "", [2, 2])
    await expectClose(await run(vmap((_r: T) => f64([7, 8]), { outAxes: null })(X)), [7, 8], undefined, "", [2])
  })

  it("pytree arguments and outputs (records and arrays)", async () => {
    const f = (p: { a: T; b: ReadonlyArray<T> }) => ({ s: Tensor.add(Tensor.sum(p.a), p.b[0]!), m: [Tensor.mul(p.a, p.b[0]!)] })
    const out = await run(vmap(f)({ a: X, b: [f64([10, 20])] }))
    await expectClose(out.s, [16, 35])
    await expectClose(out.m[0]!, [[10, 20, 30], [80, 100, 120]])
  })

  it("nests: vmap(vmap(f)) over two axes, in either order", async () => {
    const f = (a: T, b: T) => Tensor.mul(a, b)
    const inner = vmap(f, { inAxes: [0, null] })
    const r = await run(vmap(inner, { inAxes: [1, 0] })(X, f64([10, 20, 30])))
    await expectClose(r, [[10, 40], [40, 100], [90, 180]], undefined, "", [3, 2])
    const outer = await run(vmap(vmap((a: T) => Tensor.exp(a)))(X))
    await expectClose(outer, [1, 2, 3, 4, 5, 6].map(Math.exp), undefined, "", [2, 3])
    // three levels over a [2, 2, 3] tensor, the innermost reducing
    const T3 = Tensor.reshape(f64([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), [2, 2, 3])
    await expectClose(await run(vmap(vmap(vmap((s: T) => Tensor.mul(s, s))))(T3)), [1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, 144], undefined, "", [2, 2, 3])
    await expectClose(await run(vmap(vmap(rowSumSq))(T3)), [14, 77, 194, 365], undefined, "", [2, 2])
  })

  it("batched matmul: a batch of vectors or matrices times shared and batched operands", async () => {
    const A = f64([[1, 2], [3, 4], [5, 6]]) // [3, 2]
    const V = f64([[1, 0], [0, 1], [1, 1], [2, -1]]) // 4 vectors of [2]
    const got = await run(vmap((v: T) => Tensor.matmul(A, v))(V))
    const want = await Promise.all([0, 1, 2, 3].map((i) => flat(Tensor.matmul(A, take(V, i)))))
    await expectClose(got, want, undefined, "", [4, 3])
    const Ms = Tensor.reshape(f64([1, 2, 3, 4, 5, 6, 7, 8]), [2, 2, 2])
    const B3 = Tensor.reshape(f64([1, 0, 2, 1, 0, 1, 1, 3, -1, 0, 2, 2]), [2, 2, 3])
    const both = await run(vmap((m: T, b: T) => Tensor.matmul(m, b))(Ms, B3))
    const loop = await Promise.all([0, 1].map((i) => flat(Tensor.matmul(take(Ms, i), take(B3, i)))))
    await expectClose(both, loop, undefined, "", [2, 2, 3])
    // a batch of matrices times a stack of matrices (batch axes inside the mapped function)
    const stackB = Tensor.reshape(f64([1, 0, 0, 1, 2, 0, 0, 2]), [2, 2, 2])
    const r = await run(vmap((m: T) => Tensor.matmul(m, stackB))(Ms))
    const rl = await Promise.all([0, 1].map((i) => flat(Tensor.matmul(take(Ms, i), stackB))))
    await expectClose(r, rl, undefined, "", [2, 2, 2, 2])
  })
})

describe("vmap composed with differentiation", () => {
  // per-example squared error of a linear model
  const loss = (w: T, xi: T, yi: T) => Tensor.square(Tensor.sub(Tensor.sum(Tensor.mul(w, xi)), yi))
  const w = f64([0.5, -1, 2])
  const Y = f64([1, -2])

  it("vmap(grad(loss)) gives per-example gradients, equal to a loop of grad", async () => {
    const per = await run(vmap(grad(loss), { inAxes: [null, 0, 0] })(w, X, Y))
    expect([...per.shape]).toEqual([2, 3])
    for (let i = 0; i < 2; i++) {
      const gi = await run(grad(loss)(w, take(X, i), take(Y, i)))
      await expectClose(take(per, i), await flat(gi), undefined, `example ${i}`)
    }
  })

  it("grad of a vmap: the gradient of the summed per-example losses is the sum of per-example gradients", async () => {
    const total = (wv: T) => Effect.map(vmap(loss, { inAxes: [null, 0, 0] })(wv, X, Y), Tensor.sum)
    const g = await run(grad(total)(w))
    const per = await run(vmap(grad(loss), { inAxes: [null, 0, 0] })(w, X, Y))
    await expectClose(g, await flat(Tensor.sum(per, { axis: 0 })))
    // and the hessian of the total: 2 Σ xᵢ xᵢᵀ
    const H = await run(hessian(total)(w))
    const want = [0, 1, 2].map((i) => [0, 1, 2].map((j) => 2 * ([1, 2, 3][i]! * [1, 2, 3][j]! + [4, 5, 6][i]! * [4, 5, 6][j]!)))
    await expectClose(H, want, { rtol: 1e-12, atol: 1e-12 })
  })

  it("vmap of jacrev, jacfwd and hessian: batched jacobians", async () => {
    const f = (r: T) => Tensor.mul(Tensor.sin(r), Tensor.sum(r))
    for (const jac of [jacrev, jacfwd]) {
      const J = await run(vmap(jac(f))(X))
      expect([...J.shape]).toEqual([2, 3, 3])
      for (let i = 0; i < 2; i++) await expectClose(take(J, i), await flat(await run(jac(f)(take(X, i)))), undefined, `row ${i}`)
    }
    const H = await run(vmap(hessian((r: T) => Tensor.sum(Tensor.mul(Tensor.exp(r), r))))(X))
    expect([...H.shape]).toEqual([2, 3, 3])
    const diag = (v: number[]) => v.map((vi, i) => v.map((_, j) => (i === j ? vi : 0)))
    await expectClose(H, [diag([1, 2, 3].map((v) => Math.exp(v) * (v + 2))), diag([4, 5, 6].map((v) => Math.exp(v) * (v + 2)))], { rtol: 1e-12, atol: 1e-12 })
  })

  it("grad of a nested vmap and vmap of a grad of a vmap", async () => {
    const pair = (a: T, b: T) => Tensor.mul(Tensor.sin(a), b)
    const outer = (m: T) => Effect.map(vmap(vmap(pair, { inAxes: [0, null] }), { inAxes: [0, null] })(m, f64(2)), Tensor.sum)
    await expectClose(await run(grad(outer)(X)), [1, 2, 3, 4, 5, 6].map((v) => 2 * Math.cos(v)))
    const inner = (r: T) => Effect.map(vmap((s: T) => Tensor.mul(s, Tensor.mul(s, s)))(r), Tensor.sum)
    await expectClose(await run(vmap(grad(inner))(X)), [1, 2, 3, 4, 5, 6].map((v) => 3 * v * v), undefined, "", [2, 3])
  })
})

describe("vmap inside checked functions", () => {
  it("checkGrads order 2 of functions built with vmap (batching rules under jvp and vjp, twice)", async () => {
    const W = f64([[1, -1], [0.5, 2], [3, 0]])
    const rowF = (r: T, m: T) => Tensor.sum(Tensor.mul(Tensor.softmax(Tensor.matmul(r, m)), Tensor.tanh(Tensor.slice(r, [0], [2]))))
    await run(checkGrads((xs: T, m: T) => vmap(rowF, { inAxes: [0, null] })(xs, m), [X, W], { order: 2 }))
    await run(checkGrads((xs: T) => vmap(rowF, { inAxes: [1, null] })(xs, W), [Tensor.transpose(X)], { order: 2 }))
    await run(checkGrads((xs: T) => Effect.map(vmap(grad((r: T) => rowF(r, W)))(xs), (g) => Tensor.mul(g, g)), [X], { order: 2 }))
    await run(checkGrads((xs: T) => vmap(vmap((v: T) => Tensor.mul(Tensor.exp(v), Tensor.sin(v))))(xs), [X], { order: 2 }))
  })
})

describe("vmap agrees with a loop over the batch (property over the batching rules)", () => {
  interface VCase {
    readonly name: string
    readonly shape: ReadonlyArray<number>
    readonly f: (x: T) => T
    readonly min?: number
  }
  const W = f64([[1, -1], [0.5, 2], [3, 0]]) // [3, 2]
  const vcases: ReadonlyArray<VCase> = [
    { name: "unary chain", shape: [3], f: (x) => Tensor.add(Tensor.tanh(Tensor.exp(Tensor.sin(x))), Tensor.abs(Tensor.neg(x))) },
    { name: "log, sqrt, log1p, expm1, sign, cos", shape: [2, 2], f: (x) => Tensor.add(Tensor.mul(Tensor.log(x), Tensor.sqrt(x)), Tensor.add(Tensor.sub(Tensor.log1p(x), Tensor.expm1(Tensor.cos(x))), Tensor.sign(x))), min: 0.1 },
    { name: "binary with an unbatched broadcast operand", shape: [2, 3], f: (x) => Tensor.pow(Tensor.div(Tensor.add(x, f64([1, 2, 3])), 2), 2) },
    { name: "maximum, minimum, where", shape: [3], f: (x) => Tensor.where(Tensor.greater(x, 0), Tensor.maximum(x, f64([0.5, 0.5, 0.5])), Tensor.minimum(x, -1)) },
    { name: "sum, max, mean with axes and keepdims", shape: [2, 3], f: (x) => Tensor.add(Tensor.sum(x, { axis: 1, keepdims: true }), Tensor.mul(Tensor.max(x, { axis: 0 }), Tensor.mean(x))) },
    { name: "reshape, transpose, slice, concat", shape: [2, 3], f: (x) => Tensor.concat([Tensor.slice(Tensor.transpose(x), [1, 0], [3, 2]), Tensor.reshape(x, [3, 2])], 0) },
    { name: "broadcastTo", shape: [3], f: (x) => Tensor.broadcastTo(x, [2, 3]) },
    { name: "matmul with a shared matrix, both sides", shape: [2, 3], f: (x) => Tensor.add(Tensor.matmul(x, W), Tensor.transpose(Tensor.matmul(Tensor.transpose(W), Tensor.transpose(x)))) },
    { name: "matmul of batched operands", shape: [3, 3], f: (x) => Tensor.matmul(x, Tensor.transpose(x)) },
    { name: "cast and stopGradient", shape: [3], f: (x) => Tensor.mul(Tensor.cast(Tensor.cast(x, "int32"), "float64"), Tensor.stopGradient(x)) },
    { name: "softmax, logsumexp", shape: [2, 3], f: (x) => Tensor.add(Tensor.softmax(x), Tensor.logsumexp(x, { axis: -1, keepdims: true })) }
  ]
  for (const c of vcases) {
    it(c.name, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: c.shape.length }), fc.nat(), async (n, axis, seed) => {
          const shape = [...c.shape]
          shape.splice(axis, 0, n)
          const [xs] = fc.sample(arbitraries.tensor({ shape, min: c.min ?? -2, max: 2 }), { numRuns: 1, seed })
          const got = await run(vmap(c.f, { inAxes: axis })(xs!))
          const want = stack(Array.from({ length: n }, (_, i) => c.f(take(xs!, i, axis))))
          expect([...got.shape]).toEqual([...want.shape])
          await expectClose(got, await flat(want), { rtol: 1e-12, atol: 1e-12 })
        }),
        { numRuns: 8 }
      )
    })
  }
})

describe("vmap errors", () => {
  it("inconsistent batch sizes, nothing batched, axes out of range, a batched output with outAxes null", async () => {
    const f = (a: T, b: T) => Tensor.add(Tensor.sum(a), Tensor.sum(b))
    await expectFailure(vmap(f)(X, f64([1, 2, 3])), "ShapeError", "inconsistent batch sizes", "2", "3")
    await expectFailure(vmap(f, { inAxes: null })(X, X), "ShapeError", "no argument is batched")
    await expectFailure(vmap(rowSumSq, { inAxes: 2 })(X), "ShapeError", "inAxes 2 is out of range", "[2, 3]")
    await expectFailure(vmap(rowSumSq, { inAxes: -3 })(X), "ShapeError", "out of range")
    await expectFailure(vmap(f, { inAxes: [0] })(X, X), "ShapeError", "inAxes has 1 entries for 2 arguments")
    await expectFailure(vmap(rowSumSq, { outAxes: null })(X), "ShapeError", "depends on the batch")
    await expectFailure(vmap((r: T) => Tensor.mul(r, 2), { outAxes: 2 })(X), "ShapeError", "outAxes 2 is out of range")
  })
})
