/**
 * jit: tracing once per signature, replay without running the function,
 * Variables as program inputs and outputs, Random inside, composition with
 * every transform in both orders, the bounded cache, and bad input.
 */
import { Effect, Exit, Fiber } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Random, Tensor, Variable } from "@diffect/core"
import { customVjp, grad, hessian, jacfwd, jacrev, jit, JIT_CACHE_SIZE, jvp, valueAndGrad, vjp, vmap } from "@diffect/transforms"
import { expectClose, expectFailure, expectSame, expectSameTree, f64, flat, run, type T } from "./helpers.js"

const counted = <A extends ReadonlyArray<unknown>, R>(f: (...a: A) => R) => {
  const c = { traces: 0 }
  const g = (...a: A): R => {
    c.traces++
    return f(...a)
  }
  return [g, c] as const
}

const f = (x: T, y: T): T => Tensor.sum(Tensor.add(Tensor.mul(Tensor.sin(x), y), Tensor.exp(Tensor.mul(x, -0.5))))

describe("jit: tracing and replay", () => {
  it("traces once per signature and replays without running the function", async () => {
    const [g, c] = counted(f)
    const jg = jit(g)
    const x = f64([1, 2, 3]), y = f64([4, 5, 6])
    for (let i = 0; i < 5; i++) {
      const xi = Tensor.add(x, i)
      await expectSame(await run(jg(xi, y)), f(xi, y))
    }
    expect(c.traces).toBe(1)
    await run(jg(f64([1, 2]), f64([3, 4]))) // another shape: traced again
    await run(jg(Tensor.make([1, 2, 3]), Tensor.make([1, 2, 3]))) // another dtype
    await run(jg(x, y))
    expect(c.traces).toBe(3)
  })

  it("equals the function it compiles, at random values and shapes", async () => {
    const jf = jit(f)
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }).chain((n) =>
          fc.tuple(fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n, maxLength: n }), fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n, maxLength: n }))
        ),
        async ([a, b]) => {
          await expectSame(await run(jf(f64(a), f64(b))), f(f64(a), f64(b)))
        }
      ),
      { numRuns: 30 }
    )
  })

  it("takes pytrees and numbers, and returns pytrees", async () => {
    const [g, c] = counted((p: { w: T; b: T }, x: T, s: number) => ({ y: Tensor.add(Tensor.matmul(x, p.w), p.b), s: [Tensor.mul(s, 2)] }))
    const jg = jit(g)
    const p = { w: f64([[1, 2], [3, 4]]), b: f64([0.5, -0.5]) }
    const out = await run(jg(p, f64([[1, 1]]), 3))
    await expectClose(out.y, [[4.5, 5.5]])
    await expectClose(out.s[0]! as T, 6, { rtol: 1e-6, atol: 0 })
    const again = await run(jg(p, f64([[2, 0]]), 5)) // a number is traced, not static: same program
    await expectClose(again.s[0]! as T, 10, { rtol: 1e-6, atol: 0 })
    expect(c.traces).toBe(1)
  })

  it("takes lazy arguments, also two that share one buffer (a reshape of the other)", async () => {
    const add = jit((a: T, b: T) => Tensor.add(a, b))
    const c = Tensor.add(Tensor.arange(0, 4, 1, { dtype: "float64" }), 2)
    const d = Tensor.reshape(Tensor.reshape(c, [2, 2]), [4])
    expect(await flat(await run(add(c, d)))).toEqual([4, 6, 8, 10])
  })

  it("static arguments are part of the signature, by value", async () => {
    const [g, c] = counted((x: T, power: number, mode: string) => (mode === "sum" ? Tensor.sum(Tensor.pow(x, power)) : Tensor.max(Tensor.pow(x, power))))
    const jg = jit(g, { staticArgnums: [1, 2] })
    const x = f64([1, 2, 3])
    await expectClose(await run(jg(x, 2, "sum")), 14)
    await expectClose(await run(jg(x, 3, "sum")), 36)
    await expectClose(await run(jg(x, 2, "max")), 9)
    await expectClose(await run(jg(f64([4, 5, 6]), 2, "sum")), 77)
    expect(c.traces).toBe(3)
  })

  it("keeps a bounded cache of signatures, least recently used first out", async () => {
    const [g, c] = counted((x: T) => Tensor.sum(x))
    const jg = jit(g)
    for (let n = 1; n <= JIT_CACHE_SIZE; n++) await run(jg(Tensor.zeros([n])))
    expect(c.traces).toBe(JIT_CACHE_SIZE)
    await run(jg(Tensor.zeros([1]))) // used again: now the most recent
    await run(jg(Tensor.zeros([JIT_CACHE_SIZE + 1]))) // evicts [2]
    expect(c.traces).toBe(JIT_CACHE_SIZE + 1)
    await run(jg(Tensor.zeros([1])))
    expect(c.traces).toBe(JIT_CACHE_SIZE + 1)
    await run(jg(Tensor.zeros([2])))
    expect(c.traces).toBe(JIT_CACHE_SIZE + 2)
  })
})

