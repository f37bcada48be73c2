/**
 * Control flow: scan, fori, whileLoop, cond and checkpoint. Values against
 * the same computation unrolled in JavaScript; derivatives with checkGrads
 * (order 2, both modes) and against the unrolled gradients; every
 * transform composed with them (vmap of grad of scan, scan in scan, jit
 * both ways, hessian); state in bodies; bad input; and the memory that
 * reverse mode keeps, with and without checkpoint.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Backend, type BackendShape, Linalg, Tensor, Variable } from "@diffect/core"
import { checkpoint, cond, fori, grad, hessian, jacfwd, jit, jvp, scan, valueAndGrad, vjp, vmap, whileLoop } from "@diffect/transforms"
import { arbitraries, checkGrads } from "@diffect/transforms/testing"
import { expectClose, expectFailure, expectSame, expectSameTree, f64, flat, run, type T } from "./helpers.js"

const A = arbitraries

/** One Euler step of the rate network x ← x + dt·(tanh(W x) − x). */
const rate = (W: T, x: T, dt = 0.1): T => Tensor.add(x, Tensor.mul(dt, Tensor.sub(Tensor.tanh(Tensor.matmul(W, x)), x)))

const unrolledLoss = (W: T, x0: T, steps: number): T => {
  let x = x0
  for (let t = 0; t < steps; t++) x = rate(W, x)
  return Tensor.mean(Tensor.square(x))
}

const scanLoss = (W: T, x0: T, steps: number, ck = false) => {
  const body = (x: T) => [rate(W, x), null] as const
  return Effect.map(scan(ck ? checkpoint(body) : body, x0, null, { length: steps }), ([x]) => Tensor.mean(Tensor.square(x)))
}

const matrix = (n: number, seed: number, scale = 0.4): T => {
  const data: number[][] = []
  let s = seed
  for (let i = 0; i < n; i++) {
    data.push([])
    for (let j = 0; j < n; j++) {
      s = (s * 16807) % 2147483647
      data[i]!.push(scale * ((s / 2147483647) * 2 - 1))
    }
  }
  return f64(data)
}

describe("scan: values", () => {
  it("equals the loop unrolled in JavaScript, forwards and in reverse, with ys stacked at their step", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 6 }),
        fc.boolean(),
        A.tensor({ shape: [2], dtype: "float64" }),
        A.tensor({ shape: [6, 2], dtype: "float64" }),
        async (T, reverse, c0, all) => {
          const xs = Tensor.slice(all, [0, 0], [T, 2])
          const body = (c: T, x: T) => [Tensor.add(Tensor.mul(Tensor.sin(c), 0.9), x), Tensor.mul(c, x)] as const
          const [c, ys] = await run(scan(body, c0, xs, { reverse }))
          // the reference
          const rows = (await run(Tensor.toArray(xs))) as number[][]
          let cr = c0
          const yr: T[] = new Array(T)
          for (let s = 0; s < T; s++) {
            const k = reverse ? T - 1 - s : s
            const [next, y] = body(cr, f64(rows[k]!))
            yr[k] = y
            cr = next
          }
          await expectSame(c, cr, { rtol: 1e-12, atol: 1e-12 }, "carry")
          expect([...ys.shape]).toEqual([T, 2])
          if (T > 0) await expectSame(ys, Tensor.stack(yr), { rtol: 1e-12, atol: 1e-12 }, "ys")
        }
      ),
      { numRuns: 15 }
    )
  })

  it("carries and maps pytrees (arrays and records), and accepts a plain return value or an Effect", async () => {
    const init = { a: f64([1, 2]), b: [f64(3)] }
    const xs = { u: f64([[1, 1], [2, 2], [3, 3]]) }
    const [c, ys] = await run(
      scan(
        (c: typeof init, x: { u: T }) => Effect.succeed([{ a: Tensor.add(c.a, x.u), b: [Tensor.mul(c.b[0]!, 2)] }, { s: Tensor.sum(c.a) }] as [typeof init, { s: T }]),
        init,
        xs
      )
    )
    await expectClose(c.a, [7, 8])
    await expectClose(c.b[0]!, 24)
    await expectClose(ys.s, [3, 5, 9])
  })

  it("runs a rate network over 1,000 steps with the body traced once", async () => {
    let traces = 0
    const W = matrix(8, 3)
    const x0 = f64(Array.from({ length: 8 }, (_, i) => [Math.cos(i)]))
    const [x] = await run(
      scan((x: T) => {
        traces++
        return [rate(W, x), null] as const
      }, x0, null, { length: 1000 })
    )
    expect(traces).toBe(1)
    let r = x0
    for (let t = 0; t < 1000; t++) r = Tensor.data(rate(W, r)).pipe(Effect.as(rate(W, r)), Effect.runSync)
    await expectSame(x, r, { rtol: 1e-10, atol: 1e-12 })
  })
})

