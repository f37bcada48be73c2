/**
 * The worked example: f(x) = sum(tanh(W x + b)), with W and b TrainVars and
 * a call counter Variable incremented inside f. Checked in float64 against
 * hand-derived formulas: with z = W x + b, t = tanh(z), s = 1 - t²,
 *   value = Σ t_i,  ∂W = s xᵀ,  ∂b = s,  ∂x = Wᵀ s,
 *   ∂²/∂x² = Wᵀ diag(-2 t ∘ s) W,  ∂²/∂b² = diag(-2 t ∘ s).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor, TrainVar, Variable } from "@diffect/core"
import { grad, hessian, valueAndGrad } from "@diffect/transforms"
import { expectTree, f64, isSettled, now, run, structure } from "./helpers.js"

const W0 = [[0.5, -1.2], [0.3, 0.8], [-0.7, 0.1]]
const b0 = [0.1, -0.2, 0.05]
const x0 = [0.9, -0.4]

/** The reference, by hand, in float64. */
const reference = (W: number[][], b: number[], x: number[]) => {
  const z = W.map((row, i) => row[0]! * x[0]! + row[1]! * x[1]! + b[i]!)
  const t = z.map(Math.tanh)
  const s = t.map((ti) => 1 - ti * ti)
  const d2 = t.map((ti, i) => -2 * ti * s[i]!)
  return {
    value: t.reduce((a, c) => a + c, 0),
    dW: s.map((si) => x.map((xk) => si * xk)),
    db: s,
    dx: x.map((_, k) => W.reduce((a, row, i) => a + row[k]! * s[i]!, 0)),
    Hx: x.map((_, k) => x.map((_, l) => W.reduce((a, row, i) => a + row[k]! * d2[i]! * row[l]!, 0))),
    Hb: b.map((_, i) => b.map((_, j) => (i === j ? d2[i]! : 0)))
  }
}

const setup = Effect.gen(function* () {
  const W = yield* TrainVar.make(f64(W0), { name: "W" })
  const b = yield* TrainVar.make(f64(b0), { name: "b" })
  const calls = yield* Variable.make(Tensor.make(0, { dtype: "int32" }), { name: "calls" })
  const f = (x: Tensor.Tensor) =>
    Effect.gen(function* () {
      yield* Variable.update(calls, (c) => Tensor.add(c, 1))
      return Tensor.sum(Tensor.tanh(Tensor.add(Tensor.matmul(yield* Variable.get(W), x), yield* Variable.get(b))))
    })
  return { W, b, calls, f }
})

describe("f(x) = sum(tanh(W x + b)) counting its calls", () => {
  const r = reference(W0, b0, x0)

  it("grad with gradVars, argnums and returnValue: var grads, arg grads, value, and the count", async () => {
    const { W, b, calls, f } = await run(setup)
    const res = await run(grad(f, { gradVars: { W, b }, argnums: 0, returnValue: true })(f64(x0)))
    expect(structure(res)).toEqual([[{ W: "T[3,2]", b: "T[3]" }, "T[2]"], "T[]"])
    await expectTree(res, [[{ W: r.dW, b: r.db }, r.dx], r.value], 1e-14)
    expect(await now(calls)).toBe(1)
    expect(isSettled(calls.current)).toBe(true)
    // the parameters were only read
    expect(await now(W)).toEqual(W0)
    expect(await now(b)).toEqual(b0)
  })

  it("valueAndGrad, grad of the arg only, and grad with hasAux: one count per call", async () => {
    const { W, b, calls, f } = await run(setup)
    const [v, [gv, gx]] = (await run(valueAndGrad(f, { gradVars: [W, b], argnums: 0 })(f64(x0)))) as unknown as [Tensor.Tensor, [Tensor.Tensor[], Tensor.Tensor]]
    await expectTree([v, gv, gx], [r.value, [r.dW, r.db], r.dx], 1e-14)
    await expectTree(await run(grad(f)(f64(x0))), r.dx, 1e-14)
    const withAux = (x: Tensor.Tensor) => Effect.map(f(x), (out) => [out, Tensor.mul(out, 2)] as const)
    const [gW, aux] = (await run(grad(withAux, { gradVars: W, hasAux: true })(f64(x0)))) as unknown as [Tensor.Tensor, Tensor.Tensor]
    await expectTree([gW, aux], [r.dW, 2 * r.value], 1e-14)
    expect(await now(calls)).toBe(3)
  })

  it("a training step: update the TrainVars with the gradients, then the value decreases", async () => {
    const { W, b, calls, f } = await run(setup)
    const step = Effect.gen(function* () {
      const [value, g] = (yield* valueAndGrad(f, { gradVars: { W, b } })(f64(x0))) as unknown as [Tensor.Tensor, { W: Tensor.Tensor; b: Tensor.Tensor }]
      yield* Variable.update(W, (w) => Tensor.sub(w, Tensor.mul(g.W, 0.1)))
      yield* Variable.update(b, (bb) => Tensor.sub(bb, Tensor.mul(g.b, 0.1)))
      return yield* Tensor.item(value)
    })
    const v1 = await run(step)
    const v2 = await run(step)
    expect(v1).toBeCloseTo(r.value, 14)
    const W1 = W0.map((row, i) => row.map((w, k) => w - 0.1 * r.dW[i]![k]!))
    const b1 = b0.map((bi, i) => bi - 0.1 * r.db[i]!)
    expect(v2).toBeCloseTo(reference(W1, b1, x0).value, 14)
    expect(v2).toBeLessThan(v1)
    expect(await now(calls)).toBe(2)
  })

  it("hessian in x and in b (gradVars): one count per call", async () => {
    const { b, calls, f } = await run(setup)
    await expectTree(await run(hessian(f)(f64(x0))), r.Hx, 1e-13)
    await expectTree(await run(hessian(f, { gradVars: b })(f64(x0))), r.Hb, 1e-13)
    expect(await now(calls)).toBe(2)
  })
})
