import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor, Variable } from "../src/index.js"

const read = (t: Tensor.Tensor) => Effect.runSync(Tensor.data(t))
const big = (seed: number, n = 5000) => Tensor.make(Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed)))

describe("CPU buffer reuse", () => {
  it("repeated evaluations give the same numbers while intermediates are recycled", () => {
    const x = big(1), w = Tensor.reshape(big(2, 100 * 50), [100, 50])
    const f = () => Tensor.sum(Tensor.matmul(Tensor.reshape(Tensor.tanh(Tensor.mul(x, 2)), [50, 100]), w), { axis: 0 })
    const first = read(f())
    for (let i = 0; i < 20; i++) expect(read(f())).toEqual(first)
  })

  it("values already read, evaluated tensors and Variables keep their data", () => {
    const x = big(3)
    const y = Tensor.exp(Tensor.mul(x, 0.5)) // a concrete root: keeps its buffer
    const yData = read(y)
    const kept = read(Tensor.add(y, 1))
    const v = Effect.runSync(Variable.make(Tensor.mul(x, 3)))
    const vData = read(Effect.runSync(Variable.get(v)))
    for (let i = 0; i < 30; i++) {
      // many evaluations of the same shapes, whose intermediates go back to the pool
      read(Tensor.sum(Tensor.mul(Tensor.sin(Tensor.add(big(i), 1)), Tensor.cos(big(i + 1)))))
      read(Tensor.add(Tensor.mul(Tensor.exp(big(i)), 2), Tensor.neg(big(i + 2))))
    }
    expect(read(y)).toEqual(yData)
    expect(read(Tensor.add(y, 1))).toEqual(kept)
    expect(read(Effect.runSync(Variable.get(v)))).toEqual(vData)
    expect(read(x)).toEqual(Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i * 0.37 + 3)))
  })

  it("an array returned by Tensor.data is the caller's", () => {
    const x = big(4)
    const got = read(Tensor.mul(Tensor.exp(x), 2))
    const copy = got.slice()
    for (let i = 0; i < 10; i++) read(Tensor.mul(Tensor.exp(big(i)), 2))
    expect(got).toEqual(copy)
  })
})