describe("scan: derivatives", () => {
  const W = matrix(4, 7, 0.6)
  const x0 = f64([[0.5], [-0.3], [0.8], [0.1]])

  it("grad through time equals the unrolled gradient, with and without checkpoint", async () => {
    const want = await run(grad((w: T) => unrolledLoss(w, x0, 20))(W))
    await expectSame(await run(grad((w: T) => scanLoss(w, x0, 20))(W)), want, { rtol: 1e-10, atol: 1e-13 }, "scan")
    await expectSame(await run(grad((w: T) => scanLoss(w, x0, 20, true))(W)), want, { rtol: 1e-10, atol: 1e-13 }, "checkpoint")
  })

  it("checkGrads to order 2 in both modes through a scan with xs, ys, a captured constant and reverse", async () => {
    const f = (c0: T, xs: T, k: T) =>
      Effect.map(
        scan((c: T, x: T) => [Tensor.tanh(Tensor.add(Tensor.mul(c, k), x)), Tensor.mul(Tensor.sin(c), x)] as const, c0, xs, { reverse: true }),
        ([c, ys]) => Tensor.add(Tensor.sum(Tensor.square(c)), Tensor.sum(ys))
      )
    await run(checkGrads(f, [f64([0.3, -0.2]), f64([[0.1, 0.2], [-0.4, 0.5], [0.7, -0.1]]), f64([0.9, -1.1])], { order: 2 }))
  })

  it("checkGrads to order 2 through a checkpointed scan", async () => {
    const f = (c0: T, xs: T) =>
      Effect.map(scan(checkpoint((c: T, x: T) => [Tensor.sin(Tensor.mul(c, x)), Tensor.exp(Tensor.mul(c, 0.5))] as const), c0, xs), ([c, ys]) =>
        Tensor.add(Tensor.sum(c), Tensor.sum(ys))
      )
    await run(checkGrads(f, [f64([0.3, -0.2]), f64([[0.1, 0.2], [-0.4, 0.5], [0.7, -0.1]])], { order: 2 }))
  })

  it("checkGrads to order 2 as a property over random carries and steps", async () => {
    await fc.assert(
      fc.asyncProperty(A.tensor({ shape: [3], dtype: "float64" }), fc.integer({ min: 1, max: 4 }), fc.boolean(), async (c0, steps, ck) => {
        const body = (c: T) => [Tensor.add(Tensor.mul(Tensor.cos(c), 0.7), Tensor.mul(c, c)), Tensor.sum(c)] as const
        const f = (c: T) => Effect.map(scan(ck ? checkpoint(body) : body, c, null, { length: steps }), ([cT, ys]) => Tensor.add(Tensor.sum(cT), Tensor.sum(ys)))
        await run(checkGrads(f, [c0], { order: 2 }))
      }),
      { numRuns: 6 }
    )
  })

  it("hessian of a short scan equals the unrolled hessian", async () => {
    const xs = [1, 2, 3]
    const f = (v: T) =>
      Effect.map(scan((c: T, x: T) => [Tensor.sin(Tensor.mul(c, x)), Tensor.sum(Tensor.mul(c, c))] as const, v, f64(xs)), ([c, ys]) => Tensor.add(Tensor.sum(c), Tensor.sum(ys)))
    const fu = (v: T) => {
      let c = v
      let s: T = f64(0)
      for (const x of xs) {
        s = Tensor.add(s, Tensor.sum(Tensor.mul(c, c)))
        c = Tensor.sin(Tensor.mul(c, x))
      }
      return Tensor.add(Tensor.sum(c), s)
    }
    const v = f64([0.3, -0.7, 0.2])
    await expectSame(await run(hessian(f)(v)), await run(hessian(fu)(v)), { rtol: 1e-10, atol: 1e-12 })
  })

  it("jvp and jacfwd through scan equal the unrolled ones", async () => {
    const t = f64([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    const [v, dv] = await run(jvp((w: T) => scanLoss(w, x0, 7), [W], [t]))
    const [vu, dvu] = await run(jvp((w: T) => unrolledLoss(w, x0, 7), [W], [t]))
    await expectSame(v, vu, { rtol: 1e-12, atol: 1e-14 })
    await expectSame(dv, dvu, { rtol: 1e-10, atol: 1e-14 })
    await expectSame(await run(jacfwd((w: T) => scanLoss(w, x0, 7))(W)), await run(grad((w: T) => unrolledLoss(w, x0, 7))(W)), { rtol: 1e-10, atol: 1e-14 })
  })

  it("vmap of grad of scan gives each example's gradient", async () => {
    const Ws = Tensor.stack([W, Tensor.mul(W, 1.5), Tensor.neg(W)])
    const g = await run(vmap(grad((w: T) => scanLoss(w, x0, 9)))(Ws))
    for (let b = 0; b < 3; b++) {
      const wb = [W, Tensor.mul(W, 1.5), Tensor.neg(W)][b]!
      await expectSame(Tensor.reshape(Tensor.slice(g, [b, 0, 0], [b + 1, 4, 4]), [4, 4]), await run(grad((w: T) => unrolledLoss(w, x0, 9))(wb)), { rtol: 1e-10, atol: 1e-13 }, `example ${b}`)
    }
  })

  it("vmap over xs and the carry, and grad of vmap of scan", async () => {
    const body = (c: T, x: T) => [Tensor.add(Tensor.mul(c, 0.5), Tensor.sin(x)), Tensor.mul(c, x)] as const
    const f = (c0: T, xs: T) => Effect.map(scan(body, c0, xs), ([c, ys]) => Tensor.add(c, Tensor.sum(ys)))
    const c0 = f64([0.1, 0.2]), xs = f64([[1, 2, 3], [4, 5, 6]])
    const batched = await run(vmap(f)(c0, xs))
    for (let b = 0; b < 2; b++) await expectClose(Tensor.slice(batched, [b], [b + 1]), await flat(await run(f(f64(b === 0 ? 0.1 : 0.2), f64(b === 0 ? [1, 2, 3] : [4, 5, 6])))), { rtol: 1e-12, atol: 1e-12 })
    const g = await run(grad((xs: T) => Effect.map(vmap(f, { inAxes: [null, 0] })(f64(0.3), xs), Tensor.sum))(xs))
    const g0 = await run(grad((xs: T) => f(f64(0.3), xs))(f64([1, 2, 3])))
    await expectClose(Tensor.slice(g, [0, 0], [1, 3]), await flat(g0), { rtol: 1e-12, atol: 1e-12 })
  })

  it("scan inside scan, differentiated, equals the unrolled double loop", async () => {
    const inner = (c: T, k: T) => Effect.map(scan((d: T) => [Tensor.sin(Tensor.mul(d, k)), null] as const, c, null, { length: 3 }), ([d]) => d)
    const f = (k: T) => Effect.map(scan((c: T) => Effect.map(inner(c, k), (d) => [Tensor.add(d, 0.1), null] as const), f64([0.4, 0.5]), null, { length: 4 }), ([c]) => Tensor.sum(c))
    const fu = (k: T) => {
      let c = f64([0.4, 0.5])
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 3; j++) c = Tensor.sin(Tensor.mul(c, k))
        c = Tensor.add(c, 0.1)
      }
      return Tensor.sum(c)
    }
    const k = f64([0.9, 1.3])
    await expectSame(await run(f(k)), fu(k), { rtol: 1e-12, atol: 1e-14 })
    await expectSame(await run(grad(f)(k)), await run(grad(fu)(k)), { rtol: 1e-10, atol: 1e-14 })
    await run(checkGrads(f, [k], { order: 2 }))
  })

  it("jit of grad of scan, grad of jit of scan, and jit inside a scan body equal the plain gradient", async () => {
    const want = await run(grad((w: T) => unrolledLoss(w, x0, 12))(W))
    const g1 = jit(grad((w: T) => scanLoss(w, x0, 12)))
    await expectSame(await run(g1(W)), want, { rtol: 1e-10, atol: 1e-13 }, "jit(grad)")
    await expectSame(await run(g1(W)), want, { rtol: 1e-10, atol: 1e-13 }, "jit(grad) replayed")
    await expectSame(await run(grad(jit((w: T) => scanLoss(w, x0, 12)))(W)), want, { rtol: 1e-10, atol: 1e-13 }, "grad(jit)")
    const jstep = jit((w: T, x: T) => rate(w, x))
    const viaJit = (w: T) => Effect.map(scan((x: T) => Effect.map(jstep(w, x), (n) => [n, null] as const), x0, null, { length: 12 }), ([x]) => Tensor.mean(Tensor.square(x)))
    await expectSame(await run(grad(viaJit)(W)), want, { rtol: 1e-10, atol: 1e-13 }, "jit in the body")
  })

  it("vjp gives the cotangents of init, xs and captured constants", async () => {
    const k = f64([2, 3])
    const f = (c0: T, xs: T) => Effect.map(scan((c: T, x: T) => [Tensor.mul(Tensor.add(c, x), k), Tensor.square(c)] as const, c0, xs), ([c, ys]) => [c, ys] as const)
    const [, pull] = await run(vjp(f, f64([1, 1]), f64([[1, 2], [3, 4]])))
    const [gc, gx] = await run(pull([f64([1, 1]), f64([[0, 0], [1, 1]])] as never))
    // c1 = (c0 + x0)k, c2 = (c1 + x1)k; loss = sum(c2) + sum(c1²)
    // dc2/dc0 = k², dc1/dc0 = k → gc = k² + 2 c1 k
    const c1 = [(1 + 1) * 2, (1 + 2) * 3]
    await expectClose(gc, [4 + 2 * c1[0]! * 2, 9 + 2 * c1[1]! * 3])
    await expectClose(gx, [[4 + 2 * c1[0]! * 2, 9 + 2 * c1[1]! * 3], [2, 3]])
  })
})

