/**
 * The testing kit itself: checkGrads accepts right derivatives and rejects
 * wrong ones (first order, and right first but wrong second derivatives),
 * in each mode, with a GradCheckError naming the mode, the order and the
 * error; it handles pytrees, numbers, float32 and bool leaves, and leaves
 * state untouched. The arbitraries respect their constraints.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Pytree, Tensor, Variable } from "@diffect/core"
import { arbitraries, checkGrads, GradCheckError } from "@diffect/transforms/testing"
import { expectFailure, f64, failureOf, flat, run, type T } from "./helpers.js"

const sg = Tensor.stopGradient
const x0 = f64([0.3, -0.7, 1.2])

describe("checkGrads", () => {
  it("accepts correct derivatives of a pytree function to order 3", async () => {
    const f = (p: { w: T; b: ReadonlyArray<T> }, x: T) => [Tensor.tanh(Tensor.add(Tensor.matmul(p.w, x), p.b[0]!)), { s: Tensor.sum(Tensor.exp(x)) }]
    const p = { w: f64([[0.1, 0.2, -0.3], [0.5, -0.4, 0.2]]), b: [f64([0.1, -0.2])] }
    await run(checkGrads(f, [p, x0], { order: 3 }))
  })

  it("casts float32 arguments and numbers to float64", async () => {
    const seen: string[] = []
    const f = (x: T, s: T) => {
      seen.push(x.dtype, s.dtype)
      return Tensor.mul(Tensor.sin(x), s)
    }
    await run(checkGrads(f as (x: T, s: T | number) => T, [Tensor.make([0.1, 0.2]), 1.5], { order: 1 }))
    expect(new Set(seen)).toEqual(new Set(["float64"]))
  })

  it("holds bool and int32 leaves constant", async () => {
    const f = (c: T, k: T, x: T) => Tensor.where(c, Tensor.mul(Tensor.exp(x), k), Tensor.sin(x))
    await run(checkGrads(f, [Tensor.make([true, false, true], { dtype: "bool" }), Tensor.make([1, 2, 3], { dtype: "int32" }), x0], { order: 2 }))
  })

  it("rejects a wrong first derivative in forward mode, with the mode, the order and the error", async () => {
    // x · stopGradient(x): the value is x², the derivative given is x
    const e = await failureOf(checkGrads((x: T) => Tensor.mul(x, sg(x)), [x0], { order: 1, modes: ["fwd"] }))
    expect(e).toBeInstanceOf(GradCheckError)
    const g = e as GradCheckError
    expect(g._tag).toBe("GradCheckError")
    expect(g.mode).toBe("fwd")
    expect(g.order).toBe(1)
    expect(g.path).toEqual([])
    // the worst element is x = 1.2: 1.2 given, 2.4 expected, times the direction
    expect(g.maxError).toBeGreaterThan(0.01)
    expect(g.maxError).toBeGreaterThan(g.tolerance)
    expect(g.message).toMatch(/forward mode \(jvp\) disagrees with central differences .* at order 1 for f: max error/)
  })

  it("rejects a wrong first derivative in reverse mode alone (anchored to central differences)", async () => {
    const g = (await failureOf(checkGrads((x: T) => Tensor.mul(x, sg(x)), [x0], { order: 1, modes: ["rev"] }))) as GradCheckError
    expect(g._tag).toBe("GradCheckError")
    expect(g.mode).toBe("rev")
    expect(g.order).toBe(1)
    expect(g.message).toContain("inner-product identity")
    expect(g.message).toContain("by central differences")
  })

  it("accepts a right first derivative and rejects the wrong second derivative at order 2, in each mode", async () => {
    // x·sg(x) − sg(x²/2) has value x²/2 and first derivative x (right), but second derivative 0 (wrong: 1)
    const f = (x: T) => Tensor.sub(Tensor.mul(x, sg(x)), sg(Tensor.div(Tensor.mul(x, x), 2)))
    await run(checkGrads(f, [x0], { order: 1 }))
    for (const mode of ["fwd", "rev"] as const) {
      const g = (await failureOf(checkGrads(f, [x0], { order: 2, modes: [mode] }))) as GradCheckError
      expect(g._tag).toBe("GradCheckError")
      expect(g.order).toBe(2)
      expect(g.path).toEqual([mode])
      expect(g.message).toContain(mode === "fwd" ? "for jvp(f)" : "for vjp(f)")
    }
  })

  it("is deterministic for a seed, and different seeds draw different directions", async () => {
    const f = (x: T) => Tensor.mul(x, sg(x))
    const errs = await Promise.all([0, 0, 1].map(async (seed) => ((await failureOf(checkGrads(f, [x0], { order: 1, seed }))) as GradCheckError).maxError))
    expect(errs[0]).toBe(errs[1])
    expect(errs[0]).not.toBe(errs[2])
  })

  it("leaves Variables as they were, though f writes them", async () => {
    const program = Effect.gen(function* () {
      const v = yield* Variable.make(f64([1, 2]))
      const count = yield* Variable.make(f64(0))
      const f = (x: T) =>
        Effect.gen(function* () {
          const w = yield* Variable.get(v)
          yield* Variable.update(count, (c) => Tensor.add(c, 1))
          yield* Variable.set(v, Tensor.mul(w, 3))
          return Tensor.sum(Tensor.mul(Tensor.sin(x), w))
        })
      yield* checkGrads(f, [f64([0.5, 0.25])], { order: 2 })
      return [yield* Tensor.toArray(yield* Variable.get(v)), yield* Tensor.toArray(yield* Variable.get(count))]
    })
    expect(await run(program)).toEqual([[1, 2], 0])
  })

  it("passes the function's own failures and tensor errors through, and validates order and dtypes", async () => {
    class Boom extends Error {
      readonly _tag = "Boom"
    }
    await expect(Effect.runPromise(checkGrads((_x: T) => Effect.fail(new Boom()), [x0]))).rejects.toThrow()
    const e = await failureOf(checkGrads((_x: T) => Effect.fail(new Boom()), [x0]))
    expect((e as Boom)._tag).toBe("Boom")
    await expectFailure(checkGrads((x: T) => Tensor.add(x, Tensor.ones([4])), [x0]), "ShapeError", "[3]", "[4]")
    await expectFailure(checkGrads(Tensor.sin, [x0], { order: 0 }), "GradCheckError", "order must be an integer >= 1")
    await expectFailure(checkGrads(Tensor.real, [Tensor.make({ re: [1], im: [2] }, { dtype: "complex64" })]), "DTypeError", "complex64")
  })
})

describe("arbitraries", () => {
  it("shape respects its bounds", () => {
    fc.assert(
      fc.property(arbitraries.shape({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 5 }), (s) => {
        expect(s.length).toBeGreaterThanOrEqual(1)
        expect(s.length).toBeLessThanOrEqual(3)
        for (const d of s) expect(d >= 2 && d <= 5 && Number.isInteger(d)).toBe(true)
      }),
      { numRuns: 50 }
    )
  })

  it("tensor respects shape, dtype, range, minAbs and distinct", async () => {
    await fc.assert(
      fc.asyncProperty(
        arbitraries.tensor({ shape: arbitraries.shape({ maxRank: 2 }), min: -2, max: 3, minAbs: 0.5 }),
        arbitraries.tensor({ shape: [4, 3], dtype: "float32", distinct: 0.1 }),
        arbitraries.tensor({ shape: [5], dtype: "int32", min: -3, max: 3 }),
        arbitraries.tensor({ shape: [2, 2], dtype: "bool" }),
        async (a, b, c, d) => {
          expect(a.dtype).toBe("float64")
          for (const v of await flat(a)) expect(v >= -2 && v <= 3 && Math.abs(v) >= 0.5).toBe(true)
          expect(b.dtype).toBe("float32")
          expect([...b.shape]).toEqual([4, 3])
          const bs = (await flat(b)).sort((x, y) => x - y)
          for (let i = 1; i < bs.length; i++) expect(bs[i]! - bs[i - 1]!).toBeGreaterThanOrEqual(0.1 - 1e-6)
          for (const v of bs) expect(v >= -1 - 1e-6 && v <= 1 + 1e-6).toBe(true)
          expect(c.dtype).toBe("int32")
          for (const v of await flat(c)) expect(Number.isInteger(v) && v >= -3 && v <= 3).toBe(true)
          expect(d.dtype).toBe("bool")
          for (const v of await flat(d)) expect([0, 1]).toContain(v)
        }
      ),
      { numRuns: 25 }
    )
  })

  it("impossible constraints are reported when drawing", () => {
    expect(() => fc.sample(arbitraries.tensor({ shape: [2], min: -0.1, max: 0.1, minAbs: 0.5 }), 1)).toThrow(/no value in \[-0.1, 0.1\]/)
    expect(() => fc.sample(arbitraries.tensor({ shape: [5], min: 0, max: 0.2, distinct: 0.1 }), 1)).toThrow(/5 values at least 0.1 apart/)
  })

  it("pytree nests arrays and records of the given leaves to maxDepth", () => {
    const leaf = arbitraries.tensor({ shape: [2] })
    const depth = (u: unknown): number =>
      Tensor.isTensor(u) ? 0 : Array.isArray(u) ? 1 + Math.max(...u.map(depth)) : 1 + Math.max(...Object.values(u as object).map(depth))
    const kinds = new Set<string>()
    fc.assert(
      fc.property(arbitraries.pytree({ leaf, maxDepth: 2, maxBreadth: 3 }), (tree) => {
        const [leaves] = Pytree.flatten(tree)
        expect(leaves.length).toBeGreaterThanOrEqual(1)
        for (const l of leaves) expect([...l.shape]).toEqual([2])
        expect(depth(tree)).toBeLessThanOrEqual(2)
        kinds.add(Tensor.isTensor(tree) ? "leaf" : Array.isArray(tree) ? "array" : "record")
      }),
      { numRuns: 60 }
    )
    expect(kinds).toEqual(new Set(["leaf", "array", "record"]))
  })

  it("random pytrees check with checkGrads", async () => {
    await fc.assert(
      fc.asyncProperty(arbitraries.pytree({ leaf: arbitraries.tensor({ shape: arbitraries.shape({ maxRank: 2, maxDim: 3 }) }), maxDepth: 2 }), (tree) =>
        run(
          checkGrads(
            (t: Pytree.Pytree) => {
              const [leaves] = Pytree.flatten(t)
              return leaves.map((l, i) => Tensor.sum(Tensor.mul(Tensor.sin(l), i + 1)))
            },
            [tree],
            { order: 2 }
          )
        )
      ),
      { numRuns: 10 }
    )
  })
})
