/**
 * Every primitive, driven through the public ops of `Tensor`, checked with
 * `checkGrads` in float64: order 2 in both modes as a property over the
 * primitive's domain (kinks and ties avoided), and order 3 on a few
 * points each. `pad` is reached as the transpose of `slice` (order 2 in
 * reverse mode differentiates slice's pullback); greater/less/equal as the
 * conditions of where, maximum, minimum, relu and the max rule.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, it } from "vitest"
import { Tensor } from "@diffect/core"
import { arbitraries, type CheckGradsOptions, checkGrads } from "@diffect/transforms/testing"

type T = Tensor.Tensor
const A = arbitraries

interface Case {
  readonly name: string
  readonly prims: ReadonlyArray<string>
  readonly arb: fc.Arbitrary<ReadonlyArray<unknown>>
  readonly f: (...xs: any[]) => T | ReadonlyArray<T>
  readonly options?: CheckGradsOptions
}

// ------------------------------------------------------------------ shapes

const smallShape = A.shape({ maxRank: 2, maxDim: 3 })
const nonScalarShape = A.shape({ minRank: 1, maxRank: 2, maxDim: 3 })

/** A tensor of a given shape with values in [min, max] (float64). */
const tensorOf = (shape: ReadonlyArray<number>, min = -2, max = 2, extra: { minAbs?: number; distinct?: number } = {}) =>
  A.tensor({ shape, min, max, ...extra })

/** One tensor of a small random shape. */
const unaryArb = (min = -2, max = 2, extra: { minAbs?: number; distinct?: number } = {}) =>
  smallShape.chain((s) => tensorOf(s, min, max, extra)).map((x) => [x] as const)

/** A shape and one that broadcasts to it: a suffix with some axes set to 1. */
const broadcastTarget = smallShape.chain((out) =>
  fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([drop, ones]) => [out, out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d))] as const)
)

/** Two shapes that broadcast together (either order). */
const broadcastPair = fc.tuple(broadcastTarget, fc.boolean()).map(([[out, other], swap]) => (swap ? [other, out] : [out, other]))

const binaryArb = (a: [number, number], b: [number, number], bExtra: { minAbs?: number } = {}) =>
  broadcastPair.chain(([sa, sb]) => fc.tuple(tensorOf(sa!, a[0], a[1]), tensorOf(sb!, b[0], b[1], bExtra)))

/** x and y = x + d with |d| >= gap: no ties between them (maximum, minimum). */
const apartArb = (gap: number) =>
  smallShape.chain((s) => fc.tuple(tensorOf(s, -2, 2), tensorOf(s, -1, 1, { minAbs: gap }))).map(([x, d]) => [x, Tensor.add(x, d)] as const)

/** A shape and a subset of its axes (possibly none), as `axis`. */
const axesArb = nonScalarShape.chain((s) =>
  fc.tuple(fc.constant(s), fc.subarray(s.map((_, i) => i), { minLength: 1 }), fc.boolean(), fc.boolean()).map(([shape, axes, neg, keepdims]) => ({
    shape,
    axis: axes.length === 1 ? (neg ? axes[0]! - shape.length : axes[0]!) : axes,
    keepdims
  }))
)

const permArb = (n: number) => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n })

// ------------------------------------------------------------------ cases

const unary = (name: string, op: (x: T) => T, min: number, max: number, extra: { minAbs?: number } = {}): Case => ({
  name,
  prims: [name],
  arb: unaryArb(min, max, extra),
  f: op
})

