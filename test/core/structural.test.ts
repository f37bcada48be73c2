/**
 * Structure ops against the float64 reference: matmul (1-D operands,
 * broadcast batch axes), transpose (random permutations, negative axes),
 * reshape (-1), concat (each axis), slice (negative indices), expandDims,
 * broadcastTo, 0-size tensors; data-first and data-last.
 */
import { pipe } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import {
  arbBroadcastShapes,
  arbDim,
  arbDimWithZero,
  arbPerm,
  arbRef,
  arbShape,
  type DT,
  expectTensor,
  kindOf,
  read,
  refBroadcastTo,
  refConcat,
  refMatmul,
  refSlice,
  refTranspose,
  runs,
  sizeOf,
  tensorOf
} from "./helpers.js"

const arbDT = fc.constantFrom<DT>("float32", "float64", "int32", "bool")

describe("matmul", () => {
  /** Operand shapes: batch axes that broadcast, either operand possibly 1-D. */
  const arbShapes = fc
    .tuple(arbBroadcastShapes(2, 2), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.boolean())
    .map(([[ba, bb], m, k, n, aVec, bVec]) => [aVec ? [k] : [...ba!, m, k], bVec ? [k] : [...bb!, k, n]] as const)

  it("matches the reference for float32 / float64 / int32, with 1-D operands and broadcast batches", async () => {
    const arb = fc
      .tuple(arbShapes, fc.constantFrom<DT>("float32", "float64", "int32"), fc.boolean())
      .chain(([[sa, sb], dtype, dataLast]) => fc.tuple(arbRef(sa, kindOf(dtype)), arbRef(sb, kindOf(dtype)), fc.constant(dtype), fc.constant(dataLast)))
    await fc.assert(
      fc.asyncProperty(arb, async ([ra, rb, dtype, dataLast]) => {
        const a = tensorOf(ra, dtype), b = tensorOf(rb, dtype)
        const y = dataLast ? pipe(a, Tensor.matmul(b)) : Tensor.matmul(a, b)
        const k = ra.shape[ra.shape.length - 1]!
        const tol = dtype === "float32" ? { rtol: 1e-5, atol: 1e-4 * (1 + k) } : dtype === "float64" ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 0, atol: 0 }
        await expectTensor(y, refMatmul(ra, rb), dtype, tol)
      }),
      runs(80)
    )
  })

  it("promotes mixed dtypes and gives int32 for bool", async () => {
    const a = Tensor.make([[1, 0], [1, 1]], { dtype: "bool" })
    await expectTensor(Tensor.matmul(a, a), { shape: [2, 2], data: [1, 0, 2, 1] }, "int32")
    await expectTensor(Tensor.matmul(Tensor.arange(2), Tensor.make([[0.5], [1.5]], { dtype: "float64" })), { shape: [1], data: [1.5] }, "float64")
  })

  it("vector @ vector is a scalar; [2, 0] @ [0, 3] is zeros", async () => {
    await expectTensor(Tensor.matmul(Tensor.make([1, 2, 3]), Tensor.make([4, 5, 6])), { shape: [], data: [32] }, "float32")
    await expectTensor(Tensor.matmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3])), { shape: [2, 3], data: [0, 0, 0, 0, 0, 0] }, "float32")
    await expectTensor(Tensor.matmul(Tensor.ones([1, 2, 3]), Tensor.ones([0, 3, 2])), { shape: [0, 2, 2], data: [] }, "float32")
  })

  it("a larger product (k = 300, past one cache block) matches in float64", async () => {
    const arb = fc.tuple(arbRef([5, 300], "f64", 1), arbRef([300, 3], "f64", 1))
    await fc.assert(
      fc.asyncProperty(arb, async ([ra, rb]) => {
        await expectTensor(Tensor.matmul(tensorOf(ra, "float64"), tensorOf(rb, "float64")), refMatmul(ra, rb), "float64", { rtol: 1e-12, atol: 1e-12 })
      }),
      runs(5)
    )
  })
})

describe("transpose", () => {
  it("random permutations (some axes negative), default reversal, data-first and data-last", async () => {
    const arb = fc
      .tuple(fc.array(arbDimWithZero, { maxLength: 5 }), arbDT)
      .chain(([shape, dtype]) =>
        fc.tuple(arbRef(shape, kindOf(dtype)), fc.constant(dtype), arbPerm(shape.length), fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }), fc.boolean())
      )
    await fc.assert(
      fc.asyncProperty(arb, async ([r, dtype, perm, negate, dataLast]) => {
        const x = tensorOf(r, dtype)
        const given = perm.map((p, i) => (negate[i] ? p - perm.length : p))
        const y = dataLast ? pipe(x, Tensor.transpose(given)) : Tensor.transpose(x, given)
        await expectTensor(y, refTranspose(r, perm), dtype)
        const reversed = [...r.shape.keys()].reverse()
        await expectTensor(Tensor.transpose(x), refTranspose(r, reversed), dtype)
        await expectTensor(pipe(x, Tensor.transpose()), refTranspose(r, reversed), dtype)
      }),
      runs(60)
    )
  })
})

