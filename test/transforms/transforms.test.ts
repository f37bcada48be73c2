/**
 * jvp, vjp and the grad family (grad, valueAndGrad, vectorGrad,
 * jacrev/jacobian, jacfwd, hessian): values, return structures of
 * SPEC.md's table (argnums number/array, hasAux, returnValue), the curried
 * form, plain and Effect returns, pytree arguments and outputs (jacobians
 * out(in) as JAX), and number arguments.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacobian, jacrev, jvp, stopGradient, valueAndGrad, vectorGrad, vjp } from "@diffect/transforms"
import { expectClose, expectSameTree, f64, flat, run, type T } from "./helpers.js"

const x = f64([0.5, -1, 2])
const y = f64([[1, 2], [3, 4]])
const sumSq = (a: T) => Tensor.sum(Tensor.mul(a, a))
// f(a, b) = Σ sin(a) · Σ b² : ∂a = cos(a) Σ b², ∂b = 2b Σ sin(a)
const fab = (a: T, b: T) => Tensor.mul(Tensor.sum(Tensor.sin(a)), sumSq(b))
const sinSum = Math.sin(0.5) + Math.sin(-1) + Math.sin(2)
const ga = [0.5, -1, 2].map((v) => Math.cos(v) * 30)
const gb = [2, 4, 6, 8].map((v) => v * sinSum)

describe("jvp", () => {
  it("gives [f(x), J·t] for one and several arguments", async () => {
    const [out, tan] = await run(jvp(Tensor.sin, [x], [f64([1, 2, 3])]))
    await expectClose(out, [0.5, -1, 2].map(Math.sin))
    await expectClose(tan, [0.5, -1, 2].map((v, i) => Math.cos(v) * (i + 1)))
    const [o2, t2] = await run(jvp(fab, [x, y], [Tensor.onesLike(x), Tensor.zerosLike(y)]))
    await expectClose(o2, sinSum * 30)
    await expectClose(t2, ga.reduce((s, v) => s + v, 0))
  })

  it("takes pytree primals (records and arrays) and gives pytree outputs", async () => {
    const f = (p: { w: T; b: ReadonlyArray<T> }) => ({ y: Tensor.mul(p.w, p.b[0]!), s: [Tensor.sum(p.w)] })
    const p = { w: f64([1, 2]), b: [f64([3, 4])] }
    const t = { w: f64([1, 0]), b: [f64([0, 1])] }
    const [out, tan] = await run(jvp(f, [p], [t]))
    await expectClose(out.y, [3, 8])
    await expectClose(out.s[0]!, 3)
    await expectClose(tan.y, [3, 2]) // w'·b + w·b'
    await expectClose(tan.s[0]!, 1)
  })

  it("accepts f returning an Effect or a plain value", async () => {
    const [, a] = await run(jvp((v: T) => Effect.succeed(Tensor.exp(v)), [x], [Tensor.onesLike(x)]))
    const [, b] = await run(jvp(Tensor.exp, [x], [Tensor.onesLike(x)]))
    await expectClose(a, await flat(b))
    await expectClose(a, [0.5, -1, 2].map(Math.exp))
  })
})

describe("vjp", () => {
  it("gives [f(x), pullback]; the pullback can be called twice and is linear", async () => {
    const [out, pullback] = await run(vjp(fab, x, y))
    await expectClose(out, sinSum * 30)
    const [g1a, g1b] = await run(pullback(f64(1)))
    const [g2a, g2b] = await run(pullback(f64(-2.5)))
    await expectClose(g1a, ga)
    await expectClose(g1b, gb, undefined, "", [2, 2])
    await expectClose(g2a, ga.map((v) => -2.5 * v))
    await expectClose(g2b, gb.map((v) => -2.5 * v))
    // once more with the first cotangent: the same as the first call
    const [g3a] = await run(pullback(f64(1)))
    await expectClose(g3a, ga)
  })

  it("pulls back pytree outputs to pytree primals", async () => {
    const f = (p: { w: T; b: T }, v: ReadonlyArray<T>) => [Tensor.mul(p.w, v[0]!), { s: Tensor.sum(p.b) }] as const
    const p = { w: f64([1, 2]), b: f64([3, 4, 5]) }
    const [, pullback] = await run(vjp(f, p, [f64([6, 7])]))
    const [gp, gv] = await run(pullback([f64([1, 10]), { s: f64(2) }]))
    await expectClose(gp.w, [6, 70])
    await expectClose(gp.b, [2, 2, 2])
    await expectClose(gv[0]!, [1, 20])
  })

  it("agrees with jvp: ⟨u, J v⟩ = ⟨Jᵀ u, v⟩", async () => {
    const f = (a: T) => Tensor.tanh(Tensor.matmul(y, Tensor.slice(a, [0], [2])))
    const v = f64([0.3, -0.2, 0.9]), u = f64([1.5, -0.5])
    const [, jv] = await run(jvp(f, [x], [v]))
    const [, pullback] = await run(vjp(f, x))
    const [jtu] = await run(pullback(u))
    const dot = async (a: T, b: T) => (await flat(Tensor.sum(Tensor.mul(a, b))))[0]!
    expect(Math.abs((await dot(u, jv)) - (await dot(jtu, v)))).toBeLessThan(1e-14)
  })
})

describe("grad, valueAndGrad, vectorGrad", () => {
  it("grad: argnums default 0, a number, an array", async () => {
    await expectClose(await run(grad(fab)(x, y)), ga)
    await expectClose(await run(grad(fab, { argnums: 1 })(x, y)), gb, undefined, "", [2, 2])
    const [da, db] = await run(grad(fab, { argnums: [0, 1] })(x, y))
    await expectClose(da, ga)
    await expectClose(db, gb)
    const [only] = await run(grad(fab, { argnums: [1] })(x, y))
    await expectClose(only, gb)
    const [rb, ra] = await run(grad(fab, { argnums: [1, 0] })(x, y))
    await expectClose(ra, ga)
    await expectClose(rb, gb)
  })

  it("grad: hasAux and returnValue give [g, aux], [g, value], [g, value, aux]", async () => {
    const f = (a: T) => [sumSq(a), { n: Tensor.mean(a) }] as const
    const [g1, aux1] = await run(grad(f, { hasAux: true })(x))
    await expectClose(g1, [1, -2, 4])
    await expectClose(aux1.n, 0.5)
    const [g2, v2] = await run(grad(sumSq, { returnValue: true })(x))
    await expectClose(g2, [1, -2, 4])
    await expectClose(v2, 5.25)
    const [g3, v3, aux3] = await run(grad(f, { hasAux: true, returnValue: true })(x))
    await expectClose(g3, [1, -2, 4])
    await expectClose(v3, 5.25)
    await expectClose(aux3.n, 0.5)
    // explicit false flags are the defaults
    await expectClose(await run(grad(sumSq, { hasAux: false, returnValue: false })(x)), [1, -2, 4])
  })

  it("grad: the curried form grad(options)(f) is grad(f, options)", async () => {
    const [da, db] = await run(grad({ argnums: [0, 1] })(fab)(x, y))
    await expectClose(da, ga)
    await expectClose(db, gb)
    const [g, v] = await run(grad({ returnValue: true })(sumSq)(x))
    await expectClose(g, [1, -2, 4])
    await expectClose(v, 5.25)
    await expectClose(await run(vectorGrad({})(Tensor.sin)(x)), [0.5, -1, 2].map(Math.cos))
    const [val, gr] = await run(valueAndGrad({ argnums: 1 })(fab)(x, y))
    await expectClose(val, sinSum * 30)
    await expectClose(gr, gb)
    await expectClose(await run(jacrev({ argnums: 0 })(Tensor.sin)(x)), [[Math.cos(0.5), 0, 0], [0, Math.cos(-1), 0], [0, 0, Math.cos(2)]])
    await expectClose(await run(jacfwd({})(Tensor.sin)(x)), [[Math.cos(0.5), 0, 0], [0, Math.cos(-1), 0], [0, 0, Math.cos(2)]])
    await expectClose(await run(hessian({})(sumSq)(x)), [[2, 0, 0], [0, 2, 0], [0, 0, 2]])
  })

  it("f may return a plain value or an Effect, for every transform", async () => {
    const plain = (a: T) => Tensor.sum(Tensor.exp(a))
    const eff = (a: T) => Effect.succeed(Tensor.sum(Tensor.exp(a)))
    const ex = [0.5, -1, 2].map(Math.exp)
    for (const f of [plain, eff]) {
      await expectClose(await run(grad(f)(x)), ex)
      const [v, g] = await run(valueAndGrad(f)(x))
      await expectClose(v, ex.reduce((s, e) => s + e, 0))
      await expectClose(g, ex)
      await expectClose(await run(vectorGrad(f)(x)), ex)
      await expectClose(await run(jacrev(f)(x)), ex)
      await expectClose(await run(jacfwd(f)(x)), ex)
      await expectClose(await run(hessian(f)(x)), [[ex[0]!, 0, 0], [0, ex[1]!, 0], [0, 0, ex[2]!]])
      const [, t] = await run(jvp(f, [x], [Tensor.onesLike(x)]))
      await expectClose(t, ex.reduce((s, e) => s + e, 0))
      const [, pb] = await run(vjp(f, x))
      await expectClose((await run(pb(f64(1))))[0], ex)
    }
  })

  it("valueAndGrad gives [value, grads] (JAX order) and [[value, aux], grads] with hasAux", async () => {
    const [v, [da, db]] = await run(valueAndGrad(fab, { argnums: [0, 1] })(x, y))
    await expectClose(v, sinSum * 30)
    await expectClose(da, ga)
    await expectClose(db, gb)
    const [[v2, aux], g2] = await run(valueAndGrad((a: T) => [sumSq(a), Tensor.max(a)] as const, { hasAux: true })(x))
    await expectClose(v2, 5.25)
    await expectClose(aux, 2)
    await expectClose(g2, [1, -2, 4])
  })

  it("vectorGrad is the gradient of the sum of the outputs (pytree outputs too)", async () => {
    await expectClose(await run(vectorGrad(Tensor.tanh)(x)), [0.5, -1, 2].map((v) => 1 - Math.tanh(v) ** 2))
    const g = await run(vectorGrad((a: T) => [Tensor.mul(a, a), { s: Tensor.sum(a) }])(x))
    await expectClose(g, [2, -1, 5]) // 2a + 1
    const [dg, val] = await run(vectorGrad(Tensor.exp, { returnValue: true })(x))
    await expectClose(dg, [0.5, -1, 2].map(Math.exp))
    await expectClose(val, [0.5, -1, 2].map(Math.exp))
  })

  it("pytree arguments: arrays and records give gradients of the same structure", async () => {
    const f = (p: { w: T; bs: ReadonlyArray<T> }, v: ReadonlyArray<T>) => Tensor.sum(Tensor.mul(Tensor.add(Tensor.mul(p.w, v[0]!), p.bs[1]!), v[1]!))
    const p = { w: f64([1, 2]), bs: [f64([9]), f64([3, 4])] }
    const v = [f64([5, 6]), f64([7, 8])]
    const gp = await run(grad(f)(p, v))
    await expectSameTree(gp, { w: f64([35, 48]), bs: [f64([0]), f64([7, 8])] })
    const [gp2, gv] = await run(grad(f, { argnums: [0, 1] })(p, v))
    await expectSameTree(gp2, gp)
    await expectSameTree(gv, [f64([7, 16]), f64([8, 16])])
  })

  it("number arguments: differentiated ones become scalar tensors, others pass through as numbers", async () => {
    const f = (a: T | number, k: number) => Tensor.mul(Tensor.mul(a, a), k)
    const g = await run(grad(f)(3, 2))
    expect(g.dtype).toBe("float32")
    expect([...g.shape]).toEqual([])
    await expectClose(g, 12)
    let seen: unknown
    await run(grad((a: T, k: number) => ((seen = k), Tensor.mul(a, k)))(f64(1), 5))
    expect(seen).toBe(5)
    const [d0, d1] = await run(grad((a: T | number, b: T | number) => Tensor.mul(a, Tensor.exp(b)), { argnums: [0, 1] })(2, 0))
    await expectClose(d0, 1)
    await expectClose(d1, 2)
    const H = await run(hessian((a: T | number) => Tensor.pow(a, 3))(2))
    await expectClose(H, 12)
  })

  it("number arguments in every transform: float32 scalars", async () => {
    const sq = (a: T | number) => Tensor.mul(a, a)
    const check = async (t: T, v: number) => {
      expect(t.dtype).toBe("float32")
      expect([...t.shape]).toEqual([])
      await expectClose(t, v)
    }
    const [o, tan] = await run(jvp(sq, [3], [1]))
    await check(o, 9)
    await check(tan, 6)
    const [o2, pb] = await run(vjp(sq, 3))
    await check(o2, 9)
    await check((await run(pb(Tensor.onesLike(o2))))[0], 6)
    await check(await run(jacrev(sq)(3)), 6)
    await check(await run(jacfwd(sq)(3)), 6)
    await check(await run(vectorGrad(sq)(3)), 6)
    const [v, g] = await run(valueAndGrad(sq)(3))
    await check(v, 9)
    await check(g, 6)
  })
})

describe("jacrev, jacobian, jacfwd, hessian", () => {
  const A = f64([[1, 2, 0], [0, -1, 3]])
  const g = (a: T) => Tensor.tanh(Tensor.matmul(A, a))
  const jacG = async (): Promise<number[][]> => {
    const h = [1 * 0.5 + 2 * -1, -1 * -1 + 3 * 2].map((v) => 1 - Math.tanh(v) ** 2)
    return [[1, 2, 0].map((a) => a * h[0]!), [0, -1, 3].map((a) => a * h[1]!)]
  }

  it("jacrev = jacobian = jacfwd: blocks of shape [...out, ...in]", async () => {
    const want = await jacG()
    for (const J of [await run(jacrev(g)(x)), await run(jacobian(g)(x)), await run(jacfwd(g)(x))]) await expectClose(J, want, undefined, "", [2, 3])
    expect(jacobian).toBe(jacrev)
    // matrix in, matrix out: [2, 2, 2, 2]
    const J = await run(jacrev((m: T) => Tensor.matmul(m, m))(y))
    expect([...J.shape]).toEqual([2, 2, 2, 2])
    await expectClose(await run(jacfwd((m: T) => Tensor.matmul(m, m))(y)), await flat(J))
  })

  it("pytree outputs and argnums arrays: out(in), as JAX", async () => {
    const f = (a: T, b: T) => ({ s: Tensor.sum(Tensor.mul(a, a)), v: [Tensor.mul(a, Tensor.sum(b))] })
    for (const jac of [jacrev, jacfwd]) {
      const J = await run(jac(f, { argnums: [0, 1] })(x, y))
      expect(Object.keys(J).sort()).toEqual(["s", "v"])
      const [sa, sb] = J.s
      await expectClose(sa, [1, -2, 4], undefined, "ds/da", [3])
      await expectClose(sb, [0, 0, 0, 0], undefined, "ds/db", [2, 2])
      const [va, vb] = J.v[0]!
      await expectClose(va, [[10, 0, 0], [0, 10, 0], [0, 0, 10]], undefined, "dv/da", [3, 3])
      await expectClose(vb, [0.5, 0.5, 0.5, 0.5, -1, -1, -1, -1, 2, 2, 2, 2], undefined, "dv/db", [3, 2, 2])
      // argnums a number: the leaf is the block itself
      const J0 = await run(jac(f, { argnums: 0 })(x, y))
      await expectClose(J0.s, [1, -2, 4])
    }
  })

  it("pytree arguments: each output leaf holds the argument's structure", async () => {
    const f = (p: { w: T; b: T }) => Tensor.add(Tensor.mul(p.w, 2), Tensor.sum(p.b))
    const p = { w: f64([1, 2]), b: f64([3, 4, 5]) }
    for (const jac of [jacrev, jacfwd]) {
      const J = await run(jac(f)(p))
      await expectClose(J.w, [[2, 0], [0, 2]], undefined, "dw", [2, 2])
      await expectClose(J.b, [[1, 1, 1], [1, 1, 1]], undefined, "db", [2, 3])
    }
  })

  it("hasAux and returnValue: [J, aux], [J, value], [J, value, aux]", async () => {
    const f = (a: T) => [g(a), { k: Tensor.sum(a) }] as const
    const want = await jacG()
    for (const jac of [jacrev, jacfwd]) {
      const [J1, aux1] = await run(jac(f, { hasAux: true })(x))
      await expectClose(J1, want)
      await expectClose(aux1.k, 1.5)
      const [J2, v2] = await run(jac(g, { returnValue: true })(x))
      await expectClose(J2, want)
      await expectClose(v2, await flat(g(x)))
      const [J3, v3, aux3] = await run(jac(f, { hasAux: true, returnValue: true })(x))
      await expectClose(J3, want)
      await expectClose(v3, await flat(g(x)))
      await expectClose(aux3.k, 1.5)
    }
  })

  it("hessian: of one argument, of an argnums array (blocks), with hasAux", async () => {
    // f = Σ a² · Σ b: H_aa = 2 Σb I, H_ab = 2a 1ᵀ, H_bb = 0
    const f = (a: T, b: T) => Tensor.mul(sumSq(a), Tensor.sum(b))
    const b = f64([1, 2])
    await expectClose(await run(hessian(f)(x, b)), [[6, 0, 0], [0, 6, 0], [0, 0, 6]], undefined, "", [3, 3])
    const H = await run(hessian(f, { argnums: [0, 1] })(x, b))
    await expectClose(H[0][0], [[6, 0, 0], [0, 6, 0], [0, 0, 6]], undefined, "aa", [3, 3])
    await expectClose(H[0][1], [[1, 1], [-2, -2], [4, 4]], undefined, "ab", [3, 2])
    await expectClose(H[1][0], [[1, -2, 4], [1, -2, 4]], undefined, "ba", [2, 3])
    await expectClose(H[1][1], [[0, 0], [0, 0]], undefined, "bb", [2, 2])
    const [Ha, aux] = await run(hessian((a: T) => [sumSq(a), Tensor.sum(a)] as const, { hasAux: true })(x))
    await expectClose(Ha, [[2, 0, 0], [0, 2, 0], [0, 0, 2]])
    await expectClose(aux, 1.5)
  })

  it("jacobians with gradVars and argnums: [varJ, argJ]; hessian blocks", async () => {
    const program = Effect.gen(function* () {
      const w = yield* Variable.make(f64([1, -1, 2]))
      const f = (a: T) => Effect.map(Variable.get(w), (wv) => Tensor.sum(Tensor.mul(Tensor.mul(wv, a), a)))
      const [[gw, gx], value] = yield* grad(f, { gradVars: w, argnums: 0, returnValue: true })(x)
      const [jw, jx] = yield* jacfwd(f, { gradVars: [w], argnums: 0 })(x)
      const H = yield* hessian(f, { gradVars: { w }, argnums: [0] })(x)
      return { gw, gx, value, jw, jx, H }
    })
    const r = await run(program)
    await expectClose(r.gw, [0.25, 1, 4])
    await expectClose(r.gx, [1, 2, 8])
    await expectClose(r.value, 0.25 - 1 + 8)
    await expectClose(r.jw[0]!, [0.25, 1, 4])
    await expectClose(r.jx, [1, 2, 8])
    // the output of jacrev is [{ w }, [x]]; jacfwd puts the same structure at each of its leaves
    const H: [{ w: [{ w: T }, [T]] }, [[{ w: T }, [T]]]] = r.H
    const d = (v: number[]) => v.map((vi, i) => v.map((_, j) => (i === j ? vi : 0)))
    await expectClose(H[0].w[0].w, d([0, 0, 0]), undefined, "ww", [3, 3])
    await expectClose(H[0].w[1][0], d([1, -2, 4]), undefined, "wx", [3, 3]) // ∂²/∂w∂x = 2x
    await expectClose(H[1][0][0].w, d([1, -2, 4]), undefined, "xw", [3, 3])
    await expectClose(H[1][0][1][0], d([2, -2, 4]), undefined, "xx", [3, 3]) // 2w
  })
})

describe("stopGradient", () => {
  it("is the identity on values (pytrees too) with a zero derivative, in every mode and order", async () => {
    const tree = stopGradient({ a: x, b: [y] })
    await expectSameTree(tree, { a: x, b: [y] })
    const f = (a: T) => Tensor.sum(Tensor.mul(a, stopGradient(a)))
    await expectClose(await run(grad(f)(x)), [0.5, -1, 2]) // the stopped factor is a constant
    // the gradient is stopGradient(a), whose derivative is zero (as JAX)
    await expectClose(await run(hessian(f)(x)), [[0, 0, 0], [0, 0, 0], [0, 0, 0]])
    const [, t] = await run(jvp(stopGradient<T>, [x], [Tensor.onesLike(x)]))
    await expectClose(t, [0, 0, 0])
    await expectClose(await run(jacrev((a: T) => stopGradient(Tensor.sin(a)))(x)), [[0, 0, 0], [0, 0, 0], [0, 0, 0]])
    await expectClose(await run(grad(grad((a: T) => Tensor.mul(stopGradient(Tensor.mul(a, a)), a)))(f64(3))), 0)
  })
})
