/**
 * Reductions (sum mean max min logsumexp) and softmax / logSoftmax against
 * the float64 reference: random shapes, random axes (negative too), keepdims,
 * data-first and data-last; dtype rules; stability at ±1000.
 */
import { pipe } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import {
  arbDimWithZero,
  arbRef,
  arbShape,
  type DT,
  expectClose,
  expectTensor,
  kindOf,
  read,
  type Ref,
  refReduce,
  refZip,
  runs,
  tensorOf,
  type Tol
} from "./helpers.js"

const sumRef = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
const maxRef = (xs: number[]) => xs.reduce((a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)), -Infinity)
const minRef = (xs: number[]) => xs.reduce((a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)), Infinity)
const lseRef = (xs: number[]) => {
  const m = maxRef(xs)
  if (!Number.isFinite(m)) return m
  return m + Math.log(sumRef(xs.map((x) => Math.exp(x - m))))
}

/** Tolerance scaled to the magnitudes summed (float32 rounds at each step). */
const sumTol = (r: Ref, dtype: string): Tol =>
  dtype === "float32" ? { rtol: 1e-5, atol: 1e-6 * (1 + sumRef(r.data.map(Math.abs))) } : dtype === "float64" ? { rtol: 1e-12, atol: 1e-12 * (1 + sumRef(r.data.map(Math.abs))) } : { rtol: 0, atol: 0 }

/** A random reduction spec: axes (maybe negative, maybe a single number, maybe absent) and keepdims. */
const arbAxes = (rank: number) =>
  fc.record({
    picks: fc.array(fc.boolean(), { minLength: rank, maxLength: rank }),
    negate: fc.array(fc.boolean(), { minLength: rank, maxLength: rank }),
    style: fc.constantFrom("all", "list", "single"),
    keepdims: fc.boolean(),
    dataLast: fc.boolean()
  }).map(({ picks, negate, style, keepdims, dataLast }) => {
    const axes = picks.flatMap((p, i) => (p ? [i] : []))
    const given = axes.map((a) => (negate[a] ? a - rank : a))
    const axis = style === "all" ? undefined : style === "single" && given.length > 0 ? given[0]! : given
    const normalized = axis === undefined ? Array.from({ length: rank }, (_, i) => i) : typeof axis === "number" ? [axes[0]!] : axes
    return { axis, normalized, keepdims, dataLast }
  })

type Reduction = typeof Tensor.sum
const apply = (op: Reduction, x: Tensor.Tensor, axis: number | number[] | undefined, keepdims: boolean, dataLast: boolean) => {
  const options = axis === undefined ? { keepdims } : { axis, keepdims }
  return dataLast ? pipe(x, op(options)) : op(x, options)
}

const arbCase = (minDim: number, dtypes: ReadonlyArray<DT>) =>
  fc
    .tuple(minDim === 0 ? fc.array(arbDimWithZero, { maxLength: 4 }) : arbShape(4), fc.constantFrom(...dtypes))
    .chain(([shape, dtype]) => fc.tuple(arbRef(shape, kindOf(dtype)), fc.constant(dtype), arbAxes(shape.length)))