describe("fori, whileLoop and cond", () => {
  it("fori with number bounds counts from lower, and checkGrads passes to order 2", async () => {
    await expectClose(await run(fori(3, 7, (i: T, c: T) => Tensor.add(c, Tensor.cast(i, "float64")), f64(0))), 3 + 4 + 5 + 6)
    await expectClose(await run(fori(5, 2, (_i: T, c: T) => Tensor.add(c, 1), f64(0))), 0)
    const f = (x: T) => fori(0, 4, (i: T, c: T) => Tensor.sin(Tensor.mul(c, Tensor.add(Tensor.cast(i, "float64"), x))), Tensor.add(x, 0.5))
    await run(checkGrads(f, [f64([0.3, 0.8])], { order: 2 }))
    await run(checkGrads((x: T) => fori(0, 3, checkpoint((_i: T, c: T) => Tensor.tanh(Tensor.mul(c, x))), x), [f64([0.6, -0.4])], { order: 2 }))
  })

  it("fori with tensor bounds and whileLoop run until the condition fails; jvp and vmap apply", async () => {
    await expectClose(await run(fori(Tensor.make(0, { dtype: "int32" }), Tensor.make(5, { dtype: "int32" }), (_i: T, c: T) => Tensor.mul(c, 2), f64(1))), 32)
    const loop = (x: T) => whileLoop((c: readonly [T, T]) => Tensor.less(c[0], 10), (c: readonly [T, T]) => [Tensor.add(c[0], 1), Tensor.mul(c[1], x)] as const, [f64(0), f64(1)] as const)
    const [n, p] = await run(loop(f64(1.1)))
    await expectClose(n, 10)
    await expectClose(p, 1.1 ** 10, { rtol: 1e-12, atol: 0 })
    const [, [, dp]] = await run(jvp(loop, [f64(1.1)], [f64(1)]))
    await expectClose(dp, 10 * 1.1 ** 9, { rtol: 1e-10, atol: 0 })
    // a batched predicate: each example stops at its own count
    const counts = await run(vmap((lim: T) => whileLoop((c: T) => Tensor.less(c, lim), (c: T) => Tensor.add(c, 1), f64(0)))(f64([0, 3, 7])))
    await expectClose(counts, [0, 3, 7])
  })

  it("reverse mode through whileLoop is a ControlFlowError naming fori and scan", async () => {
    const f = (x: T) => whileLoop((c: T) => Tensor.less(c, 10), (c: T) => Tensor.mul(c, x), f64(1))
    await expectFailure(grad(f)(f64(2)), "ControlFlowError", "whileLoop", "fori", "scan")
  })

  it("cond runs the branch the predicate picks; derivatives of each branch pass checkGrads to order 2", async () => {
    const f = (x: T) => cond(Tensor.greater(Tensor.sum(x), 0), (x: T) => Tensor.sum(Tensor.sin(Tensor.mul(x, x))), (x: T) => Tensor.sum(Tensor.exp(x)), x)
    await expectClose(await run(f(f64([0.5, 1]))), Math.sin(0.25) + Math.sin(1))
    await expectClose(await run(f(f64([-0.5, -1]))), Math.exp(-0.5) + Math.exp(-1))
    await run(checkGrads(f, [f64([0.5, 1])], { order: 2 }))
    await run(checkGrads(f, [f64([-0.5, -1])], { order: 2 }))
    // a boolean runs one branch directly; a number predicate is true when nonzero
    await expectClose(await run(cond(false, (x: T) => x, (x: T) => Tensor.neg(x), f64(2))), -2)
    await expectClose(await run(cond(Tensor.make(3), (x: T) => x, (x: T) => Tensor.neg(x), f64(2))), 2)
  })

  it("only the chosen branch runs: a NaN in the other branch does not reach the gradient", async () => {
    const f = (x: T) => cond(Tensor.greater(x, 0), (x: T) => Tensor.sqrt(x), (x: T) => Tensor.neg(x), x)
    await expectClose(await run(grad(f)(f64(-4))), -1)
    await expectClose(await run(grad(f)(f64(4))), 0.25)
  })

  it("cond under vmap: a batched predicate selects per example; grad of vmap agrees", async () => {
    const f = (x: T) => cond(Tensor.greater(x, 0), (x: T) => Tensor.mul(x, x), (x: T) => Tensor.mul(x, -3), x)
    await expectClose(await run(vmap(f)(f64([-1, 2, 3]))), [3, 4, 9])
    await expectClose(await run(vmap(grad(f))(f64([-1, 2, 3]))), [-3, 4, 6])
    // an unbatched predicate runs one branch on the batch
    const g = (p: T, x: T) => cond(p, (x: T) => Tensor.mul(x, 2), (x: T) => x, x)
    await expectClose(await run(vmap(g, { inAxes: [null, 0] })(Tensor.make(true, { dtype: "bool" }), f64([1, 2]))), [2, 4])
  })

  it("checkpoint outside a scan gives the same values and gradients", async () => {
    const h = (x: T) => Tensor.sum(Tensor.tanh(Tensor.mul(x, x)))
    const x = f64([0.2, -0.5, 0.9])
    await expectSame(await run(checkpoint(h)(x) as never), h(x))
    await expectSame(await run(grad((x: T) => checkpoint(h)(x))(x)), await run(grad(h)(x)), { rtol: 1e-12, atol: 1e-14 })
    await run(checkGrads((x: T) => checkpoint(h)(x), [x], { order: 2 }))
  })
})

