/**
 * NaN and ±Infinity are values, not errors: they propagate as IEEE 754
 * arithmetic says, forward and backward, and no transform fails because of
 * them. An elementwise op's gradient at one element depends only on that
 * element, so a NaN or an infinity leaves the other elements' gradients
 * exactly as they were. (See "NaN and Infinity" in packages/core/README.md.)
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad, jacfwd, jvp, vectorGrad } from "@diffect/transforms"
import { dataOf, f64, type T } from "./helpers.js"

const special = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]
const run = <A>(eff: Effect.Effect<A, unknown>) => Effect.runPromise(eff)

describe("NaN and Infinity propagate", () => {
  it("the gradient of sum(x²) at [NaN, 2, ∞, −∞, 0] is [NaN, 4, ∞, −∞, 0], in both modes and both float dtypes", async () => {
    const f = (x: T) => Tensor.sum(Tensor.square(x))
    for (const dtype of ["float64", "float32"] as const) {
      const x = Tensor.make([NaN, 2, Infinity, -Infinity, 0], { dtype })
      const want = [NaN, 4, Infinity, -Infinity, 0]
      expect(await dataOf(await run(grad(f)(x)))).toEqual(want)
      // jacfwd pushes one basis direction at a time: along e_i the other elements' tangents are 0,
      // and 0 · NaN = 0 · ∞ = NaN inside the sum, so every column is NaN (IEEE, and JAX alike)
      expect((await dataOf(await run(jacfwd(f)(x)))).every(Number.isNaN)).toBe(true)
      const [, t] = await run(jvp(Tensor.square, [x], [Tensor.onesLike(x)]))
      expect(await dataOf(t)).toEqual(want)
      expect(await dataOf(await run(vectorGrad(Tensor.square)(x)))).toEqual(want)
    }
  })

  it("values and derivatives at NaN and ±∞ of exp, log, sqrt, tanh, abs (as IEEE says)", async () => {
    const x = f64([NaN, Infinity, -Infinity, 0])
    const cases: ReadonlyArray<readonly [string, (x: T) => T, number[], number[]]> = [
      ["exp", Tensor.exp, [NaN, Infinity, 0, 1], [NaN, Infinity, 0, 1]],
      ["log", Tensor.log, [NaN, Infinity, NaN, -Infinity], [NaN, 0, -0, Infinity]],
      ["sqrt", Tensor.sqrt, [NaN, Infinity, NaN, 0], [NaN, 0, NaN, Infinity]],
      ["tanh", Tensor.tanh, [NaN, 1, -1, 0], [NaN, 0, 0, 1]]
    ]
    for (const [name, f, value, derivative] of cases) {
      expect(await dataOf(f(x)), name).toEqual(value)
      expect(await dataOf(await run(vectorGrad(f)(x))), `${name}'`).toEqual(derivative)
    }
  })

  it("a NaN or an infinity changes no other element's gradient (elementwise ops, random vectors)", async () => {
    const ops: ReadonlyArray<readonly [string, (x: T) => T]> = [
      ["square", Tensor.square],
      ["sin", Tensor.sin],
      ["tanh", Tensor.tanh],
      ["exp", Tensor.exp],
      ["sigmoid", Tensor.sigmoid],
      ["x·x + 3x", (x) => Tensor.add(Tensor.mul(x, x), Tensor.mul(x, 3))],
      ["abs", Tensor.abs]
    ]
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.constantFrom(...special),
        fc.constantFrom(...ops),
        async (xs, at, s, [name, f]) => {
          const i = at % xs.length
          const clean = await dataOf(await run(vectorGrad(f)(f64(xs))))
          const dirty = xs.slice()
          dirty[i] = s
          const g = await dataOf(await run(vectorGrad(f)(f64(dirty))))
          const alone = await dataOf(await run(vectorGrad(f)(f64([s]))))
          for (let j = 0; j < xs.length; j++) expect(g[j], `${name} at ${j}`).toBe(j === i ? alone[0] : clean[j])
        }
      ),
      { seed: 7, numRuns: 60 }
    )
  })

  it("a reduction spreads a NaN to what depends on it, and no further", async () => {
    // max over axis 1: the NaN row's gradient is NaN, the other row's is the usual one-hot
    const m = f64([[1, NaN, 3], [4, 6, 5]])
    const g = await dataOf(await run(grad((x: T) => Tensor.sum(Tensor.max(x, { axis: 1 })))(m)))
    expect(g.slice(0, 3).every(Number.isNaN)).toBe(true)
    expect(g.slice(3)).toEqual([0, 1, 0])
    // a sum's gradient is 1 everywhere, whatever the values
    expect(await dataOf(await run(grad((x: T) => Tensor.sum(x))(f64([NaN, Infinity, 1]))))).toEqual([1, 1, 1])
    // matmul: a NaN in row 0 of a reaches row 0 of the output only, so ∂/∂b sees it in every entry
    const a = f64([[NaN, 1], [2, 3]])
    const gb = await dataOf(await run(grad((b: T) => Tensor.sum(Tensor.matmul(a, b)))(f64([[1, 2], [3, 4]]))))
    expect(gb.slice(0, 2).every(Number.isNaN)).toBe(true)
    expect(gb.slice(2)).toEqual([4, 4])
    const ga = await dataOf(await run(grad((x: T) => Tensor.sum(Tensor.matmul(x, f64([[1, 2], [3, 4]]))))(a)))
    expect(ga).toEqual([3, 7, 3, 7])
  })

  it("the where trap (as JAX): 0 · ∞ in the untaken branch is NaN; a safe inner where avoids it", async () => {
    const x = f64([-1, 0, 4])
    const trap = (v: T) => Tensor.sum(Tensor.where(Tensor.greater(v, 0), Tensor.sqrt(v), 0))
    const g = await dataOf(await run(grad(trap)(x)))
    expect(g[0]).toBeNaN()
    expect(g[1]).toBeNaN()
    expect(g[2]).toBe(0.25)
    const safe = (v: T) => {
      const pos = Tensor.greater(v, 0)
      return Tensor.sum(Tensor.where(pos, Tensor.sqrt(Tensor.where(pos, v, 1)), 0))
    }
    expect(await dataOf(await run(grad(safe)(x)))).toEqual([0, 0, 0.25])
  })

  it("maximum with a NaN operand is NaN with a zero gradient for both operands (as JAX)", async () => {
    const [ga, gb] = (await run(grad((a: T, b: T) => Tensor.sum(Tensor.maximum(a, b)), { argnums: [0, 1] })(f64([NaN, 1]), f64([0, NaN])))) as [T, T]
    expect(await dataOf(Tensor.maximum(f64([NaN, 1]), f64([0, NaN])))).toEqual([NaN, NaN])
    expect(await dataOf(ga)).toEqual([0, 0])
    expect(await dataOf(gb)).toEqual([0, 0])
  })
})