const cases: ReadonlyArray<Case> = [
  // unary elementwise
  unary("neg", Tensor.neg, -3, 3),
  unary("exp", Tensor.exp, -2, 2),
  unary("log", Tensor.log, 0.2, 3),
  unary("sin", Tensor.sin, -3, 3),
  unary("cos", Tensor.cos, -3, 3),
  unary("tanh", Tensor.tanh, -2, 2),
  unary("sqrt", Tensor.sqrt, 0.2, 3),
  unary("abs", Tensor.abs, -2, 2, { minAbs: 0.05 }),
  unary("log1p", Tensor.log1p, -0.6, 2),
  unary("expm1", Tensor.expm1, -2, 2),
  {
    name: "sign (in sign(x)·x³)",
    prims: ["sign", "mul"],
    arb: unaryArb(-2, 2, { minAbs: 0.05 }),
    f: (x: T) => Tensor.mul(Tensor.sign(x), Tensor.mul(x, Tensor.mul(x, x)))
  },
  // binary elementwise, with broadcasting
  { name: "add", prims: ["add", "broadcast"], arb: binaryArb([-2, 2], [-2, 2]), f: (a: T, b: T) => Tensor.add(Tensor.sin(a), Tensor.mul(b, b)) },
  { name: "sub", prims: ["sub", "broadcast"], arb: binaryArb([-2, 2], [-2, 2]), f: (a: T, b: T) => Tensor.sub(Tensor.mul(a, a), Tensor.exp(b)) },
  { name: "mul", prims: ["mul", "broadcast"], arb: binaryArb([-2, 2], [-2, 2]), f: (a: T, b: T) => Tensor.mul(a, b) },
  { name: "div", prims: ["div", "broadcast"], arb: binaryArb([-2, 2], [-2, 2], { minAbs: 0.4 }), f: (a: T, b: T) => Tensor.div(a, b) },
  { name: "pow (both operands)", prims: ["pow", "broadcast"], arb: binaryArb([0.3, 2], [-2, 2]), f: (a: T, b: T) => Tensor.pow(a, b) },
  { name: "pow (integer exponent, any base)", prims: ["pow"], arb: unaryArb(-2, 2), f: (x: T) => Tensor.pow(x, 3) },
  { name: "pow (constant base)", prims: ["pow"], arb: unaryArb(-2, 2), f: (x: T) => Tensor.pow(1.7, x) },
  { name: "maximum", prims: ["max", "greater", "equal", "where"], arb: apartArb(0.05), f: (a: T, b: T) => Tensor.maximum(Tensor.exp(a), Tensor.exp(b)) },
  { name: "minimum", prims: ["min", "less", "equal", "where"], arb: apartArb(0.05), f: (a: T, b: T) => Tensor.minimum(Tensor.tanh(a), Tensor.tanh(b)) },
  // select
  {
    name: "where (condition from an input)",
    prims: ["where", "greater"],
    arb: smallShape.chain((s) => fc.tuple(tensorOf(s, -2, 2, { minAbs: 0.05 }), tensorOf(s))),
    f: (x: T, y: T) => Tensor.where(Tensor.greater(x, 0), Tensor.mul(x, x), Tensor.sin(Tensor.mul(x, y)))
  },
  {
    name: "where (a bool argument, held constant)",
    prims: ["where"],
    arb: smallShape.chain((s) => fc.tuple(A.tensor({ shape: s, dtype: "bool" }), tensorOf(s), tensorOf(s))),
    f: (c: T, x: T, y: T) => Tensor.where(c, Tensor.exp(x), Tensor.mul(y, Tensor.mul(y, x)))
  },
  // reductions
  {
    name: "sum (axes, keepdims)",
    prims: ["sum", "reshape"],
    arb: axesArb.chain(({ shape, axis, keepdims }) => fc.tuple(tensorOf(shape), fc.constant(axis), fc.constant(keepdims))).map(([x, axis, keepdims]) => [x, axis, keepdims]),
    f: (x: T, axis: number | number[], keepdims: boolean) => Tensor.sum(Tensor.sin(x), { axis, keepdims })
  },
  {
    name: "max (reduceMax, distinct values)",
    prims: ["reduceMax", "equal"],
    arb: axesArb.chain(({ shape, axis, keepdims }) => fc.tuple(tensorOf(shape, -1.5, 1.5, { distinct: 0.05 }), fc.constant(axis), fc.constant(keepdims))),
    // sin is increasing on [-1.5, 1.5], so distinct inputs stay distinct
    f: (x: T, axis: number | number[], keepdims: boolean) => Tensor.max(Tensor.sin(x), { axis, keepdims })
  },
  // structure
  {
    name: "reshape",
    prims: ["reshape"],
    arb: nonScalarShape.chain((s) => fc.tuple(tensorOf(s), fc.constantFrom<ReadonlyArray<number>>([-1], [1, -1], [...s].reverse(), [...s, 1]))),
    f: (x: T, shape: ReadonlyArray<number>) => Tensor.reshape(Tensor.mul(x, Tensor.sin(x)), shape)
  },
  {
    name: "broadcastTo",
    prims: ["broadcast"],
    arb: broadcastTarget.chain(([out, src]) => fc.tuple(tensorOf(src), fc.constant(out))),
    f: (x: T, shape: ReadonlyArray<number>) => Tensor.mul(Tensor.broadcastTo(Tensor.tanh(x), shape), Tensor.broadcastTo(x, shape))
  },
  {
    name: "transpose",
    prims: ["transpose"],
    arb: A.shape({ minRank: 2, maxRank: 3, maxDim: 3 }).chain((s) => fc.tuple(tensorOf(s), permArb(s.length))),
    f: (x: T, perm: number[]) => Tensor.transpose(Tensor.mul(x, Tensor.cos(x)), perm)
  },
  {
    name: "slice (and pad, its transpose)",
    prims: ["slice", "pad"],
    arb: A.shape({ minRank: 1, maxRank: 3, maxDim: 4 }).chain((s) =>
      fc.tuple(
        tensorOf(s),
        fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d - 1 }).chain((a) => fc.tuple(fc.constant(a), fc.integer({ min: a + 1, max: d }), fc.boolean()).map(([lo, hi, neg]) => (neg ? [lo - d, hi] : [lo, hi])))))
      )
    ),
    f: (x: T, ranges: number[][]) =>
      Tensor.slice(
        Tensor.mul(x, x),
        ranges.map((r) => r[0]!),
        ranges.map((r) => r[1]!)
      )
  },
  {
    name: "concat",
    prims: ["concat"],
    arb: A.shape({ minRank: 1, maxRank: 3, maxDim: 3 }).chain((s) =>
      fc.integer({ min: 0, max: s.length - 1 }).chain((axis) =>
        fc.tuple(
          tensorOf(s),
          tensorOf(s.map((d, i) => (i === axis ? d + 1 : d))),
          fc.constant(axis),
          fc.boolean()
        )
      )
    ),
    f: (a: T, b: T, axis: number, neg: boolean) => Tensor.concat([Tensor.mul(a, Tensor.sum(b)), Tensor.sin(b)], neg ? axis - a.ndim : axis)
  },
  // linear algebra
  {
    name: "matmul (matrix · matrix)",
    prims: ["matmul"],
    arb: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).chain(([m, k, n]) => fc.tuple(tensorOf([m, k]), tensorOf([k, n]))),
    f: (a: T, b: T) => Tensor.matmul(a, Tensor.tanh(b))
  },
  {
    name: "matmul (vectors, batches, broadcast batch)",
    prims: ["matmul", "reshape", "broadcast"],
    arb: fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }))
      .chain(([m, k, n, b]) =>
        fc.constantFrom<[number[], number[]]>([[k], [k, n]], [[m, k], [k]], [[k], [k]], [[b, m, k], [b, k, n]], [[b, m, k], [k, n]], [[m, k], [b, k, n]]).chain(([sa, sb]) => fc.tuple(tensorOf(sa), tensorOf(sb)))
      ),
    f: (a: T, b: T) => Tensor.matmul(Tensor.sin(a), b)
  },
  // dtypes
  {
    name: "cast (through float32 and back)",
    prims: ["cast"],
    arb: unaryArb(-2, 2),
    f: (x: T) => Tensor.mul(Tensor.cast(Tensor.cast(x, "float32"), "float64"), 3),
    // the float32 round trip is linear, so a wide step keeps most rounding out of the differences;
    // at order 3 the cotangents of the nested vjps are rounded to float32 too, which left a central
    // difference 1.25e-5 off (x = -1.00018, seed 2062073025; the default atol is 1e-5): float32's tolerance
    options: { eps: 0.5, atol: 1e-4 }
  },
  {
    name: "cast (to float32 output)",
    prims: ["cast"],
    arb: unaryArb(-2, 2),
    f: (x: T) => Tensor.cast(x, "float32"),
    options: { eps: 0.5 }
  },
  {
    name: "cast (to int32: a zero derivative, away from integers)",
    prims: ["cast"],
    arb: smallShape.chain((s) =>
      fc
        .array(fc.tuple(fc.integer({ min: -2, max: 2 }), fc.double({ min: 0.05, max: 0.95, noNaN: true })), { minLength: s.reduce((a, b) => a * b, 1), maxLength: s.reduce((a, b) => a * b, 1) })
        .map((ps) => [Tensor.make(Float64Array.from(ps.map(([k, f]) => k + f)), { shape: s, dtype: "float64" })] as const)
    ),
    f: (x: T) => Tensor.mul(Tensor.mul(x, x), Tensor.cast(Tensor.cast(x, "int32"), "float64"))
  },
  // composites
  {
    name: "softmax (axis)",
    prims: ["exp", "sum", "div", "reduceMax", "stopGradient"],
    arb: nonScalarShape.chain((s) => fc.tuple(tensorOf(s, -3, 3), fc.integer({ min: -s.length, max: s.length - 1 }))),
    f: (x: T, axis: number) => Tensor.softmax(x, { axis })
  },
  {
    name: "logsumexp (axis, keepdims)",
    prims: ["exp", "log", "sum", "reduceMax", "stopGradient"],
    arb: axesArb.chain(({ shape, axis, keepdims }) => fc.tuple(tensorOf(shape, -3, 3), fc.constant(axis), fc.constant(keepdims))),
    f: (x: T, axis: number | number[], keepdims: boolean) => Tensor.logsumexp(x, { axis, keepdims })
  },
  { name: "logSoftmax", prims: ["sub"], arb: nonScalarShape.chain((s) => tensorOf(s, -3, 3)).map((x) => [x]), f: (x: T) => Tensor.logSoftmax(x) },
  { name: "sigmoid (both signs)", prims: ["exp", "where", "less"], arb: unaryArb(-4, 4, { minAbs: 1e-3 }), f: Tensor.sigmoid },
  { name: "relu (away from 0)", prims: ["where", "greater"], arb: unaryArb(-2, 2, { minAbs: 0.05 }), f: (x: T) => Tensor.mul(Tensor.relu(x), x) },
  {
    name: "mean (axes)",
    prims: ["sum", "div"],
    arb: axesArb.chain(({ shape, axis, keepdims }) => fc.tuple(tensorOf(shape), fc.constant(axis), fc.constant(keepdims))),
    f: (x: T, axis: number | number[], keepdims: boolean) => Tensor.mean(Tensor.exp(x), { axis, keepdims })
  },
  {
    name: "min (distinct values)",
    prims: ["reduceMax", "neg"],
    // tanh(x) + x² is increasing on [0, 2]
    arb: axesArb.chain(({ shape, axis }) => fc.tuple(tensorOf(shape, 0, 2, { distinct: 0.05 }), fc.constant(axis))),
    f: (x: T, axis: number | number[]) => Tensor.min(Tensor.add(Tensor.tanh(x), Tensor.mul(x, x)), { axis })
  },
  { name: "square", prims: ["mul"], arb: unaryArb(-2, 2), f: Tensor.square },
  { name: "reciprocal", prims: ["div"], arb: unaryArb(-2, 2, { minAbs: 0.4 }), f: Tensor.reciprocal }
]

