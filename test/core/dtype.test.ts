/**
 * The dtype promotion contract of `packages/core/src/DType.ts`: the lattice
 * between tensors, weak JavaScript numbers, int → float for inexact ops, bool
 * arithmetic → int32, comparisons → bool, sum of bool → int32, casts.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { DType, Tensor } from "@diffect/core"
import { type DT, expectTensor, read, runs } from "./helpers.js"

const order: ReadonlyArray<DT> = ["bool", "int32", "float32", "float64"]
const t = (dtype: DT) => Tensor.ones([2], { dtype })
const larger = (a: DT, b: DT): DT => (order.indexOf(a) >= order.indexOf(b) ? a : b)

describe("promotion between tensors", () => {
  it("the result is the larger of bool < int32 < float32 < float64 (bool arithmetic gives int32)", () => {
    for (const a of order)
      for (const b of order) {
        const p = larger(a, b)
        const arith = p === "bool" ? "int32" : p
        for (const op of [Tensor.add, Tensor.sub, Tensor.mul, Tensor.maximum, Tensor.minimum]) expect(op(t(a), t(b)).dtype, `${a} ${b}`).toBe(arith)
        for (const op of [Tensor.div, Tensor.pow]) expect(op(t(a), t(b)).dtype).toBe(p === "float64" ? "float64" : "float32")
        for (const op of [Tensor.greater, Tensor.less, Tensor.equal]) expect(op(t(a), t(b)).dtype).toBe("bool")
        expect(Tensor.matmul(t(a), t(b)).dtype).toBe(arith)
        expect(Tensor.concat([t(a), t(b)]).dtype).toBe(p)
        expect(Tensor.where(t("bool"), t(a), t(b)).dtype).toBe(p)
      }
  })

  it("complex64 absorbs every real dtype", () => {
    const z = Tensor.make({ re: [1, 2], im: [0, 1] }, { dtype: "complex64" })
    for (const a of order) expect(Tensor.add(z, t(a)).dtype).toBe("complex64")
    expect(DType.promote2("complex64", "float64")).toBe("complex64")
  })
})

describe("weak JavaScript numbers", () => {
  it("take the tensor's dtype", async () => {
    for (const d of ["float32", "float64", "int32"] as const) expect(Tensor.add(t(d), 3).dtype).toBe(d)
    await expectTensor(Tensor.add(Tensor.make([0], { dtype: "float64" }), 0.1), { shape: [1], data: [0.1] }, "float64")
    await expectTensor(Tensor.add(Tensor.make([0]), 0.1), { shape: [1], data: [Math.fround(0.1)] }, "float32")
    await expectTensor(Tensor.mul(3, Tensor.make([2], { dtype: "int32" })), { shape: [1], data: [6] }, "int32")
  })

  it("a non-integer number meeting int32 or bool gives float32; an integer meeting bool gives int32", async () => {
    await expectTensor(Tensor.add(Tensor.make([1, 2], { dtype: "int32" }), 0.5), { shape: [2], data: [1.5, 2.5] }, "float32")
    await expectTensor(Tensor.add(Tensor.make([1, 0], { dtype: "bool" }), 0.5), { shape: [2], data: [1.5, 0.5] }, "float32")
    await expectTensor(Tensor.add(Tensor.make([1, 0], { dtype: "bool" }), 2), { shape: [2], data: [3, 2] }, "int32")
    await expectTensor(Tensor.sub(2.5, Tensor.make([1], { dtype: "int32" })), { shape: [1], data: [1.5] }, "float32")
  })

  it("comparisons with a weak number compare in the promoted dtype", async () => {
    await expectTensor(Tensor.greater(Tensor.make([1, 2], { dtype: "int32" }), 1.5), { shape: [2], data: [0, 1] }, "bool")
    await expectTensor(Tensor.less(Tensor.make([1, 2], { dtype: "int32" }), 1.5), { shape: [2], data: [1, 0] }, "bool")
    await expectTensor(Tensor.equal(Tensor.make([0.1]), 0.1), { shape: [1], data: [1] }, "bool")
    await expectTensor(Tensor.equal(Tensor.make([1, 0], { dtype: "bool" }), 1), { shape: [2], data: [1, 0] }, "bool")
  })

  it("two numbers give a float32 scalar", async () => {
    await expectTensor(Tensor.add(1, 2), { shape: [], data: [3] }, "float32")
    await expectTensor(Tensor.greater(2, 1), { shape: [], data: [1] }, "bool")
  })

  it("DType.weakNumberDType agrees with the ops for random numbers", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -100, max: 100 }), fc.double({ min: -100, max: 100, noNaN: true })), fc.constantFrom<DT>(...order), (x, d) => {
        const expected = d === "bool" || d === "int32" ? (Number.isInteger(x) ? "int32" : "float32") : d
        expect(DType.weakNumberDType(x, d)).toBe(expected)
        expect(Tensor.add(t(d), x).dtype).toBe(expected)
      }),
      runs(100)
    )
  })
})

describe("inexact ops promote integers to float32", () => {
  const inexact = [Tensor.exp, Tensor.log, Tensor.sin, Tensor.cos, Tensor.tanh, Tensor.sqrt, Tensor.log1p, Tensor.expm1, Tensor.sigmoid, Tensor.reciprocal]
  it("unary: int32 and bool give float32, floats keep their dtype", () => {
    for (const f of inexact) {
      expect(f(t("int32")).dtype).toBe("float32")
      expect(f(t("bool")).dtype).toBe("float32")
      expect(f(t("float32")).dtype).toBe("float32")
      expect(f(t("float64")).dtype).toBe("float64")
    }
  })

  it("reductions: mean, logsumexp, softmax, logSoftmax of integers are float32; max/min keep the dtype", () => {
    for (const d of ["int32", "bool"] as const) {
      expect(Tensor.mean(t(d)).dtype).toBe("float32")
      expect(Tensor.logsumexp(t(d)).dtype).toBe("float32")
      expect(Tensor.softmax(t(d)).dtype).toBe("float32")
      expect(Tensor.logSoftmax(t(d)).dtype).toBe("float32")
      expect(Tensor.max(t(d)).dtype).toBe(d)
      expect(Tensor.min(t(d)).dtype).toBe(d)
    }
    expect(Tensor.mean(t("float64")).dtype).toBe("float64")
  })

  it("div is true division on integers", async () => {
    await expectTensor(Tensor.div(Tensor.make([7, -7], { dtype: "int32" }), 2), { shape: [2], data: [3.5, -3.5] }, "float32")
    await expectTensor(Tensor.div(Tensor.make([1], { dtype: "int32" }), Tensor.make([0], { dtype: "int32" })), { shape: [1], data: [Infinity] }, "float32")
    await expectTensor(Tensor.pow(Tensor.make([2], { dtype: "int32" }), -1), { shape: [1], data: [0.5] }, "float32")
  })
})

describe("bool", () => {
  const b = Tensor.make([1, 0, 1], { dtype: "bool" })
  it("arithmetic on bool gives int32", async () => {
    await expectTensor(Tensor.add(b, b), { shape: [3], data: [2, 0, 2] }, "int32")
    await expectTensor(Tensor.sub(b, Tensor.make([0, 1, 1], { dtype: "bool" })), { shape: [3], data: [1, -1, 0] }, "int32")
    await expectTensor(Tensor.neg(b), { shape: [3], data: [-1, 0, -1] }, "int32")
    await expectTensor(Tensor.mul(b, b), { shape: [3], data: [1, 0, 1] }, "int32")
    await expectTensor(Tensor.abs(b), { shape: [3], data: [1, 0, 1] }, "int32")
  })

  it("sum of bool gives int32 (counts), also for a scalar and for no axes", async () => {
    await expectTensor(Tensor.sum(b), { shape: [], data: [2] }, "int32")
    await expectTensor(Tensor.sum(Tensor.make([[1, 1], [0, 1]], { dtype: "bool" }), { axis: 0, keepdims: true }), { shape: [1, 2], data: [1, 2] }, "int32")
    await expectTensor(Tensor.sum(Tensor.make(true, { dtype: "bool" })), { shape: [], data: [1] }, "int32")
    await expectTensor(Tensor.sum(b, { axis: [] }), { shape: [3], data: [1, 0, 1] }, "int32")
  })

  it("comparisons give bool for every dtype", () => {
    for (const d of order) for (const op of [Tensor.greater, Tensor.less, Tensor.equal]) expect(op(t(d), 1).dtype).toBe("bool")
  })

  it("where casts its condition to bool (`!= 0`)", async () => {
    await expectTensor(Tensor.where(Tensor.make([2, 0, -0.5]), 1, 0), { shape: [3], data: [1, 0, 1] }, "float32")
  })
})

describe("cast", () => {
  it("float → int truncates toward zero, → bool is `!= 0`, bool → number is 0/1", async () => {
    const x = Tensor.make([-1.9, -0.1, 0, 0.9, 2.5], { dtype: "float64" })
    expect(await read(Tensor.cast(x, "int32"))).toEqual([-1, 0, 0, 0, 2])
    expect(await read(Tensor.cast(x, "bool"))).toEqual([1, 1, 0, 1, 1])
    expect(await read(Tensor.cast(Tensor.cast(x, "bool"), "float32"))).toEqual([1, 1, 0, 1, 1])
    expect(Tensor.cast(x, "float32").dtype).toBe("float32")
  })

  it("to the same dtype is the identity", async () => {
    const x = Tensor.make([1, 2], { dtype: "int32" })
    await expectTensor(Tensor.cast(x, "int32"), { shape: [2], data: [1, 2] }, "int32")
  })
})
