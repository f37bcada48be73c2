/**
 * Making tensors (numbers, nested arrays, typed arrays), the constructors,
 * and reading values back (data, toArray, item).
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { arbDimWithZero, arbDType, arbRef, build, expectFailure, expectTensor, failureOf, kindOf, nest, read, runs, sizeOf } from "./helpers.js"

const toArray = (t: Tensor.Tensor) => Effect.runPromise(Tensor.toArray(t))
const item = (t: Tensor.Tensor) => Effect.runPromise(Tensor.item(t))

describe("Tensor.make", () => {
  it("from a number is a float32 scalar", async () => {
    const t = Tensor.make(2.5)
    expect([t.shape, t.dtype, t.size, t.ndim]).toEqual([[], "float32", 1, 0])
    expect(await toArray(t)).toBe(2.5)
    expect(await item(t)).toBe(2.5)
  })

  it("from nested arrays infers the shape; float32 by default rounds to float32", async () => {
    const t = Tensor.make([[0.1, 2], [3, 4], [5, 6]])
    expect([t.shape, t.dtype, t.size, t.ndim]).toEqual([[3, 2], "float32", 6, 2])
    expect(await toArray(t)).toEqual([[Math.fround(0.1), 2], [3, 4], [5, 6]])
    const d = await Effect.runPromise(Tensor.data(t))
    expect(d).toBeInstanceOf(Float32Array)
  })

  it("keeps float64 values exactly", async () => {
    const t = Tensor.make([0.1, 1e-300, -1e300], { dtype: "float64" })
    const d = await Effect.runPromise(Tensor.data(t))
    expect(d).toBeInstanceOf(Float64Array)
    expect(Array.from(d)).toEqual([0.1, 1e-300, -1e300])
  })

  it("int32 truncates toward zero, bool is `!= 0`, booleans are accepted", async () => {
    expect(await toArray(Tensor.make([1.7, -1.7, 2.5, -0.5], { dtype: "int32" }))).toEqual([1, -1, 2, 0])
    expect(await Effect.runPromise(Tensor.data(Tensor.make([1], { dtype: "int32" })))).toBeInstanceOf(Int32Array)
    expect(await toArray(Tensor.make([0, 2, -1, 0.5], { dtype: "bool" }))).toEqual([false, true, true, true])
    expect(await Effect.runPromise(Tensor.data(Tensor.make([true], { dtype: "bool" })))).toBeInstanceOf(Uint8Array)
    expect(await toArray(Tensor.make([true, false], { dtype: "bool" }))).toEqual([true, false])
    expect(await toArray(Tensor.make([true, false]))).toEqual([1, 0])
  })

  it("NaN becomes true as bool, as cast does (NumPy: bool(nan) is True)", async () => {
    expect(await toArray(Tensor.make([NaN, 0], { dtype: "bool" }))).toEqual([true, false])
    expect(await toArray(Tensor.cast(Tensor.make([NaN, 0]), "bool"))).toEqual([true, false])
    expect(await toArray(Tensor.full([1], NaN, { dtype: "bool" }))).toEqual([true])
  })

  it("empty arrays give 0-size tensors", async () => {
    const a = Tensor.make([])
    expect([a.shape, a.size]).toEqual([[0], 0])
    expect(await toArray(a)).toEqual([])
    const b = Tensor.make([[], []], { dtype: "int32" })
    expect([b.shape, b.size]).toEqual([[2, 0], 0])
    expect(await toArray(b)).toEqual([[], []])
  })

  it("from typed arrays of every kind, with options.shape (1-D without it)", async () => {
    expect(await toArray(Tensor.make(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] }))).toEqual([[1, 2, 3], [4, 5, 6]])
    expect(await toArray(Tensor.make(new Int8Array([-1, 2]), { dtype: "int32" }))).toEqual([-1, 2])
    expect(await toArray(Tensor.make(new Uint16Array([65535, 1]), { dtype: "float64", shape: [2, 1] }))).toEqual([[65535], [1]])
    expect(await toArray(Tensor.make(new Uint8Array([0, 3]), { dtype: "bool" }))).toEqual([false, true])
    expect(await toArray(Tensor.make(new Float64Array([7]), { shape: [] }))).toBe(7)
    const t = Tensor.make(new Int32Array(0), { shape: [3, 0] })
    expect([t.shape, await toArray(t)]).toEqual([[3, 0], [[], [], []]])
  })

  it("does not alias the typed array it was made from, and data returns a fresh copy", async () => {
    const src = new Float32Array([1, 2, 3])
    const t = Tensor.make(src)
    src[0] = 100
    const d = await Effect.runPromise(Tensor.data(t))
    d[1] = 200
    expect(await read(t)).toEqual([1, 2, 3])
    // a computed tensor holds its result once read: later reads copy it too
    const u = Tensor.mul(t, 2)
    const first = await Effect.runPromise(Tensor.data(u))
    first[0] = -1
    const second = await Effect.runPromise(Tensor.data(u))
    expect(Array.from(second)).toEqual([2, 4, 6])
    second[2] = -1
    expect(await read(u)).toEqual([2, 4, 6])
  })

  it("nested arrays, typed arrays and toArray agree on random shapes and dtypes", async () => {
    const arb = fc
      .tuple(fc.array(arbDimWithZero, { maxLength: 4 }), arbDType)
      .chain(([shape, dtype]) => arbRef(shape, kindOf(dtype)).map((r) => [r, dtype] as const))
    await fc.assert(
      fc.asyncProperty(arb, async ([r, dtype]) => {
        const want = dtype === "bool" ? { shape: r.shape, data: r.data.map((x) => (x !== 0 ? 1 : 0)) } : r
        const fromTyped = Tensor.make(Float64Array.from(r.data), { shape: r.shape, dtype })
        await expectTensor(fromTyped, want, dtype)
        // nested data cannot express a 0-size axis followed by more axes
        if (r.shape.slice(0, -1).every((d) => d > 0)) {
          await expectTensor(Tensor.make(nest(r) as Parameters<typeof Tensor.make>[0], { dtype }), want, dtype)
        }
        const nested = nest(want, (x) => (dtype === "bool" ? x === 1 : dtype === "float32" ? Math.fround(x) : x))
        expect(await toArray(fromTyped)).toEqual(nested)
      }),
      runs(60)
    )
  })
})

describe("constructors", () => {
  it("zeros, ones, full with shapes and dtypes", async () => {
    await expectTensor(Tensor.zeros([2, 3]), build([2, 3], () => 0), "float32")
    await expectTensor(Tensor.ones([4], { dtype: "int32" }), build([4], () => 1), "int32")
    await expectTensor(Tensor.ones([], { dtype: "float64" }), build([], () => 1), "float64")
    await expectTensor(Tensor.full([2, 2], 7.5, { dtype: "float64" }), build([2, 2], () => 7.5), "float64")
    await expectTensor(Tensor.full([3], 2.9, { dtype: "int32" }), build([3], () => 2), "int32")
    await expectTensor(Tensor.full([2], 5, { dtype: "bool" }), build([2], () => 1), "bool")
    await expectTensor(Tensor.zeros([0, 5]), build([0, 5], () => 0), "float32")
  })

  it("zerosLike and onesLike keep shape and dtype unless a dtype is given", async () => {
    const x = Tensor.make([[1, 2, 3]], { dtype: "int32" })
    await expectTensor(Tensor.zerosLike(x), build([1, 3], () => 0), "int32")
    await expectTensor(Tensor.onesLike(x), build([1, 3], () => 1), "int32")
    await expectTensor(Tensor.onesLike(x, { dtype: "float64" }), build([1, 3], () => 1), "float64")
    await expectTensor(Tensor.zerosLike(Tensor.make(true, { dtype: "bool" })), build([], () => 0), "bool")
  })

  it("arange: int32 for integer arguments, float32 otherwise, negative steps, empty ranges", async () => {
    await expectTensor(Tensor.arange(5), build([5], ([i]) => i!), "int32")
    await expectTensor(Tensor.arange(2, 8, 3), build([2], ([i]) => 2 + 3 * i!), "int32")
    await expectTensor(Tensor.arange(5, 0, -2), build([3], ([i]) => 5 - 2 * i!), "int32")
    await expectTensor(Tensor.arange(0, 1, 0.25), build([4], ([i]) => 0.25 * i!), "float32")
    await expectTensor(Tensor.arange(0.5, 3), build([3], ([i]) => 0.5 + i!), "float32")
    await expectTensor(Tensor.arange(3, 3), build([0], () => 0), "int32")
    await expectTensor(Tensor.arange(3, 0), build([0], () => 0), "int32")
    await expectTensor(Tensor.arange(0, 3, 1, { dtype: "float64" }), build([3], ([i]) => i!), "float64")
  })

  it("arange matches a float64 reference for random arguments", async () => {
    const arb = fc.tuple(fc.integer({ min: -20, max: 20 }), fc.integer({ min: -20, max: 20 }), fc.integer({ min: -5, max: 5 }).filter((s) => s !== 0))
    await fc.assert(
      fc.asyncProperty(arb, async ([a, b, s]) => {
        const n = Math.max(0, Math.ceil((b - a) / s))
        await expectTensor(Tensor.arange(a, b, s), build([n], ([i]) => a + s * i!), "int32")
        await expectTensor(Tensor.arange(a, b, s, { dtype: "float64" }), build([n], ([i]) => a + s * i!), "float64")
      }),
      runs(50)
    )
  })

  it("linspace includes both ends", async () => {
    await expectTensor(Tensor.linspace(0, 1, 5), build([5], ([i]) => i! / 4), "float32")
    await expectTensor(Tensor.linspace(-1, 1, 3, { dtype: "float64" }), build([3], ([i]) => -1 + i!), "float64")
    await expectTensor(Tensor.linspace(0.1, 0.7, 7, { dtype: "float64" }), build([7], ([i]) => 0.1 + 0.1 * i!), "float64")
    await expectTensor(Tensor.linspace(2, 3, 1), build([1], () => 2), "float32")
    await expectTensor(Tensor.linspace(2, 3, 0), build([0], () => 0), "float32")
    const last = await read(Tensor.linspace(0, 0.3, 4, { dtype: "float64" }))
    expect(last[3]).toBe(0.3)
  })

  it("eye is the identity, square or not", async () => {
    await expectTensor(Tensor.eye(3), build([3, 3], ([i, j]) => (i === j ? 1 : 0)), "float32")
    await expectTensor(Tensor.eye(2, 4, { dtype: "int32" }), build([2, 4], ([i, j]) => (i === j ? 1 : 0)), "int32")
    await expectTensor(Tensor.eye(4, 2, { dtype: "bool" }), build([4, 2], ([i, j]) => (i === j ? 1 : 0)), "bool")
    await expectTensor(Tensor.eye(0), build([0, 0], () => 0), "float32")
  })
})

describe("reading", () => {
  it("toArray nests row-major data, bools as booleans", async () => {
    const t = Tensor.reshape(Tensor.arange(24), [2, 3, 4])
    expect(await toArray(t)).toEqual(nest(build([2, 3, 4], ([i, j, k]) => 12 * i! + 4 * j! + k!)))
    expect(await toArray(Tensor.greater(Tensor.arange(3), 0))).toEqual([false, true, true])
    expect(await toArray(Tensor.zeros([2, 0, 3]))).toEqual([[], []])
  })

  it("item reads the one element of any size-1 tensor", async () => {
    expect(await item(Tensor.make([[[4]]], { dtype: "int32" }))).toBe(4)
    expect(await item(Tensor.sum(Tensor.arange(5)))).toBe(10)
    expect(await item(Tensor.make(true, { dtype: "bool" }))).toBe(1)
  })

  it("item on a tensor with another number of elements fails with ShapeError naming the shape", async () => {
    for (const t of [Tensor.ones([2]), Tensor.zeros([0]), Tensor.ones([2, 3])]) {
      const e = await failureOf(Tensor.item(t))
      expect(e._tag).toBe("ShapeError")
      expect(e.message).toContain("item")
      expect(e.message).toContain(`[${t.shape.join(", ")}]`)
    }
  })

  it("item of a failed tensor fails with that tensor's error", async () => {
    const e = await failureOf(Tensor.item(Tensor.add(Tensor.ones([2]), Tensor.ones([3]))))
    expect(e._tag).toBe("ShapeError")
    expect(e.message).toContain("add")
  })
})

describe("bad make", () => {
  it("a ragged array fails when read", async () => {
    await expectFailure(() => Tensor.make([[1, 2], [3]]), "ShapeError", "make", "ragged")
    await expectFailure(() => Tensor.make([[1], 2] as never), "ShapeError", "make")
    await expectFailure(() => Tensor.make([1, [2]] as never), "ShapeError", "make")
  })

  it("a typed array that does not fit the shape fails when read", async () => {
    await expectFailure(() => Tensor.make(new Float32Array(5), { shape: [2, 3] }), "ShapeError", "make", "5", "[2, 3]")
    await expectFailure(() => Tensor.make(new Float32Array(2), { shape: [-1, -2] }), "ShapeError", "make", "[-1, -2]")
    await expectFailure(() => Tensor.make(new Float32Array(2), { shape: [1.5] }), "ShapeError", "make")
  })

  it("nested data that does not fit options.shape fails", async () => {
    await expectFailure(() => Tensor.make([1, 2, 3], { shape: [2, 2] }), "ShapeError", "make", "[3]", "[2, 2]")
    await expectFailure(() => Tensor.make([1, 2], { shape: [-1, -2] }), "ShapeError", "make", "[-1, -2]")
    await expectFailure(() => Tensor.make([1, 2], { shape: [0.5, 4] }), "ShapeError", "make", "[0.5, 4]")
  })

  it("an unknown dtype fails with DTypeError when read", async () => {
    await expectFailure(() => Tensor.make([1, 2], { dtype: "int8" as never }), "DTypeError", "make", "int8")
    await expectFailure(() => Tensor.make(new Float32Array(2), { dtype: "float16" as never }), "DTypeError", "float16")
  })
})
