/**
 * `gradVars` in grad, valueAndGrad, vectorGrad, jacrev, jacfwd and hessian:
 * one Variable, an array, a record (and a pytree-valued Variable), with
 * gradients mirroring the structure; every Variable f reads is captured and
 * those not in gradVars are constants; a variable read several times or
 * after a write is differentiated w.r.t. its value at entry; an entry that
 * is never read gets zeros of its shape; a non-Variable entry fails with
 * `GradVarsError`.
 *
 * Model: y = W x + b, L = sum(y²), float64 throughout. By hand:
 *   dL/dW = 2 y xᵀ, dL/db = 2 y, dL/dx = 2 Wᵀ y,
 *   ∂y_i/∂W_jk = δ_ij x_k, ∂y_i/∂b_j = δ_ij,
 *   ∂²L/∂b∂b = 2 I, ∂²L/∂W_ij∂W_lm = 2 δ_il x_j x_m, ∂²L/∂b_i∂W_lm = 2 δ_il x_m.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { DTypeError, GradVarsError, Tensor, TrainVar, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, jvp, valueAndGrad, vectorGrad, vjp, vmap } from "@diffect/transforms"
import { expectTree, f64, failureOf, now, run, structure } from "./helpers.js"

const W0 = [[1, 2], [3, 4]]
const b0 = [0.5, -1]
const x0 = [1, 2]
const yOf = (W: number[][], b: number[], x: number[]) => W.map((row, i) => row.reduce((s, w, k) => s + w * x[k]!, 0) + b[i]!)
const y0 = yOf(W0, b0, x0) // [5.5, 10]
const L0 = y0.reduce((s, y) => s + y * y, 0)
const dW0 = y0.map((y) => x0.map((x) => 2 * y * x))
const db0 = y0.map((y) => 2 * y)
const dx0 = x0.map((_, k) => W0.reduce((s, row, i) => s + 2 * row[k]! * y0[i]!, 0))

const setup = Effect.gen(function* () {
  const W = yield* TrainVar.make(f64(W0), { name: "W" })
  const b = yield* TrainVar.make(f64(b0), { name: "b" })
  const y = (x: Tensor.Tensor) => Effect.gen(function* () {
    return Tensor.add(Tensor.matmul(yield* Variable.get(W), x), yield* Variable.get(b))
  })
  const loss = (x: Tensor.Tensor) => Effect.map(y(x), (v) => Tensor.sum(Tensor.square(v)))
  return { W, b, y, loss }
})
const x = () => f64(x0)

describe("grad with gradVars", () => {
  it("one Variable: a tensor of its shape; the other variable read is a constant", async () => {
    const { W, loss } = await run(setup)
    const g = await run(grad(loss, { gradVars: W })(x()))
    expect(structure(g)).toBe("T[2,2]")
    await expectTree(g, dW0)
  })

  it("an array of Variables: an array of the same length and order", async () => {
    const { W, b, loss } = await run(setup)
    const g = await run(grad(loss, { gradVars: [b, W] })(x()))
    expect(structure(g)).toEqual(["T[2]", "T[2,2]"])
    await expectTree(g, [db0, dW0])
    const one = await run(grad(loss, { gradVars: [W] })(x()))
    expect(structure(one)).toEqual(["T[2,2]"])
  })

  it("a record of Variables: a record with the same keys", async () => {
    const { W, b, loss } = await run(setup)
    const g = await run(grad(loss, { gradVars: { weight: W, bias: b } })(x()))
    expect(structure(g)).toEqual({ weight: "T[2,2]", bias: "T[2]" })
    await expectTree(g, { weight: dW0, bias: db0 })
  })

  it("a pytree-valued Variable: the gradient has the value's structure", async () => {
    const P = await run(Variable.make({ W: f64(W0), b: [f64(b0)] }, { name: "P" }))
    const loss = (xx: Tensor.Tensor) =>
      Effect.map(Variable.get(P), (p) => Tensor.sum(Tensor.square(Tensor.add(Tensor.matmul(p.W, xx), p.b[0]!))))
    const g = await run(grad(loss, { gradVars: P })(x()))
    expect(structure(g)).toEqual({ W: "T[2,2]", b: ["T[2]"] })
    await expectTree(g, { W: dW0, b: [db0] })
    const g2 = await run(grad(loss, { gradVars: { p: P } })(x()))
    expect(structure(g2)).toEqual({ p: { W: "T[2,2]", b: ["T[2]"] } })
    await expectTree(g2, { p: { W: dW0, b: [db0] } })
  })

  it("the same variable read several times: the contributions add up", async () => {
    const { W, b } = await run(setup)
    // L = sum(W x) + sum(W ∘ W) + sum(b): dL/dW = 1 xᵀ + 2 W
    const f = (xx: Tensor.Tensor) =>
      Effect.gen(function* () {
        const a = Tensor.sum(Tensor.matmul(yield* Variable.get(W), xx))
        const c = Tensor.sum(Tensor.mul(yield* Variable.get(W), yield* Variable.get(W)))
        return Tensor.add(Tensor.add(a, c), Tensor.sum(yield* Variable.get(b)))
      })
    const g = await run(grad(f, { gradVars: W })(x()))
    await expectTree(g, W0.map((row) => row.map((w, k) => x0[k]! + 2 * w)))
  })

  it("read after a write: differentiated w.r.t. the value at entry, through the write", async () => {
    const { W } = await run(setup)
    // w = W; W := 3w; L = sum(w ∘ W) = 3 sum(w²): dL/dW = 6 W
    const f = () =>
      Effect.gen(function* () {
        const w = yield* Variable.get(W)
        yield* Variable.set(W, Tensor.mul(w, 3))
        const w2 = yield* Variable.get(W)
        return Tensor.sum(Tensor.mul(w, w2))
      })
    const g = await run(grad(f, { gradVars: W, argnums: [] })())
    await expectTree(g, [W0.map((r) => r.map((w) => 6 * w)), []])
    expect(await now(W)).toEqual(W0.map((r) => r.map((w) => 3 * w)))
  })

  it("written before it is read (entry value unused): a zero gradient of its shape, and the write is committed", async () => {
    const { W, b } = await run(setup)
    const f = (xx: Tensor.Tensor) =>
      Effect.gen(function* () {
        yield* Variable.set(b, Tensor.mul(xx, 2))
        const bb = yield* Variable.get(b)
        return Tensor.sum(Tensor.mul(bb, bb))
      })
    const [gb, gx] = (await run(grad(f, { gradVars: b, argnums: 0 })(x()))) as unknown as [Tensor.Tensor, Tensor.Tensor]
    expect(structure([gb, gx])).toEqual(["T[2]", "T[2]"])
    await expectTree([gb, gx], [[0, 0], x0.map((v) => 8 * v)])
    expect(await now(b)).toEqual(x0.map((v) => 2 * v))
    // and when it is only written, never read
    const g = await run(grad((xx: Tensor.Tensor) => Effect.as(Variable.set(W, f64([[0, 0], [0, 0]])), Tensor.sum(xx)), { gradVars: [W, b] })(x()))
    await expectTree(g, [[[0, 0], [0, 0]], [0, 0]])
    expect(await now(W)).toEqual([[0, 0], [0, 0]])
  })

  it("an entry never read gets zeros of its shape and dtype (pytree values too)", async () => {
    const { W, b } = await run(setup)
    const unused = await run(Variable.make({ a: Tensor.ones([3]), c: [Tensor.ones([1, 2])] }))
    const f = (xx: Tensor.Tensor) => Effect.map(Variable.get(b), (bb) => Tensor.sum(Tensor.mul(bb, xx)))
    const g = (await run(grad(f, { gradVars: { W, b, unused } })(x()))) as unknown as { W: Tensor.Tensor; b: Tensor.Tensor; unused: { a: Tensor.Tensor; c: Tensor.Tensor[] } }
    expect(structure(g)).toEqual({ W: "T[2,2]", b: "T[2]", unused: { a: "T[3]", c: ["T[1,2]"] } })
    expect(g.W.dtype).toBe("float64")
    expect(g.unused.a.dtype).toBe("float32")
    await expectTree(g, { W: [[0, 0], [0, 0]], b: x0, unused: { a: [0, 0, 0], c: [[[0, 0]]] } })
  })

  it("variables that are not in gradVars are constants (read, not differentiated)", async () => {
    const { W, b, loss } = await run(setup)
    // only argnums: W and b are read as constants
    const gx = await run(grad(loss)(x()))
    await expectTree(gx, dx0)
    const [[gW], gx2] = (await run(grad(loss, { gradVars: [W], argnums: 0 })(x()))) as unknown as [[Tensor.Tensor], Tensor.Tensor]
    await expectTree([gW, gx2], [dW0, dx0])
    expect(await now(b)).toEqual(b0)
  })

  it("an integer variable needs allowInt, then gets zeros", async () => {
    const c = await run(Variable.make(Tensor.make([1, 2], { dtype: "int32" }), { name: "count" }))
    const f = (xx: Tensor.Tensor) => Effect.map(Variable.get(c), (k) => Tensor.sum(Tensor.mul(xx, k)))
    const e = await failureOf(grad(f, { gradVars: c })(x()))
    expect(e).toBeInstanceOf(DTypeError)
    expect((e as DTypeError).message).toContain("int32")
    const g = await run(grad(f, { gradVars: c, allowInt: true })(x()))
    expect(structure(g)).toBe("T[2]")
    await expectTree(g, [0, 0])
  })
})

describe("gradVars in valueAndGrad and vectorGrad", () => {
  it("valueAndGrad: [value, varGrads] for one, an array and a record", async () => {
    const { W, b, loss } = await run(setup)
    const [v1, g1] = await run(valueAndGrad(loss, { gradVars: W })(x()))
    await expectTree([v1, g1], [L0, dW0])
    const r2 = await run(valueAndGrad(loss, { gradVars: [W, b] })(x()))
    expect(structure(r2)).toEqual(["T[]", ["T[2,2]", "T[2]"]])
    await expectTree(r2, [L0, [dW0, db0]])
    const r3 = await run(valueAndGrad(loss, { gradVars: { W, b }, argnums: 0 })(x()))
    expect(structure(r3)).toEqual(["T[]", [{ W: "T[2,2]", b: "T[2]" }, "T[2]"]])
    await expectTree(r3, [L0, [{ W: dW0, b: db0 }, dx0]])
  })

  it("vectorGrad: the gradient of sum(y), mirroring gradVars", async () => {
    const { W, b, y } = await run(setup)
    // d sum(y)/dW_jk = x_k, d sum(y)/db = 1
    const g = await run(vectorGrad(y, { gradVars: { W, b } })(x()))
    expect(structure(g)).toEqual({ W: "T[2,2]", b: "T[2]" })
    await expectTree(g, { W: [x0, x0], b: [1, 1] })
    const g2 = await run(vectorGrad(y, { gradVars: [b] })(x()))
    await expectTree(g2, [[1, 1]])
  })
})

describe("gradVars in jacrev, jacfwd and hessian", () => {
  const dydW = [0, 1].map((i) => [0, 1].map((j) => x0.map((xk) => (i === j ? xk : 0))))
  const dydb = [[1, 0], [0, 1]]

  for (const [name, jac] of [["jacrev", jacrev], ["jacfwd", jacfwd]] as const) {
    it(`${name}: blocks [...out, ...var] mirroring one, an array and a record`, async () => {
      const { W, b, y } = await run(setup)
      const j1 = await run(jac(y, { gradVars: W })(x()))
      expect(structure(j1)).toBe("T[2,2,2]")
      await expectTree(j1, dydW)
      const j2 = await run(jac(y, { gradVars: [W, b] })(x()))
      expect(structure(j2)).toEqual(["T[2,2,2]", "T[2,2]"])
      await expectTree(j2, [dydW, dydb])
      const j3 = await run(jac(y, { gradVars: { weight: W, bias: b } })(x()))
      expect(structure(j3)).toEqual({ weight: "T[2,2,2]", bias: "T[2,2]" })
      await expectTree(j3, { weight: dydW, bias: dydb })
    })

    it(`${name}: an unread entry gets zero blocks; non-gradVars are constants`, async () => {
      const { W, b } = await run(setup)
      const z = await run(Variable.make(f64([7, 8, 9])))
      const f = (xx: Tensor.Tensor) => Effect.map(Variable.get(W), (w) => Tensor.matmul(w, xx))
      const j = await run(jac(f, { gradVars: [b, z] })(x()))
      expect(structure(j)).toEqual(["T[2,2]", "T[2,3]"])
      await expectTree(j, [[[0, 0], [0, 0]], [[0, 0, 0], [0, 0, 0]]])
    })
  }

  it("hessian w.r.t. one variable, an array and a record", async () => {
    const { W, b, loss } = await run(setup)
    const Hb = await run(hessian(loss, { gradVars: b })(x()))
    expect(structure(Hb)).toBe("T[2,2]")
    await expectTree(Hb, [[2, 0], [0, 2]])
    const HWref = [0, 1].map((i) => [0, 1].map((j) => [0, 1].map((l) => [0, 1].map((m) => (i === l ? 2 * x0[j]! * x0[m]! : 0)))))
    const HbWref = [0, 1].map((i) => [0, 1].map((l) => [0, 1].map((m) => (i === l ? 2 * x0[m]! : 0))))
    const HWbref = [0, 1].map((l) => [0, 1].map((m) => [0, 1].map((i) => (i === l ? 2 * x0[m]! : 0))))
    const H = await run(hessian(loss, { gradVars: [W, b] })(x()))
    expect(structure(H)).toEqual([["T[2,2,2,2]", "T[2,2,2]"], ["T[2,2,2]", "T[2,2]"]])
    await expectTree(H, [[HWref, HWbref], [HbWref, [[2, 0], [0, 2]]]])
    const Hr = await run(hessian(loss, { gradVars: { b } })(x()))
    expect(structure(Hr)).toEqual({ b: { b: "T[2,2]" } })
    await expectTree(Hr, { b: { b: [[2, 0], [0, 2]] } })
  })
})

describe("the same Variable listed twice in gradVars", () => {
  it("each entry gets the full derivative, in every transform (jacfwd and hessian included)", async () => {
    const { b, y, loss } = await run(setup)
    const dydb = [[1, 0], [0, 1]]
    await expectTree(await run(grad(loss, { gradVars: [b, b] })(x())), [db0, db0])
    await expectTree(await run(vectorGrad(y, { gradVars: { p: b, q: b } })(x())), { p: [1, 1], q: [1, 1] })
    await expectTree(await run(jacrev(y, { gradVars: [b, b] })(x())), [dydb, dydb])
    await expectTree(await run(jacfwd(y, { gradVars: [b, b] })(x())), [dydb, dydb])
    const H = [[2, 0], [0, 2]]
    await expectTree(await run(hessian(loss, { gradVars: [b, b] })(x())), [[H, H], [H, H]])
  })
})

describe("a gradVars entry that is not a Variable", () => {
  const transforms = { grad, valueAndGrad, vectorGrad, jacrev, jacfwd, hessian } as const
  for (const [name, t] of Object.entries(transforms)) {
    it(`${name}: GradVarsError for a non-Variable, an array element and a record entry`, async () => {
      const { W, loss } = await run(setup)
      const T = t as unknown as (f: unknown, o: unknown) => (...a: unknown[]) => Effect.Effect<unknown, unknown>
      for (const [gv, fragment] of [
        [f64([1]), "gradVars must be a Variable"],
        [[W, f64([1])], "gradVars[1] is not a Variable"],
        [{ W, bad: "oops" }, "gradVars.bad is not a Variable"],
        [42, "number 42"]
      ] as const) {
        const e = await failureOf(T(loss, { gradVars: gv })(x()))
        expect(e).toBeInstanceOf(GradVarsError)
        expect((e as GradVarsError)._tag).toBe("GradVarsError")
        expect((e as GradVarsError).message).toContain(fragment)
      }
    })
  }
})

describe("gradVars across vmap, jvp and vjp", () => {
  const X = [[1, 1], [2, 3]]
  const make = Effect.gen(function* () {
    const w = yield* Variable.make(f64([1, 2]), { name: "w" })
    const calls = yield* Variable.make(Tensor.make(0, { dtype: "int32" }), { name: "calls" })
    // L(x) = sum(w² ∘ x): ∂w = 2 w ∘ x
    const loss = (xx: Tensor.Tensor) =>
      Effect.gen(function* () {
        yield* Variable.update(calls, (c) => Tensor.add(c, 1))
        return Tensor.sum(Tensor.mul(Tensor.square(yield* Variable.get(w)), xx))
      })
    return { w, calls, loss }
  })

  it("per-example gradients: vmap of grad with gradVars", async () => {
    const { w, calls, loss } = await run(make)
    const g = await run(vmap((xx: Tensor.Tensor) => grad(loss, { gradVars: w })(xx))(f64(X)))
    await expectTree(g, X.map((row) => row.map((xk, k) => 2 * [1, 2][k]! * xk)))
    expect(await now(calls)).toBe(1) // the mapped function runs once, batched
  })

  it("grad with gradVars of a function that calls vmap, jvp or vjp reading the variable", async () => {
    const { w, calls, loss } = await run(make)
    const viaVmap = await run(grad(() => Effect.map(vmap(loss)(f64(X)), Tensor.sum), { gradVars: w, argnums: [] })())
    await expectTree(viaVmap, [[2 * 1 * 3, 2 * 2 * 4], []])
    // jvp along ones: sum(w²); its gradient 2 w
    const viaJvp = await run(grad((xx: Tensor.Tensor) => Effect.map(jvp(loss, [xx], [Tensor.onesLike(xx)]), ([, t]) => t), { gradVars: w })(f64([1, 1])))
    await expectTree(viaJvp, [2, 4])
    // the pullback of 1 is w²; the gradient of its sum is 2 w
    const viaVjp = await run(
      grad(
        (xx: Tensor.Tensor) => Effect.flatMap(vjp(loss, xx), ([, pb]) => Effect.map(pb(f64(1)), ([gx]) => Tensor.sum(gx as Tensor.Tensor))),
        { gradVars: w }
      )(f64([1, 1]))
    )
    await expectTree(viaVjp, [2, 4])
    expect(await now(calls)).toBe(3)
  })
})