describe("jit: state", () => {
  it("reads Variables as program inputs and commits writes on every replay", async () => {
    await run(
      Effect.gen(function* () {
        const w = yield* Variable.make(f64([1, 2]))
        const count = yield* Variable.make(f64(0))
        const [body, c] = counted((lr: T) =>
          Effect.gen(function* () {
            const wv = yield* Variable.get(w)
            yield* Variable.set(w, Tensor.sub(wv, Tensor.mul(lr, wv)))
            yield* Variable.update(count, (n) => Tensor.add(n, 1))
            return Tensor.sum(wv)
          })
        )
        const step = jit(body)
        const losses: number[] = []
        for (let i = 0; i < 3; i++) losses.push(yield* Tensor.item(yield* step(f64(0.5))))
        expect(losses).toEqual([3, 1.5, 0.75])
        expect(yield* Tensor.toArray(yield* Variable.get(w))).toEqual([0.125, 0.25])
        expect(yield* Tensor.item(yield* Variable.get(count))).toBe(3)
        // a write from outside is seen by the next replay, without tracing again
        yield* Variable.set(w, f64([10, 10]))
        expect(yield* Tensor.item(yield* step(f64(0.5)))).toBe(20)
        expect(c.traces).toBe(1)
      })
    )
  })

  it("inside grad: Variables in gradVars are differentiated through the program, writes commit with the call", async () => {
    await run(
      Effect.gen(function* () {
        const w = yield* Variable.make(f64([1, 2, 3]))
        const seen = yield* Variable.make(f64(0))
        const loss = jit(() =>
          Effect.gen(function* () {
            const wv = yield* Variable.get(w)
            yield* Variable.update(seen, (s) => Tensor.add(s, 1))
            return Tensor.sum(Tensor.mul(wv, wv))
          })
        )
        const [g, value] = yield* grad(loss, { gradVars: w, returnValue: true })()
        expect(yield* Tensor.toArray(g)).toEqual([2, 4, 6])
        expect(yield* Tensor.item(value)).toBe(14)
        expect(yield* Tensor.item(yield* Variable.get(seen))).toBe(1)
      })
    )
  })

  it("a call that fails commits nothing: a failure after the replay inside a transform, and an interrupted replay", async () => {
    await run(
      Effect.gen(function* () {
        const w = yield* Variable.make(f64([1, 2]))
        const bump = jit(() => Variable.update(w, (x) => Tensor.add(x, 1)).pipe(Effect.as(Tensor.sum(Tensor.zeros([1], { dtype: "float64" })))))
        yield* bump()
        expect(yield* Tensor.toArray(yield* Variable.get(w))).toEqual([2, 3])
        const failing = grad(() => Effect.flatMap(bump(), () => Effect.fail("user failure" as const)), { gradVars: w })
        const e = yield* Effect.flip(failing())
        expect(e).toBe("user failure")
        expect(yield* Tensor.toArray(yield* Variable.get(w))).toEqual([2, 3])
        // a long replay interrupted while it runs writes nothing
        const big = yield* Variable.make(Tensor.ones([256, 256]))
        const heavy = jit(() =>
          Effect.gen(function* () {
            let x = yield* Variable.get(big)
            for (let i = 0; i < 200; i++) x = Tensor.tanh(Tensor.matmul(x, x))
            yield* Variable.set(big, x)
            return Tensor.sum(x)
          })
        )
        yield* heavy() // traced and run once
        const before = yield* Tensor.data(yield* Variable.get(big))
        const fiber = yield* Effect.forkChild(heavy())
        yield* Effect.sleep(20)
        yield* Fiber.interrupt(fiber)
        const exit = yield* Fiber.await(fiber)
        expect(Exit.isFailure(exit)).toBe(true)
        expect(Array.from(yield* Tensor.data(yield* Variable.get(big)))).toEqual(Array.from(before))
      })
    )
  })

  it("Random draws advance the key on every call, with the same numbers as without jit", async () => {
    const draws = (jitted: boolean) =>
      run(
        Effect.gen(function* () {
          const key = yield* Random.key(7)
          const [body, c] = counted(() =>
            Effect.gen(function* () {
              const u = yield* Random.uniform(key, [4])
              const z = yield* Random.normal(key, [3], { dtype: "float64" })
              return [u, z] as const
            })
          )
          const draw = jitted ? jit(body) : body
          const out: number[][] = []
          for (let i = 0; i < 3; i++) {
            const [u, z] = yield* draw()
            out.push([...(yield* Tensor.data(u)), ...(yield* Tensor.data(z))])
          }
          out.push([...(yield* Tensor.data(yield* Random.bits(key, [2])))]) // the key moved on as it would have
          return { out, traces: c.traces }
        })
      )
    const plain = await draws(false)
    const compiled = await draws(true)
    expect(compiled.traces).toBe(1)
    expect(compiled.out).toEqual(plain.out)
    expect(compiled.out[0]).not.toEqual(compiled.out[1])
  })
})