describe("state in bodies", () => {
  it("a Variable written in a body is carried; the last value is committed", async () => {
    const total = await run(Variable.make(f64(1)))
    const [c] = await run(
      scan(
        (c: T, x: T) =>
          Effect.gen(function* () {
            const s = yield* Variable.get(total)
            yield* Variable.set(total, Tensor.add(s, x))
            return [Tensor.add(c, s), null] as const
          }),
        f64(0),
        f64([1, 2, 3])
      )
    )
    await expectClose(c, 1 + 2 + 4)
    await expectClose(total.current, 7)
  })

  it("grad with gradVars through a simulation whose parameters and state live in Variables", async () => {
    const W0 = matrix(4, 11, 0.5)
    const x0 = f64([[0.5], [-0.3], [0.8], [0.1]])
    const w = await run(Variable.make(W0, { trainable: true }))
    const x = await run(Variable.make(x0))
    const sim = () =>
      Effect.gen(function* () {
        yield* fori(0, 15, (_i: T, n: T) =>
          Effect.gen(function* () {
            const W = yield* Variable.get(w)
            yield* Variable.update(x, (xv) => rate(W, xv))
            return Tensor.add(n, 1)
          }), f64(0))
        return Tensor.mean(Tensor.square(yield* Variable.get(x)))
      })
    const [loss, gw] = await run(valueAndGrad(sim, { gradVars: w })())
    await expectSame(loss, unrolledLoss(W0, x0, 15), { rtol: 1e-12, atol: 1e-14 })
    await expectSame(gw, await run(grad((W: T) => unrolledLoss(W, x0, 15))(W0)), { rtol: 1e-10, atol: 1e-13 })
    // the state moved 15 steps, committed once
    let r = x0
    for (let t = 0; t < 15; t++) r = rate(W0, r)
    await expectSame(x.current, r, { rtol: 1e-12, atol: 1e-14 })
  })

  it("the loop runs once when its state writes are committed with the gradient", async () => {
    const base = await run(Effect.service(Backend))
    let tanhs = 0
    const counting: BackendShape = { ...base, kernels: { ...base.kernels, tanh: (...a: Parameters<BackendShape["kernels"]["tanh"]>) => (tanhs++, base.kernels.tanh(...a)) } }
    const w = await run(Variable.make(matrix(3, 2, 0.5), { trainable: true }))
    const x = await run(Variable.make(f64([[0.5], [-0.2], [0.9]])))
    const sim = () =>
      Effect.gen(function* () {
        const W = yield* Variable.get(w)
        yield* fori(0, 10, (_i: T, n: T) => Effect.as(Variable.update(x, (xv) => Tensor.tanh(Tensor.matmul(W, xv))), n), f64(0))
        return Tensor.sum(yield* Variable.get(x))
      })
    await run(valueAndGrad(sim, { gradVars: w })().pipe(Effect.provideService(Backend, counting)))
    expect(tanhs).toBe(10) // one forward pass: the backward reads its residuals
  })

  it("a failure in iteration k leaves every Variable unchanged", async () => {
    const log = await run(Variable.make(f64([0, 0])))
    const a = await run(Variable.make(f64([[1]])))
    // the matrix stops being positive-definite at the third step: cholesky fails there
    const f = scan(
      (m: T) =>
        Effect.gen(function* () {
          yield* Variable.update(log, (l) => Tensor.add(l, 1))
          yield* Variable.set(a, m)
          return [Tensor.sub(m, 0.4), Linalg.cholesky(m)] as const
        }),
      f64([[1]]),
      null,
      { length: 5 }
    )
    await expectFailure(f, "LinalgError")
    await expectClose(log.current, [0, 0])
    await expectClose(a.current, [[1]])
    // the same under grad: nothing is committed
    await expectFailure(grad((m: T) => Effect.map(scan((c: T) => Effect.gen(function* () {
      yield* Variable.update(log, (l) => Tensor.add(l, 1))
      return [Tensor.sub(c, 0.4), Linalg.cholesky(c)] as const
    }), m, null, { length: 5 }), ([c]) => Tensor.sum(c)))(f64([[1]])), "LinalgError")
    await expectClose(log.current, [0, 0])
    // and a failing body (traced once) writes nothing either
    const failing = scan(
      (c: T) =>
        Effect.gen(function* () {
          yield* Variable.set(log, f64([9, 9]))
          if (c.ndim === 0) return yield* Effect.fail({ _tag: "Mine" as const, message: "the user's own failure" })
          return [c, null] as const
        }),
      f64(0),
      null,
      { length: 3 }
    )
    await expectFailure(failing, "Mine", "own failure")
    await expectClose(log.current, [0, 0])
  })

  it("a Variable only read in a body is a constant of the loop; cond commits the taken branch's writes", async () => {
    const k = await run(Variable.make(f64(2)))
    const [c] = await run(scan((c: T) => Effect.map(Variable.get(k), (kv) => [Tensor.mul(c, kv), null] as const), f64(1), null, { length: 4 }))
    await expectClose(c, 16)
    const g = await run(grad(() => Effect.map(scan((c: T) => Effect.map(Variable.get(k), (kv) => [Tensor.mul(c, kv), null] as const), f64(1), null, { length: 4 }), ([c]) => c), { gradVars: k })())
    await expectClose(g, 4 * 2 ** 3)
    const v = await run(Variable.make(f64(0)))
    await run(cond(Tensor.make(true, { dtype: "bool" }), () => Effect.as(Variable.set(v, f64(5)), f64(1)), () => f64(2)))
    await expectClose(v.current, 5)
    await run(cond(Tensor.make(false, { dtype: "bool" }), () => Effect.as(Variable.set(v, f64(7)), f64(1)), () => f64(2)))
    await expectClose(v.current, 5)
  })
})