describe("reshape", () => {
  /** A target shape of the same size: dims shuffled and grouped, maybe one -1. */
  const arb = fc
    .tuple(fc.array(arbDimWithZero, { maxLength: 4 }), arbDT)
    .chain(([shape, dtype]) =>
      fc.tuple(arbRef(shape, kindOf(dtype)), fc.constant(dtype), arbPerm(shape.length), fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }), fc.nat(), fc.boolean(), fc.boolean())
    )
  it("to random shapes of the same size, with -1, data-first and data-last", async () => {
    await fc.assert(
      fc.asyncProperty(arb, async ([r, dtype, perm, merge, hole, useHole, dataLast]) => {
        const target: number[] = []
        perm.forEach((p, i) => {
          const d = r.shape[p]!
          if (merge[i] && target.length > 0) target[target.length - 1] = target[target.length - 1]! * d
          else target.push(d)
        })
        const given = [...target]
        if (useHole && target.length > 0) {
          const j = hole % target.length
          if (sizeOf(target.filter((_, i) => i !== j)) > 0) given[j] = -1
        }
        const x = tensorOf(r, dtype)
        const y = dataLast ? pipe(x, Tensor.reshape(given)) : Tensor.reshape(x, given)
        await expectTensor(y, { shape: target, data: r.data }, dtype)
      }),
      runs(60)
    )
  })

  it("adds and removes unit axes, to and from scalars", async () => {
    await expectTensor(Tensor.reshape(Tensor.make(3), [1, 1]), { shape: [1, 1], data: [3] }, "float32")
    await expectTensor(Tensor.reshape(Tensor.make([[3]]), []), { shape: [], data: [3] }, "float32")
    await expectTensor(Tensor.reshape(Tensor.make([[3]]), [-1]), { shape: [1], data: [3] }, "float32")
    await expectTensor(Tensor.reshape(Tensor.zeros([0, 3]), [3, -1, 2]), { shape: [3, 0, 2], data: [] }, "float32")
  })
})

describe("concat", () => {
  const arb = fc
    .tuple(arbShape(4).filter((s) => s.length > 0), arbDT, fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.boolean())
    .chain(([shape, dtype, parts, neg, dataLast]) =>
      fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
        fc.tuple(
          fc.array(arbDimWithZero, { minLength: parts, maxLength: parts }).chain((sizes) =>
            fc.tuple(...sizes.map((s) => arbRef(shape.map((d, i) => (i === axis ? s : d)), kindOf(dtype))))
          ),
          fc.constant({ dtype, axis, neg, dataLast })
        )
      )
    )
  it("along each axis (negative too), any number of parts, 0-size parts", async () => {
    await fc.assert(
      fc.asyncProperty(arb, async ([rs, { dtype, axis, neg, dataLast }]) => {
        const xs = rs.map((r) => tensorOf(r, dtype))
        const ax = neg ? axis - rs[0]!.shape.length : axis
        const y = dataLast ? pipe(xs, Tensor.concat(ax)) : Tensor.concat(xs, ax)
        await expectTensor(y, refConcat(rs, axis), dtype)
      }),
      runs(60)
    )
  })

  it("defaults to axis 0 and promotes dtypes", async () => {
    const a = Tensor.make([[1, 2]], { dtype: "int32" }), b = Tensor.make([[0.5, 1.5]])
    await expectTensor(Tensor.concat([a, b]), { shape: [2, 2], data: [1, 2, 0.5, 1.5] }, "float32")
    await expectTensor(pipe([a, a], Tensor.concat()), { shape: [2, 2], data: [1, 2, 1, 2] }, "int32")
    await expectTensor(Tensor.concat([a]), { shape: [1, 2], data: [1, 2] }, "int32")
    await expectTensor(Tensor.concat([Tensor.make([1], { dtype: "bool" }), Tensor.make([0.5], { dtype: "float64" })]), { shape: [2], data: [1, 0.5] }, "float64")
  })
})