describe("reductions against the float64 reference", () => {
  it("sum: every dtype (bool gives int32), random axes and keepdims, 0-size axes", async () => {
    await fc.assert(
      fc.asyncProperty(arbCase(0, ["float32", "float64", "int32", "bool"]), async ([r, dtype, { axis, normalized, keepdims, dataLast }]) => {
        const out = dtype === "bool" ? "int32" : dtype
        await expectTensor(apply(Tensor.sum, tensorOf(r, dtype), axis, keepdims, dataLast), refReduce(r, normalized, keepdims, sumRef), out, sumTol(r, dtype))
      }),
      runs(80)
    )
  })

  it("mean: integers and bools give float32", async () => {
    await fc.assert(
      fc.asyncProperty(arbCase(1, ["float32", "float64", "int32", "bool"]), async ([r, dtype, { axis, normalized, keepdims, dataLast }]) => {
        const out = dtype === "float64" ? "float64" : "float32"
        const want = refReduce(r, normalized, keepdims, (xs) => sumRef(xs) / xs.length)
        await expectTensor(apply(Tensor.mean, tensorOf(r, dtype), axis, keepdims, dataLast), want, out, sumTol(r, out))
      }),
      runs(60)
    )
  })

  it("max and min keep the dtype (bool included)", async () => {
    await fc.assert(
      fc.asyncProperty(arbCase(1, ["float32", "float64", "int32", "bool"]), async ([r, dtype, { axis, normalized, keepdims, dataLast }]) => {
        const x = tensorOf(r, dtype)
        await expectTensor(apply(Tensor.max, x, axis, keepdims, dataLast), refReduce(r, normalized, keepdims, maxRef), dtype)
        await expectTensor(apply(Tensor.min, x, axis, keepdims, dataLast), refReduce(r, normalized, keepdims, minRef), dtype)
      }),
      runs(60)
    )
  })

  it("logsumexp: floats keep their dtype, integers give float32", async () => {
    await fc.assert(
      fc.asyncProperty(arbCase(1, ["float32", "float64", "int32"]), async ([r, dtype, { axis, normalized, keepdims, dataLast }]) => {
        const out = dtype === "float64" ? "float64" : "float32"
        const tol = out === "float32" ? { rtol: 1e-5, atol: 1e-5 } : { rtol: 1e-12, atol: 1e-12 }
        await expectTensor(apply(Tensor.logsumexp, tensorOf(r, dtype), axis, keepdims, dataLast), refReduce(r, normalized, keepdims, lseRef), out, tol)
      }),
      runs(60)
    )
  })

  it("sum over no axes (axis: []) is the identity; sum over an empty axis is 0", async () => {
    const x = Tensor.make([[1, 2], [3, 4]], { dtype: "int32" })
    await expectTensor(Tensor.sum(x, { axis: [] }), { shape: [2, 2], data: [1, 2, 3, 4] }, "int32")
    await expectTensor(Tensor.sum(Tensor.zeros([3, 0]), { axis: 1 }), { shape: [3], data: [0, 0, 0] }, "float32")
    await expectTensor(Tensor.sum(Tensor.zeros([0, 2]), { keepdims: true }), { shape: [1, 1], data: [0] }, "float32")
  })

  it("max propagates NaN; data-last with no options reduces everything", async () => {
    const x = Tensor.make([[1, NaN, 3], [4, 5, 6]])
    expectClose(await read(Tensor.max(x, { axis: 1 })), [NaN, 6], { rtol: 0, atol: 0 })
    expectClose(await read(Tensor.min(x, { axis: 1 })), [NaN, 4], { rtol: 0, atol: 0 })
    await expectTensor(pipe(Tensor.arange(6), Tensor.sum()), { shape: [], data: [15] }, "int32")
    await expectTensor(pipe(Tensor.arange(6), Tensor.max()), { shape: [], data: [5] }, "int32")
  })
})

// ------------------------------------------------------------------ softmax

const softmaxRef = (r: Ref, axis: number): Ref => {
  const m = refReduce(r, [axis], true, maxRef)
  const e = refZip([r, m], (x, mx) => Math.exp(x - mx))
  return refZip([e, refReduce(e, [axis], true, sumRef)], (v, s) => v / s)
}
const logSoftmaxRef = (r: Ref, axis: number): Ref => refZip([r, refReduce(r, [axis], true, lseRef)], (x, l) => x - l)