describe("bad input: ControlFlowError naming both sides", () => {
  it("a carry of another structure, shape or dtype than init", async () => {
    await expectFailure(scan((c: T) => [[c, c], null] as never, f64(1), null, { length: 2 }), "ControlFlowError", "structure", "init")
    await expectFailure(scan((c: T) => [Tensor.concat([c, c]), null] as const, f64([1]), null, { length: 2 }), "ControlFlowError", "float64[2]", "float64[1]")
    await expectFailure(scan((c: T) => [Tensor.cast(c, "float32"), null] as const, f64([1]), null, { length: 2 }), "ControlFlowError", "float32[1]", "float64[1]")
    await expectFailure(whileLoop(() => Tensor.make(true, { dtype: "bool" }), (c: T) => Tensor.reshape(c, [1, 1]), f64([1])), "ControlFlowError", "float64[1, 1]", "float64[1]")
    await expectFailure(fori(0, 2, (_i: T, c: T) => Tensor.cast(c, "int32"), f64(1)), "ControlFlowError", "int32[]", "float64[]")
  })

  it("xs of different lengths, a length that disagrees, none given, a scalar xs", async () => {
    await expectFailure(scan((c: T) => [c, null] as const, f64(0), [f64([1, 2, 3]), f64([1, 2])]), "ControlFlowError", "different lengths", "3", "2")
    await expectFailure(scan((c: T) => [c, null] as const, f64(0), f64([1, 2, 3]), { length: 4 }), "ControlFlowError", "3", "4")
    await expectFailure(scan((c: T) => [c, null] as const, f64(0), null), "ControlFlowError", "length")
    await expectFailure(scan((c: T) => [c, null] as const, f64(0), f64(3)), "ControlFlowError", "scalar")
    await expectFailure(scan((c: T) => c as never, f64(0), null, { length: 1 }), "ControlFlowError", "pair")
  })

  it("cond branches of different structure, shape or dtype; a non-scalar predicate", async () => {
    await expectFailure(cond(Tensor.make(true, { dtype: "bool" }), (x: T) => [x, x] as never, (x: T) => x, f64(1)), "ControlFlowError", "onTrue", "onFalse", "structure")
    await expectFailure(cond(Tensor.make(true, { dtype: "bool" }), (x: T) => Tensor.concat([x, x]), (x: T) => x, f64([1])), "ControlFlowError", "float64[2]", "float64[1]")
    await expectFailure(cond(f64([1, 0]), (x: T) => x, (x: T) => x, f64(1)), "ControlFlowError", "scalar", "[2]")
  })
})