describe("jit: composition", () => {
  const x = f64([0.3, -1.2, 2.0])
  const y = f64([1.5, 0.5, -2.0])
  const h = (x: T): T => Tensor.sum(Tensor.mul(Tensor.tanh(x), Tensor.square(x)))

  it("grad(jit(f)) and jit(grad(f)) equal grad(f)", async () => {
    const want = await run(grad(f, { argnums: [0, 1] })(x, y))
    await expectSameTree(await run(grad(jit(f), { argnums: [0, 1] })(x, y)), want)
    await expectSameTree(await run(jit(grad(f, { argnums: [0, 1] }))(x, y)), want)
    await expectSameTree(await run(jit(valueAndGrad(f))(x, y)), await run(valueAndGrad(f)(x, y)))
  })

  it("second order: hessian(jit(f)), jit(hessian(f)), jacfwd and jacrev of jit", async () => {
    const want = await run(hessian(h)(x))
    await expectSame(await run(hessian(jit(h))(x)), want)
    await expectSame(await run(jit(hessian(h))(x)), want)
    await expectSame(await run(jacfwd(jit(grad(h)))(x)), want)
    await expectSame(await run(jit(jacrev(jit(grad(h))))(x)), want)
  })

  it("jvp and vjp of jit", async () => {
    const [o, t] = await run(jvp(jit(h), [x], [y]))
    const [o2, t2] = await run(jvp(h, [x], [y]))
    await expectSame(o, o2)
    await expectSame(t, t2)
    const [, pull] = await run(vjp(jit(h), x))
    const [, pull2] = await run(vjp(h, x))
    await expectSameTree(await run(pull(f64(2))), await run(pull2(f64(2))))
  })

  it("vmap(jit(f)), jit(vmap(f)) and jit(jit(f))", async () => {
    const xs = f64([[1, 2, 3], [4, 5, 6]])
    const want = await run(vmap(f, { inAxes: [0, null] })(xs, y))
    await expectSame(await run(vmap(jit(f), { inAxes: [0, null] })(xs, y)), want)
    await expectSame(await run(jit(vmap(f, { inAxes: [0, null] }))(xs, y)), want)
    const [inner, c] = counted(f)
    const jj = jit(jit(inner))
    await expectSame(await run(jj(x, y)), f(x, y))
    await expectSame(await run(jj(y, x)), f(y, x))
    expect(c.traces).toBe(1)
    // per-example gradients through a jitted loss
    await expectSame(await run(vmap(grad(jit(f)), { inAxes: [0, null] })(xs, y)), await run(vmap(grad(f), { inAxes: [0, null] })(xs, y)))
  })

  it("a closure over a tensor of an enclosing transform is not replayed stale", async () => {
    // f closes over the argument of grad: its program cannot stand alone, so each call traces anew
    const g = grad((a: T) => jit((b: T) => Tensor.sum(Tensor.mul(Tensor.mul(a, a), b)))(f64([1, 1, 1])))
    expect(await flat(await run(g(f64([1, 2, 3]))))).toEqual([2, 4, 6])
    expect(await flat(await run(g(f64([3, 2, 1]))))).toEqual([6, 4, 2])
  })
})