describe("slice", () => {
  const arb = fc
    .tuple(fc.array(arbDimWithZero, { maxLength: 4 }), arbDT, fc.boolean())
    .chain(([shape, dtype, dataLast]) =>
      fc.tuple(
        arbRef(shape, kindOf(dtype)),
        fc.constant(dtype),
        fc.tuple(...shape.map((d) => fc.integer({ min: -d - 2, max: d + 2 }))),
        fc.tuple(...shape.map((d) => fc.integer({ min: -d - 2, max: d + 2 }))),
        fc.constant(dataLast)
      )
    )
  it("with negative and out-of-range indices (Python semantics), data-first and data-last", async () => {
    await fc.assert(
      fc.asyncProperty(arb, async ([r, dtype, starts, stops, dataLast]) => {
        const x = tensorOf(r, dtype)
        const y = dataLast ? pipe(x, Tensor.slice(starts, stops)) : Tensor.slice(x, starts, stops)
        await expectTensor(y, refSlice(r, starts, stops), dtype)
      }),
      runs(80)
    )
  })

  it("examples", async () => {
    const x = Tensor.reshape(Tensor.arange(12), [3, 4])
    await expectTensor(Tensor.slice(x, [-2, 1], [3, -1]), { shape: [2, 2], data: [5, 6, 9, 10] }, "int32")
    await expectTensor(Tensor.slice(x, [0, 3], [3, 1]), { shape: [3, 0], data: [] }, "int32")
    await expectTensor(Tensor.slice(Tensor.make(5), [], []), { shape: [], data: [5] }, "float32")
  })
})

describe("expandDims and broadcastTo", () => {
  it("expandDims at every position, negative counting from the end", async () => {
    const arb = fc.tuple(arbShape(3), arbDT).chain(([shape, dtype]) => fc.tuple(arbRef(shape, kindOf(dtype)), fc.constant(dtype), fc.integer({ min: -shape.length - 1, max: shape.length })))
    await fc.assert(
      fc.asyncProperty(arb, async ([r, dtype, axis]) => {
        const pos = axis < 0 ? axis + r.shape.length + 1 : axis
        const want = { shape: [...r.shape.slice(0, pos), 1, ...r.shape.slice(pos)], data: r.data }
        await expectTensor(Tensor.expandDims(tensorOf(r, dtype), axis), want, dtype)
        await expectTensor(pipe(tensorOf(r, dtype), Tensor.expandDims(axis)), want, dtype)
      }),
      runs(40)
    )
  })

  it("broadcastTo random compatible shapes, data-first and data-last", async () => {
    const arb = fc
      .tuple(arbBroadcastShapes(1, 4, arbDimWithZero), arbDT, fc.array(arbDim(), { maxLength: 1 }))
      .chain(([[s], dtype, lead]) => fc.tuple(arbRef(s!, kindOf(dtype)), fc.constant(dtype), fc.constant(lead)))
    await fc.assert(
      fc.asyncProperty(arb, async ([r, dtype, lead]) => {
        // a target: r's shape with its 1s possibly expanded, plus leading axes
        const target = [...lead, ...r.shape.map((d) => (d === 1 ? 3 : d))]
        await expectTensor(Tensor.broadcastTo(tensorOf(r, dtype), target), refBroadcastTo(r, target), dtype)
        await expectTensor(pipe(tensorOf(r, dtype), Tensor.broadcastTo(target)), refBroadcastTo(r, target), dtype)
      }),
      runs(40)
    )
  })
})

describe("cast", () => {
  it("between every pair of dtypes against the reference conversion", async () => {
    const convert = (x: number, to: DT) => (to === "bool" ? (x !== 0 ? 1 : 0) : to === "int32" ? Math.trunc(x) | 0 : to === "float32" ? Math.fround(x) : x)
    const arb = fc.tuple(arbShape(3), arbDT, arbDT, fc.boolean()).chain(([shape, from, to, dataLast]) => fc.tuple(arbRef(shape, kindOf(from), 1000), fc.constant(from), fc.constant(to), fc.constant(dataLast)))
    await fc.assert(
      fc.asyncProperty(arb, async ([r, from, to, dataLast]) => {
        const x = tensorOf(r, from)
        const y = dataLast ? pipe(x, Tensor.cast(to)) : Tensor.cast(x, to)
        await expectTensor(y, { shape: r.shape, data: r.data.map((v) => convert(v, to)) }, to)
      }),
      runs(60)
    )
  })

  it("truncates toward zero; int32 beyond 2^24 rounds in float32", async () => {
    expect(await read(Tensor.cast(Tensor.make([-2.9, -0.5, 0.5, 2.9, 1e9], { dtype: "float64" }), "int32"))).toEqual([-2, 0, 0, 2, 1e9])
    await expectTensor(Tensor.cast(Tensor.make([16777217], { dtype: "int32" }), "float32"), { shape: [1], data: [16777216] }, "float32")
    await expectTensor(Tensor.cast(Tensor.make([0.1], { dtype: "float64" }), "float32"), { shape: [1], data: [Math.fround(0.1)] }, "float32")
  })
})