/** checkGrads over positional tensor arguments; trailing non-tensor parameters (axes, shapes...) are closed over. */
const check = (c: Case, args: ReadonlyArray<unknown>, options: CheckGradsOptions) => {
  const k = args.findIndex((a) => !(a instanceof Tensor.Tensor))
  const n = k < 0 ? args.length : k
  const rest = args.slice(n)
  const f = (...xs: ReadonlyArray<T>) => c.f(...xs, ...rest)
  return Effect.runPromise(checkGrads(f, args.slice(0, n) as ReadonlyArray<T>, { ...options, ...c.options })).catch(async (e: unknown) => {
    // name the values: fast-check prints tensors by shape only
    const values = await Promise.all(args.slice(0, n).map((a) => Effect.runPromise(Tensor.toArray(a as T))))
    throw new Error(`${(e as Error).message}\n  at args ${JSON.stringify(values)}${rest.length ? ` with ${JSON.stringify(rest)}` : ""}`)
  })
}

describe("checkGrads order 2, fwd and rev, float64, every primitive", () => {
  for (const c of cases) {
    it(`${c.name} [${c.prims.join(", ")}]`, async () => {
      await fc.assert(
        fc.asyncProperty(c.arb, fc.nat(), (args, seed) => check(c, args, { order: 2, modes: ["fwd", "rev"], seed })),
        { numRuns: 12 }
      )
    })
  }
})

describe("checkGrads order 3 (fwd and rev, every path), every primitive", () => {
  for (const c of cases) {
    it(`${c.name}`, async () => {
      await fc.assert(
        fc.asyncProperty(c.arb, fc.nat(), (args, seed) => check(c, args, { order: 3, modes: ["fwd", "rev"], seed })),
        { numRuns: 2 }
      )
    })
  }
})