/** A CPU backend that counts the bytes of the buffers alive (made by kernels or uploads, not yet disposed), and their peak. */
const countingBackend = (base: BackendShape) => {
  const live = new Map<unknown, number>()
  let bytes = 0
  let peak = 0
  const track = (h: unknown) => {
    if (!ArrayBuffer.isView(h) || live.has(h)) return h
    live.set(h, h.byteLength)
    bytes += h.byteLength
    if (bytes > peak) peak = bytes
    return h
  }
  const kernels = Object.fromEntries(Object.entries(base.kernels).map(([k, f]) => [k, (...a: never[]) => track((f as (...a: never[]) => unknown)(...a))]))
  const { viewKernels: _views, fusion: _fusion, ...plain } = base
  const backend: BackendShape = {
    ...plain,
    kernels: kernels as never,
    upload: (host, aval) => track(base.upload(host, aval)),
    dispose: (h) => {
      const b = live.get(h)
      if (b !== undefined) {
        live.delete(h)
        bytes -= b
      }
      base.dispose(h)
    }
  }
  return { backend, peak: () => peak, reset: () => (peak = bytes) }
}

describe("memory of reverse mode through scan", () => {
  it("stores one residual set per step, and with checkpoint only the carries", async () => {
    const n = 32
    const W = matrix(n, 5, 0.3)
    const x0 = f64(Array.from({ length: n }, (_, i) => [Math.sin(i)]))
    const base = await run(Effect.service(Backend))
    const peakFor = async (steps: number, ck: boolean) => {
      const c = countingBackend(base)
      await run(grad((w: T) => scanLoss(w, x0, steps, ck))(W).pipe(Effect.provideService(Backend, c.backend)))
      return c.peak()
    }
    const carry = n * 8 // bytes of one carry (float64)
    const growth = async (ck: boolean) => ((await peakFor(600, ck)) - (await peakFor(200, ck))) / 400
    const plain = await growth(false)
    const ck = await growth(true)
    // checkpoint: the stacked carries and nothing else grow with the steps
    expect(ck).toBeGreaterThanOrEqual(carry * 0.9)
    expect(ck).toBeLessThanOrEqual(carry * 1.1)
    // without: the residuals (tanh's output and the carry, at least) per step
    expect(plain).toBeGreaterThanOrEqual(2 * carry * 0.9)
  })
})