describe("softmax and logSoftmax", () => {
  const arb = fc
    .tuple(arbShape(4).filter((s) => s.length > 0), fc.constantFrom<DT>("float32", "float64", "int32"), fc.boolean(), fc.boolean())
    .chain(([shape, dtype, neg, dataLast]) =>
      fc.tuple(arbRef(shape, kindOf(dtype)), fc.constant(dtype), fc.option(fc.integer({ min: 0, max: shape.length - 1 }), { nil: undefined }), fc.constant(neg), fc.constant(dataLast))
    )

  it("match the reference along a random (negative or default) axis", async () => {
    await fc.assert(
      fc.asyncProperty(arb, async ([r, dtype, ax, neg, dataLast]) => {
        const rank = r.shape.length
        const axis = ax === undefined ? undefined : neg ? ax - rank : ax
        const norm = ax ?? rank - 1
        const out = dtype === "float64" ? "float64" : "float32"
        const tol = out === "float32" ? { rtol: 1e-5, atol: 1e-6 } : { rtol: 1e-12, atol: 1e-14 }
        const x = tensorOf(r, dtype)
        const options = axis === undefined ? {} : { axis }
        const sm = dataLast ? pipe(x, Tensor.softmax(options)) : Tensor.softmax(x, options)
        const lsm = dataLast ? pipe(x, Tensor.logSoftmax(options)) : Tensor.logSoftmax(x, options)
        await expectTensor(sm, softmaxRef(r, norm), out, tol, "softmax")
        await expectTensor(lsm, logSoftmaxRef(r, norm), out, out === "float32" ? { rtol: 1e-5, atol: 1e-5 } : tol, "logSoftmax")
      }),
      runs(60)
    )
  })

  it("softmax sums to one along its axis", async () => {
    const x = Tensor.make([[1, 2, 3], [-1, 0, 100]], { dtype: "float64" })
    expectClose(await read(Tensor.sum(Tensor.softmax(x, { axis: 0 }), { axis: 0 })), [1, 1, 1], { rtol: 1e-14, atol: 0 })
    expectClose(await read(Tensor.sum(Tensor.softmax(x), { axis: -1 })), [1, 1], { rtol: 1e-14, atol: 0 })
    expectClose(await read(Tensor.sum(pipe(x, Tensor.softmax()), { axis: -1 })), [1, 1], { rtol: 1e-14, atol: 0 })
    expectClose(await read(Tensor.logsumexp(pipe(x, Tensor.logSoftmax()), { axis: -1 })), [0, 0], { rtol: 0, atol: 1e-14 })
  })

  it("softmax over several axes at once", async () => {
    const r: Ref = { shape: [2, 2, 2], data: [0, 1, 2, 3, 4, 5, 6, 7] }
    const e = refZip([r, refReduce(r, [1, 2], true, maxRef)], (x, m) => Math.exp(x - m))
    await expectTensor(Tensor.softmax(tensorOf(r, "float64"), { axis: [1, 2] }), refZip([e, refReduce(e, [1, 2], true, sumRef)], (v, s) => v / s), "float64")
  })
})

describe("numerical care at ±1000", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`logsumexp, softmax and logSoftmax stay finite (${dtype})`, async () => {
      const r: Ref = { shape: [3, 3], data: [1000, 1000, 999, -1000, -1000, -999, 1000, -1000, 0] }
      const x = tensorOf(r, dtype)
      const tol = { rtol: dtype === "float32" ? 1e-6 : 1e-14, atol: dtype === "float32" ? 1e-6 : 1e-14 }
      const lse = await read(Tensor.logsumexp(x, { axis: 1 }))
      expect(lse.every(Number.isFinite)).toBe(true)
      expectClose(lse, refReduce(r, [1], false, lseRef).data.map((v) => (dtype === "float32" ? Math.fround(v) : v)), tol, "logsumexp")
      const sm = await read(Tensor.softmax(x))
      expect(sm.every(Number.isFinite)).toBe(true)
      expectClose(sm, softmaxRef(r, 1).data.map((v) => (dtype === "float32" ? Math.fround(v) : v)), tol, "softmax")
      const lsm = await read(Tensor.logSoftmax(x))
      expect(lsm.every(Number.isFinite)).toBe(true)
      expectClose(lsm, logSoftmaxRef(r, 1).data, { rtol: 1e-6, atol: 1e-4 }, "logSoftmax")
      expect(await read(Tensor.logsumexp(x))).toEqual([expect.closeTo(1000 + Math.log(3 + Math.exp(-1)), 3)])
    })
  }

  it("logsumexp of an all −∞ slice is −∞ and of a slice with +∞ is +∞", async () => {
    const x = Tensor.make([[-Infinity, -Infinity], [Infinity, 1]])
    expectClose(await read(Tensor.logsumexp(x, { axis: 1 })), [-Infinity, Infinity], { rtol: 0, atol: 0 })
  })
})
