/**
 * Reading a value inside a differentiated function (`Tensor.item`,
 * `toArray`, `data`) gives the value of the call's arguments, as a plain
 * number: a constant to the transform, as PyTorch's `.item()` and JAX's
 * concrete values are. The gradient does not flow through it, exactly as
 * through `stopGradient`.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad, stopGradient, vmap } from "@diffect/transforms"

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
const read = (t: Tensor.Tensor) => run(Tensor.toArray(t))

describe("reading a value inside grad", () => {
  it("gives the argument's value, and the number is a constant: d/dx [x · item(x)] = item(x), not 2x", async () => {
    const seen: number[] = []
    const f = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        const c = yield* Tensor.item(x)
        seen.push(c)
        return Tensor.mul(x, c)
      })
    expect(await read(await run(grad(f)(Tensor.make(3))))).toBe(3)
    expect(seen).toEqual([3])
    // the same as stopGradient, which says so in the code
    const g = (x: Tensor.Tensor) => Tensor.mul(x, stopGradient(x))
    expect(await read(await run(grad(g)(Tensor.make(3))))).toBe(3)
    // without either, the product rule: 2x
    expect(await read(await run(grad((x: Tensor.Tensor) => Tensor.mul(x, x))(Tensor.make(3))))).toBe(6)
  })

  it("branching on a read value picks the branch for this argument (as Python control flow on a concrete value)", async () => {
    const relu = (x: Tensor.Tensor) => Effect.map(Tensor.item(x), (v) => (v > 0 ? x : Tensor.mul(x, 0)))
    expect(await read(await run(grad(relu)(Tensor.make(2))))).toBe(1)
    expect(await read(await run(grad(relu)(Tensor.make(-2))))).toBe(0)
  })

  it("under vmap a batched value has no single value: reading it is a ConcretizationError", async () => {
    const f = (x: Tensor.Tensor) => Effect.map(Tensor.item(x), (v) => Tensor.mul(x, v))
    const e = await run(Effect.flip(vmap(f)(Tensor.make([1, 2, 3]))))
    expect(e._tag).toBe("ConcretizationError")
  })
})