describe("jit: custom rules survive every composition", () => {
  // a deliberately wrong rule (100× the true cotangent), so using it is visible
  const cube = customVjp(
    (x: T) => Tensor.pow(x, 3),
    ([x], _out, ct) => [Tensor.mul(Tensor.mul(ct, Tensor.square(x)), 300)]
  )
  const loss = (x: T): T => Tensor.sum(cube(x))
  const x = f64([1, 2])
  const want = [300, 1200]

  it("grad, grad(jit), jit(grad), grad(vmap), vmap(grad), jit(vmap(grad)) all use the rule", async () => {
    expect(await flat(await run(grad(loss)(x)))).toEqual(want)
    expect(await flat(await run(grad(jit(loss))(x)))).toEqual(want)
    expect(await flat(await run(jit(grad(loss))(x)))).toEqual(want)
    const xs = f64([[1, 2], [1, 2]])
    const batchLoss = (xs: T) => Effect.map(vmap(loss)(xs), Tensor.sum)
    expect(await flat(await run(grad(batchLoss)(xs)))).toEqual([...want, ...want])
    expect(await flat(await run(vmap(grad(loss))(xs)))).toEqual([...want, ...want])
    expect(await flat(await run(jit(vmap(grad(loss)))(xs)))).toEqual([...want, ...want])
    expect(await flat(await run(grad(jit(batchLoss))(xs)))).toEqual([...want, ...want])
  })
})

describe("jit: bad input", () => {
  it("typed failures that name what was got", async () => {
    await expectFailure(jit(42 as never)(), "OptionsError", "jit: expected a function", "number")
    await expectFailure(jit(f, { staticArgnums: 2 })(f64([1]), f64([1])), "ArgnumsError", "staticArgnums 2", "2 arguments")
    await expectFailure(jit(f, { staticArgnums: 0 })(f64([1]), f64([1])), "ArgnumsError", "points at a Tensor", "float64[1]")
    await expectFailure(jit(f, { static: 1 } as never)(f64([1]), f64([1])), "OptionsError", "unknown option static")
    await expectFailure(jit(f, { staticArgnums: 0.5 })(f64([1]), f64([1])), "OptionsError", "staticArgnums must be an integer")
    await expectFailure(jit((s: unknown, x: T) => x)("mode" as never, f64([1])), "DTypeError", "argument 0", "staticArgnums")
  })

  it("reading a value while tracing is a ConcretizationError, and commits nothing", async () => {
    await run(
      Effect.gen(function* () {
        const w = yield* Variable.make(f64([1, 2]))
        const branchy = jit((x: T) =>
          Effect.gen(function* () {
            yield* Variable.set(w, x)
            const n = yield* Tensor.item(Tensor.sum(x)) // a value: not known while tracing
            return n > 0 ? x : Tensor.neg(x)
          })
        )
        const e = yield* Effect.flip(branchy(f64([3, 4])))
        expect(e._tag).toBe("ConcretizationError")
        expect(e.message).toContain("jit")
        expect(e.message).toContain("float64[2]")
        expect(yield* Tensor.toArray(yield* Variable.get(w))).toEqual([1, 2])
      })
    )
  })
})
