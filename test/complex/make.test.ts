/**
 * complex64 tensors on the CPU backend: the three ways to make them, how
 * they read back (`data` interleaved, `toArray` as [re, im] pairs, `item`
 * refused), and the typed errors of malformed data.
 */
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { expectC, expectFailure, readC, run } from "./helpers.js"

describe("Tensor.make with dtype complex64", () => {
  it("{ re, im } from flat arrays", async () => {
    const z = Tensor.make({ re: [1, -2, 3.5], im: [0.5, 0, -4] }, { dtype: "complex64" })
    expect(z.dtype).toBe("complex64")
    expect([...z.shape]).toEqual([3])
    expect(z.size).toBe(3)
    expect(await readC(z)).toEqual([[1, 0.5], [-2, 0], [3.5, -4]])
  })

  it("{ re, im } from nested arrays keeps their shape", async () => {
    const z = Tensor.make({ re: [[1, 2], [3, 4]], im: [[5, 6], [7, 8]] }, { dtype: "complex64" })
    expect([...z.shape]).toEqual([2, 2])
    expect(Array.from(await run(Tensor.data(z)))).toEqual([1, 5, 2, 6, 3, 7, 4, 8])
  })

  it("{ re, im } from typed arrays with a shape, rounded to float32", async () => {
    const z = Tensor.make({ re: Float64Array.from([0.1, 0.2, 0.3, 0.4]), im: new Float32Array([1, 2, 3, 4]) }, { dtype: "complex64", shape: [2, 2] })
    expect([...z.shape]).toEqual([2, 2])
    await expectC(z, [[Math.fround(0.1), 1], [Math.fround(0.2), 2], [Math.fround(0.3), 3], [Math.fround(0.4), 4]], { rtol: 0, atol: 0 })
  })

  it("interleaved typed arrays: Float32Array of length 2·size", async () => {
    const inter = new Float32Array([1, 2, 3, 4, 5, 6])
    const z = Tensor.make(inter, { dtype: "complex64" })
    expect([...z.shape]).toEqual([3])
    expect(await readC(z)).toEqual([[1, 2], [3, 4], [5, 6]])
    const m = Tensor.make(new Float32Array(12).map((_, i) => i), { dtype: "complex64", shape: [2, 3] })
    expect([...m.shape]).toEqual([2, 3])
    expect(await run(Tensor.toArray(m))).toEqual([
      [[0, 1], [2, 3], [4, 5]],
      [[6, 7], [8, 9], [10, 11]]
    ])
    // the input is copied: changing it later changes nothing
    inter[0] = 99
    expect((await readC(z))[0]).toEqual([1, 2])
  })

  it("nested [re, im] pairs: the last axis of 2 holds the parts", async () => {
    const v = Tensor.make([[1, 2], [3, 4]], { dtype: "complex64" })
    expect([...v.shape]).toEqual([2])
    expect(await readC(v)).toEqual([[1, 2], [3, 4]])
    const m = Tensor.make([[[1, -1], [0, 2]], [[3, 0], [-4, 5]]], { dtype: "complex64" })
    expect([...m.shape]).toEqual([2, 2])
    expect(await readC(m)).toEqual([[1, -1], [0, 2], [3, 0], [-4, 5]])
    const s = Tensor.make([7, -8], { dtype: "complex64", shape: [] })
    expect([...s.shape]).toEqual([])
    expect(await readC(s)).toEqual([[7, -8]])
  })

  it("the three forms agree and toArray round-trips through make", async () => {
    const a = Tensor.make({ re: [[1, 2]], im: [[3, 4]] }, { dtype: "complex64" })
    const b = Tensor.make(new Float32Array([1, 3, 2, 4]), { dtype: "complex64", shape: [1, 2] })
    const c = Tensor.make([[[1, 3], [2, 4]]], { dtype: "complex64" })
    for (const t of [a, b, c]) {
      expect([...t.shape]).toEqual([1, 2])
      expect(Array.from(await run(Tensor.data(t)))).toEqual([1, 3, 2, 4])
    }
    const back = Tensor.make((await run(Tensor.toArray(a))) as Tensor.NestedArray, { dtype: "complex64" })
    expect(Array.from(await run(Tensor.data(back)))).toEqual([1, 3, 2, 4])
  })

  it("Tensor.data is a fresh interleaved Float32Array", async () => {
    const z = Tensor.make({ re: [1, 2], im: [3, 4] }, { dtype: "complex64" })
    const d = await run(Tensor.data(z))
    expect(d).toBeInstanceOf(Float32Array)
    expect(Array.from(d)).toEqual([1, 3, 2, 4])
    d[0] = 100
    expect(Array.from(await run(Tensor.data(z)))).toEqual([1, 3, 2, 4])
  })

  it("Tensor.item refuses complex64 with a DTypeError (a complex value is not one number)", async () => {
    const z = Tensor.make({ re: [1.5], im: [-2] }, { dtype: "complex64", shape: [] })
    await expectFailure(Tensor.item(z), "DTypeError", "item", "complex64", "toArray")
    await expectFailure(Tensor.item(Tensor.sum(Tensor.make({ re: [1, 2], im: [3, 4] }, { dtype: "complex64" }))), "DTypeError", "complex64")
    // the parts read as numbers
    expect(await run(Tensor.item(Tensor.real(z)))).toBe(1.5)
    expect(await run(Tensor.item(Tensor.imag(z)))).toBe(-2)
    expect(await run(Tensor.toArray(z))).toEqual([1.5, -2])
  })

  it("zeros, ones, full, eye and arange in complex64 have zero imaginary parts", async () => {
    expect(await readC(Tensor.zeros([2], { dtype: "complex64" }))).toEqual([[0, 0], [0, 0]])
    expect(await readC(Tensor.ones([2], { dtype: "complex64" }))).toEqual([[1, 0], [1, 0]])
    expect(await readC(Tensor.full([2], 3, { dtype: "complex64" }))).toEqual([[3, 0], [3, 0]])
    expect(await readC(Tensor.eye(2, 2, { dtype: "complex64" }))).toEqual([[1, 0], [0, 0], [0, 0], [1, 0]])
    expect(await readC(Tensor.arange(0, 3, 1, { dtype: "complex64" }))).toEqual([[0, 0], [1, 0], [2, 0]])
    const z = Tensor.make({ re: [1, 2], im: [3, 4] }, { dtype: "complex64" })
    expect(await readC(Tensor.zerosLike(z))).toEqual([[0, 0], [0, 0]])
  })
})

describe("malformed complex data is a typed failure", () => {
  it("an interleaved array of odd length", async () => {
    await expectFailure(Tensor.data(Tensor.make(new Float32Array(3), { dtype: "complex64", shape: [2] })), "ShapeError", "complex64", "needs 4")
  })
  it("{ re, im } of different shapes", async () => {
    await expectFailure(Tensor.data(Tensor.make({ re: [1, 2], im: [1] }, { dtype: "complex64" })), "ShapeError", "[2]", "[1]")
  })
  it("{ re, im } with a real dtype", async () => {
    await expectFailure(Tensor.data(Tensor.make({ re: [1], im: [2] }, { dtype: "float32" })), "DTypeError", "complex64", "float32")
  })
  it("nested data whose last axis is not [re, im]", async () => {
    await expectFailure(Tensor.data(Tensor.make([[1, 2, 3]], { dtype: "complex64" })), "ShapeError", "[re, im]")
    await expectFailure(Tensor.data(Tensor.make([1, 2, 3], { dtype: "complex64" })), "ShapeError", "[re, im]")
  })
})
