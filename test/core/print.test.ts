/**
 * How tensors print: Node's `util.inspect` (so `console.log`), `toString`,
 * and Effect's Inspectable (`toJSON`, used by `Effect.log` and test
 * reporters) show the dtype, the shape and the values when they are known,
 * a few around an ellipsis when there are many, and never the graph's
 * internals.
 */
import { inspect } from "node:util"
import { Effect, Formatter, Inspectable } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad } from "@diffect/transforms"

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
/** A tensor whose values have been computed (on the CPU backend). */
const computed = async (t: Tensor.Tensor) => {
  await run(Tensor.data(t))
  return t
}
const internals = /\b(id|op|params|inputs|symbolic|host|buf|live|value|error)\s*[:=]/

describe("printing tensors", () => {
  it("console.log / util.inspect show the dtype, the shape and the values", () => {
    const x = Tensor.make([[1, 2], [3, 4]])
    expect(inspect(x)).toBe("Tensor(float32[2, 2], [[1, 2], [3, 4]])")
    expect(inspect({ w: x })).toBe("{ w: Tensor(float32[2, 2], [[1, 2], [3, 4]]) }")
    expect(String(x)).toBe("Tensor(float32[2, 2], [[1, 2], [3, 4]])")
    expect(`${Tensor.make(2.5)}`).toBe("Tensor(float32[], 2.5)")
    expect(String(Tensor.make([1, 2], { dtype: "int32" }))).toBe("Tensor(int32[2], [1, 2])")
    expect(String(Tensor.make([true, false], { dtype: "bool" }))).toBe("Tensor(bool[2], [true, false])")
    expect(String(Tensor.make([[1, 2], [3, -4]], { dtype: "complex64" }))).toBe("Tensor(complex64[2], [1+2i, 3-4i])")
    expect(String(Tensor.make(new Float64Array(0), { shape: [0, 3], dtype: "float64" }))).toBe("Tensor(float64[0, 3], [])")
  })

  it("floats print with at most six significant digits (the stored value, not the typed one)", () => {
    expect(String(Tensor.make([0.1, 1 / 3, -2.5e-7, Infinity, NaN]))).toBe("Tensor(float32[5], [0.1, 0.333333, -2.5e-7, Infinity, NaN])")
    expect(String(Tensor.make(1 / 3, { dtype: "float64" }))).toBe("Tensor(float64[], 0.333333)")
  })

  it("a value not computed yet is `lazy`; once read, the values show", async () => {
    const y = Tensor.add(Tensor.make([1, 2]), 0.5)
    expect(String(y)).toBe("Tensor(float32[2], lazy)")
    await computed(y)
    expect(String(y)).toBe("Tensor(float32[2], [1.5, 2.5])")
  })

  it("many values: the first and last few of each axis around an ellipsis", async () => {
    expect(String(await computed(Tensor.arange(100)))).toBe("Tensor(int32[100], [0, 1, 2, ..., 97, 98, 99])")
    const m = await computed(Tensor.reshape(Tensor.arange(64), [8, 8]))
    expect(String(m)).toBe(
      "Tensor(int32[8, 8], [[0, 1, 2, ..., 5, 6, 7], [8, 9, 10, ..., 13, 14, 15], [16, 17, 18, ..., 21, 22, 23], ..., " +
        "[40, 41, 42, ..., 45, 46, 47], [48, 49, 50, ..., 53, 54, 55], [56, 57, 58, ..., 61, 62, 63]])"
    )
    const big = await computed(Tensor.reshape(Tensor.arange(1000), [10, 10, 10]))
    const plane = (p: number) => {
      const row = (r: number) => `[${p}${r}0, ${p}${r}1, ..., ${p}${r}8, ${p}${r}9]`.replaceAll(/\b0+(\d)/g, "$1")
      return `[${row(0)}, ${row(1)}, ..., ${row(8)}, ${row(9)}]`
    }
    expect(String(big)).toBe(`Tensor(int32[10, 10, 10], [${plane(0)}, ${plane(1)}, ..., ${plane(8)}, ${plane(9)}])`)
    expect(String(big)).toContain("[[[0, 1, ..., 8, 9], [10, 11, ..., 18, 19], ..., [80, 81, ..., 88, 89], [90, 91, ..., 98, 99]], [[100, 101,")
    // a huge tensor prints in a line of bounded length
    expect(String(await computed(Tensor.zeros([100, 100, 100, 10]))).length).toBeLessThan(200)
  })

  it("an invalid tensor shows its error; inside a transform an argument is `traced`", async () => {
    const bad = Tensor.matmul(Tensor.ones([2, 3]), Tensor.ones([2, 3]))
    expect(String(bad)).toBe("Tensor(ShapeError: matmul: inner dimensions differ: [2, 3] @ [2, 3])")
    expect(bad.toJSON()).toEqual({ _id: "Tensor", error: { _tag: "ShapeError", message: "matmul: inner dimensions differ: [2, 3] @ [2, 3]" } })
    const seen: string[] = []
    await run(
      grad((x: Tensor.Tensor) => {
        seen.push(inspect(x), String(Tensor.mul(x, 2)))
        return Tensor.sum(x)
      })(Tensor.make([1, 2, 3]))
    )
    expect(seen).toEqual(["Tensor(float32[3], traced)", "Tensor(float32[3], traced)"])
  })

  it("Effect's Inspectable: toJSON, JSON.stringify, Effect's formatter and logs", async () => {
    const x = Tensor.make([[1, 2], [3, 4]])
    expect(x.toJSON()).toEqual({ _id: "Tensor", dtype: "float32", shape: [2, 2], values: [[1, 2], [3, 4]] })
    expect(JSON.parse(JSON.stringify({ x }))).toEqual({ x: { _id: "Tensor", dtype: "float32", shape: [2, 2], values: [[1, 2], [3, 4]] } })
    expect(Inspectable.toJson(x)).toEqual(x.toJSON())
    expect(Formatter.format({ x })).toBe('{"x":Tensor(float32[2, 2], [[1, 2], [3, 4]])}')
    expect((await computed(Tensor.arange(20))).toJSON()).toEqual({
      _id: "Tensor",
      dtype: "int32",
      shape: [20],
      values: [0, 1, 2, "...", 17, 18, 19]
    })
    expect(Tensor.make([true], { dtype: "bool" }).toJSON()).toMatchObject({ values: [true] })
    expect(Tensor.make([[1, 2]], { dtype: "complex64" }).toJSON()).toMatchObject({ values: [[1, 2]] })
    expect(Tensor.exp(x).toJSON()).toEqual({ _id: "Tensor", dtype: "float32", shape: [2, 2], values: "lazy" })
  })

  it("property: a small tensor prints all its values (those toArray reads), a large one the corners; never internals", async () => {
    const arb = fc
      .array(fc.integer({ min: 0, max: 9 }), { minLength: 0, maxLength: 3 })
      .chain((shape) =>
        fc.record({
          shape: fc.constant(shape),
          dtype: fc.constantFrom("float32" as const, "float64" as const, "int32" as const),
          values: fc.array(fc.integer({ min: -1000, max: 1000 }), {
            minLength: shape.reduce((a, b) => a * b, 1),
            maxLength: shape.reduce((a, b) => a * b, 1)
          }),
          lazy: fc.boolean()
        })
      )
    await fc.assert(
      fc.asyncProperty(arb, async ({ shape, dtype, values, lazy }) => {
        const made = Tensor.make(dtype === "int32" ? Int32Array.from(values) : Float64Array.from(values), { shape, dtype })
        const t = lazy ? Tensor.add(made, 0) : made
        const text = inspect(t)
        expect(text).not.toMatch(internals)
        expect(text.startsWith(`Tensor(${dtype}[${shape.join(", ")}], `)).toBe(true)
        if (lazy) expect(text).toBe(`Tensor(${dtype}[${shape.join(", ")}], lazy)`)
        await computed(t)
        const nested = await run(Tensor.toArray(t))
        const json = t.toJSON() as { values: unknown }
        // summarized: more than 12 elements and an axis longer than twice the entries kept at each end
        const edge = shape.length <= 2 ? 3 : 2
        if (values.length <= 12 || shape.every((n) => n <= 2 * edge)) expect(json.values).toEqual(nested)
        else {
          // the first and the last element always show
          const flat = JSON.stringify(json.values)
          expect(flat).toContain('"..."')
          expect(flat.startsWith("[".repeat(shape.length) + String(values[0]))).toBe(true)
          expect(flat.endsWith(String(values[values.length - 1]) + "]".repeat(shape.length))).toBe(true)
        }
        expect(inspect(t)).not.toMatch(internals)
      }),
      { numRuns: 60 }
    )
  })
})
