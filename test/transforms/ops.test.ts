/**
 * The ops of issue 14 through every transform: checkGrads to order 2 in
 * both modes (float64, fast-check over each op's domain, kinks and ties
 * avoided), and vmap against a loop for the new primitives' batching rules.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { vmap } from "@diffect/transforms"
import { arbitraries, checkGrads } from "@diffect/transforms/testing"

type T = Tensor.Tensor
const A = arbitraries
const shape = A.shape({ minRank: 1, maxRank: 2, maxDim: 3 })
const t = (min = -2, max = 2, extra: { minAbs?: number; distinct?: number } = {}) => shape.chain((s) => A.tensor({ shape: s, min, max, ...extra }))
const i32 = (data: number[] | number[][], s?: number[]) => Tensor.make(Int32Array.from(data.flat()), { dtype: "int32", ...(s ? { shape: s } : {}) })

interface Case {
  readonly name: string
  readonly arb: fc.Arbitrary<ReadonlyArray<T>>
  readonly f: (...xs: T[]) => T | ReadonlyArray<T>
}
const one = (name: string, f: (x: T) => T, min = -2, max = 2, extra: { minAbs?: number; distinct?: number } = {}): Case => ({
  name,
  arb: t(min, max, extra).map((x) => [x]),
  f
})
const two = (name: string, f: (a: T, b: T) => T, gap = 0): Case => ({
  name,
  arb: shape.chain((s) => fc.tuple(A.tensor({ shape: s, min: -2, max: 2 }), A.tensor({ shape: s, min: -2, max: 2, ...(gap ? { minAbs: gap } : {}) }))),
  f
})

const cases: ReadonlyArray<Case> = [
  one("tan", Tensor.tan, -1.2, 1.2),
  one("asin", Tensor.asin, -0.9, 0.9),
  one("acos", Tensor.acos, -0.9, 0.9),
  one("atan", Tensor.atan, -3, 3),
  one("sinh", Tensor.sinh),
  one("cosh", Tensor.cosh),
  one("asinh", Tensor.asinh, -3, 3),
  one("acosh", Tensor.acosh, 1.1, 4),
  one("atanh", Tensor.atanh, -0.9, 0.9),
  one("erf [erf]", Tensor.erf, -2.5, 2.5),
  {
    name: "floor, ceil, round: zero derivatives (times x², away from the jumps) [floor]",
    // k + f with f in [0.05, 0.45]: no integer and no half-integer nearby
    arb: shape.chain((s) =>
      fc
        .array(fc.tuple(fc.integer({ min: -2, max: 2 }), fc.double({ min: 0.05, max: 0.45, noNaN: true })), { minLength: s.reduce((a, b) => a * b, 1), maxLength: s.reduce((a, b) => a * b, 1) })
        .map((ps) => [Tensor.make(Float64Array.from(ps.map(([k, f]) => k + f)), { shape: s, dtype: "float64" })])
    ),
    f: (x) => Tensor.mul(Tensor.add(Tensor.floor(x), Tensor.add(Tensor.ceil(x), Tensor.round(x))), Tensor.mul(x, x))
  },
  {
    name: "atan2 (away from the branch cut) [atan2]",
    arb: shape.chain((s) => fc.tuple(A.tensor({ shape: s, min: -2, max: 2, minAbs: 0.2 }), A.tensor({ shape: s, min: -2, max: 2 }))),
    f: (a, b) => Tensor.atan2(a, b)
  },
  {
    name: "mod (away from the jumps)",
    arb: shape.chain((s) => fc.tuple(A.tensor({ shape: s, min: -2, max: 2, minAbs: 0.2 }), A.tensor({ shape: s, min: -2, max: 2, minAbs: 0.05 }))),
    f: (a, b) => Tensor.mod(Tensor.mul(a, 0.3), Tensor.add(Tensor.abs(b), 1))
  },
  two("logaddexp", Tensor.logaddexp),
  { name: "logaddexp at ties (its own rule)", arb: t().map((x) => [x]), f: (x) => Tensor.logaddexp(x, x) },
  { name: "softplus at 0", arb: fc.constant([Tensor.make([0, -0, 1e-300], { dtype: "float64" })]), f: Tensor.softplus },
  one("clip (the kink at 0 avoided)", (x) => Tensor.clip(x, 0, 3), -2, 2, { minAbs: 0.05 }),
  one("softplus", Tensor.softplus, -4, 4),
  one("logSigmoid", Tensor.logSigmoid, -4, 4),
  one("gelu (tanh)", (x) => Tensor.gelu(x)),
  one("gelu (erf)", (x) => Tensor.gelu(x, { approximate: false })),
  one("silu", Tensor.silu),
  one("elu", (x) => Tensor.elu(x, { alpha: 0.7 }), -2, 2, { minAbs: 0.05 }),
  one("leakyRelu", (x) => Tensor.leakyRelu(x, { negativeSlope: 0.2 }), -2, 2, { minAbs: 0.05 }),
  one("prod (all, with a zero)", (x) => Tensor.prod(Tensor.concat([Tensor.reshape(x, [-1]), Tensor.make([0], { dtype: "float64" })]))),
  one("prod (axis 0)", (x) => Tensor.prod(x, { axis: 0 })),
  one("variance", (x) => Tensor.variance(x, { axis: -1 })),
  { name: "std", arb: A.tensor({ shape: [2, 3], min: -2, max: 2, distinct: 0.1 }).map((x) => [x]), f: (x) => Tensor.std(x) },
  one("norm 2", (x) => Tensor.norm(x), -2, 2, { minAbs: 0.1 }),
  one("norm 1", (x) => Tensor.norm(x, { ord: 1, axis: 0 }), -2, 2, { minAbs: 0.05 }),
  // positive and distinct: no ties among the |x|
  one("norm inf", (x) => Tensor.norm(Tensor.neg(x), { ord: "inf" }), 0.1, 2, { distinct: 0.05 }),
  one("argmax selects (take at argmax) [gather]", (x) => Tensor.take(Tensor.reshape(x, [-1]), Tensor.argmax(x)), -2, 2, { distinct: 0.05 }),
  one("cumsum [cumsum]", (x) => Tensor.cumsum(Tensor.mul(x, x), { axis: 0 })),
  one("cumsum reverse", (x) => Tensor.cumsum(Tensor.sin(x), { axis: -1, reverse: true })),
  one("cumprod (Hillis–Steele)", (x) => Tensor.cumprod(x, { axis: -1 })),
  one("cumprod reverse", (x) => Tensor.cumprod(x, { axis: 0, reverse: true })),
  one("logcumsumexp", (x) => Tensor.logcumsumexp(x, { axis: -1 })),
  one("stack", (x) => Tensor.stack([x, Tensor.sin(x)], 1)),
  one("split", (x) => Tensor.concat(Tensor.split(Tensor.mul(x, x), [1, x.shape[0]! - 1], 0).reverse(), 0)),
  one("tile", (x) => Tensor.tile(Tensor.exp(x), [2, 1])),
  one("flip", (x) => Tensor.mul(Tensor.flip(x), x)),
  one("pad (value)", (x) => Tensor.pad(Tensor.mul(x, x), [[1, 2]], { value: 3 })),
  one("triu, tril", (x) => Tensor.add(Tensor.triu(Tensor.reshape(Tensor.concat([x, x]), [2, -1]), 1), Tensor.tril(Tensor.reshape(Tensor.concat([x, x]), [2, -1])))),
  one("take with repeats, negatives, clamping [gather, scatterAdd]", (x) => Tensor.take(Tensor.mul(x, x), i32([0, -1, 0, 9, -9]), { axis: 0 })),
  one("takeAlongAxis", (x) => Tensor.takeAlongAxis(Tensor.sin(x), Tensor.zerosLike(x, { dtype: "int32" }), 0)),
  {
    name: "indexAdd (repeated indices) [scatterAdd, gather]",
    arb: t().chain((x) => fc.tuple(fc.constant(x), A.tensor({ shape: [4, ...x.shape.slice(1)], min: -2, max: 2 }))),
    f: (x, u) => Tensor.indexAdd(Tensor.mul(x, x), i32([0, 0, -1, 5]), Tensor.sin(u))
  },
  one("sort [argsort]", (x) => Tensor.sort(Tensor.mul(x, x), { axis: 0 }), 0.1, 2, { distinct: 0.05 }),
  one("sort descending", (x) => Tensor.sort(x, { descending: true }), -2, 2, { distinct: 0.05 }),
  one("topk values", (x) => Tensor.topk(Tensor.exp(x), 1)[0], -2, 2, { distinct: 0.05 }),
  {
    name: "einsum (contract, transpose)",
    arb: A.shape({ minRank: 2, maxRank: 2, maxDim: 3 }).chain((s) => fc.tuple(A.tensor({ shape: s, min: -2, max: 2 }), A.tensor({ shape: [s[0]!, 2], min: -2, max: 2 }))),
    f: (a, b) => Tensor.einsum("ij,ik->jk", a, Tensor.sin(b))
  },
  {
    name: "einsum (diagonal of x xᵀ, batched ellipsis)",
    arb: A.tensor({ shape: A.shape({ minRank: 2, maxRank: 3, maxDim: 3 }), min: -2, max: 2 }).map((x) => [x]),
    f: (x) => Tensor.einsum("...ii->...i", Tensor.einsum("...ij,...kj->...ik", x, x))
  }
]

describe("checkGrads order 2, fwd and rev, float64, every new op", () => {
  for (const c of cases) {
    it(c.name, async () => {
      await fc.assert(
        fc.asyncProperty(c.arb, fc.nat(), (args, seed) => Effect.runPromise(checkGrads(c.f, [...args], { order: 2, modes: ["fwd", "rev"], seed }))),
        { numRuns: 5 }
      )
    })
  }
})

const values = (x: T) => Effect.runPromise(Tensor.toArray(x))

describe("vmap of the new primitives equals a loop", () => {
  const x = Tensor.make([[3, 1, 2, 5], [0.5, -1, 4, 4], [2, 2, -3, 0]], { dtype: "float64" })
  const idx = i32([0, 3, 2, -1, 9, 1], [3, 2])
  const loop = async (f: (...a: T[]) => T, args: T[], batched: boolean[]) => {
    const out = []
    for (let b = 0; b < 3; b++) {
      const a = args.map((t, k) => (batched[k] ? Tensor.reshape(Tensor.slice(t, [b, ...t.shape.slice(1).map(() => 0)], [b + 1, ...t.shape.slice(1)]), t.shape.slice(1)) : t))
      out.push(await values(f(...a)))
    }
    return out
  }
  const check = async (f: (...a: T[]) => T, args: T[], inAxes: Array<number | null>) => {
    const got = await values((await Effect.runPromise(vmap(f, { inAxes })(...args))) as T)
    expect(got).toEqual(await loop(f, args, inAxes.map((a) => a === 0)))
  }
  it("take: x batched, indices batched, both", async () => {
    await check((a, i) => Tensor.take(a, i), [x, i32([1, -1, 7])], [0, null])
    await check((a, i) => Tensor.take(a, i), [Tensor.reshape(x, [-1]), idx], [null, 0])
    await check((a, i) => Tensor.take(a, i), [x, idx], [0, 0])
    await check((a, i) => Tensor.takeAlongAxis(a, i, 0), [x, idx], [0, 0])
  })
  it("indexAdd, argsort, cumsum", async () => {
    await check((a, i, u) => Tensor.indexAdd(a, i, u), [x, idx, Tensor.ones([3, 2], { dtype: "float64" })], [0, 0, 0])
    await check((a, i) => Tensor.indexAdd(a, i, 1), [x, i32([0, 0, 2])], [0, null])
    await check((a) => Tensor.argsort(a), [x], [0])
    await check((a) => Tensor.sort(a, { descending: true }), [x], [0])
    await check((a) => Tensor.cumsum(a, { reverse: true }), [x], [0])
  })
})
