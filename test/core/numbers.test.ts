/**
 * Numbers given to ops (the 0.01 of every step of a loop) become scalar
 * consts that ops may share: each use still sees exactly its own value, in
 * every dtype, whatever was computed before (−0 against 0, NaN, integers),
 * and reading a tensor made of them gives fresh data.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad } from "@diffect/transforms"

const read = (t: Tensor.Tensor) => Effect.runPromise(Tensor.data(t))
const signs = (a: ArrayLike<number>) => Array.from(a, (v) => (Object.is(v, -0) ? "-0" : String(v)))

describe("numbers as operands", () => {
  it("keep their exact value however often they are used: −0 is not 0, NaN stays NaN", async () => {
    const x = Tensor.make([1, -2, 0])
    expect(signs(await read(Tensor.mul(x, 0)))).toEqual(["0", "-0", "0"])
    expect(signs(await read(Tensor.mul(x, -0)))).toEqual(["-0", "0", "-0"])
    expect(signs(await read(Tensor.mul(x, 0)))).toEqual(["0", "-0", "0"])
    expect(Array.from(await read(Tensor.add(x, NaN))).every(Number.isNaN)).toBe(true)
    expect(Array.from(await read(Tensor.add(x, 0.5)))).toEqual([1.5, -1.5, 0.5])
    const i = Tensor.make(Int32Array.from([3, 4]), { dtype: "int32" })
    expect(Array.from(await read(Tensor.mul(i, 3)))).toEqual([9, 12])
    expect(Array.from(await read(Tensor.mul(Tensor.make([0.5, 0.25], { dtype: "float64" }), 3)))).toEqual([1.5, 0.75])
  })

  it("a read gives data the caller may change without changing later results", async () => {
    const a = await read(Tensor.add(Tensor.zeros([3]), 7))
    a[0] = 100
    expect(Array.from(await read(Tensor.add(Tensor.zeros([3]), 7)))).toEqual([7, 7, 7])
    const ones = await read(Tensor.ones([2]))
    ones[1] = -5
    expect(Array.from(await read(Tensor.ones([2])))).toEqual([1, 1])
  })

  it("a loop that reuses one step size differentiates as written out by hand", async () => {
    const dt = 0.1
    const f = (x: Tensor.Tensor) => {
      let y = x
      for (let t = 0; t < 50; t++) y = Tensor.add(y, Tensor.mul(Tensor.sub(Tensor.tanh(y), y), dt))
      return Tensor.sum(y)
    }
    const x0 = [0.3, -0.7]
    const g = await Effect.runPromise(Effect.flatMap(grad(f)(Tensor.make(x0)), Tensor.data))
    // d/dx of y ← y + dt·(tanh y − y), elementwise: ∏ (1 + dt·(1 − tanh²(y) − 1))
    const expected = x0.map((v) => {
      let y = v
      let d = 1
      for (let t = 0; t < 50; t++) {
        d *= 1 + dt * (1 - Math.tanh(y) ** 2 - 1)
        y = y + dt * (Math.tanh(y) - y)
      }
      return d
    })
    g.forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 4))
  })
})
