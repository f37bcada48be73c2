/**
 * Writes inside a transform call: committed when the call succeeds, all
 * together, as primal values; on a typed failure, a defect (Effect.die or a
 * thrown exception) or an interruption, nothing is committed. Nested
 * transforms commit exactly once, at the outermost successful call.
 */
import { Cause, Data, Deferred, Effect, Exit, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { AuxError, NonScalarOutputError, Tensor, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, jvp, valueAndGrad, vectorGrad, vjp, vmap } from "@diffect/transforms"
import { expectTree, f64, failureOf, isSettled, now, run, structure } from "./helpers.js"

class Boom extends Data.TaggedError("Boom")<{ readonly at: string }> {}

type AnyT = (f: unknown, o?: unknown) => (...a: unknown[]) => Effect.Effect<unknown, unknown>
const transforms: ReadonlyArray<readonly [string, AnyT]> = [
  ["grad", grad as unknown as AnyT],
  ["valueAndGrad", valueAndGrad as unknown as AnyT],
  ["vectorGrad", vectorGrad as unknown as AnyT],
  ["jacrev", jacrev as unknown as AnyT],
  ["jacfwd", jacfwd as unknown as AnyT],
  ["hessian", hessian as unknown as AnyT]
]

/** Three variables (a tensor, a record, an int32 counter) and a function writing all of them. */
const setup = Effect.gen(function* () {
  const w = yield* Variable.make(f64([1, 2]), { name: "w" })
  const p = yield* Variable.make({ a: f64([[1]]), b: [f64(3)] }, { name: "p" })
  const calls = yield* Variable.make(Tensor.make(0, { dtype: "int32" }), { name: "calls" })
  /** writes w := w - 0.1 x (depends on the gradVar and the argument), p := p * 2, calls += 1, then `then` */
  const writer =
    <E>(then: Effect.Effect<void, E> = Effect.void as Effect.Effect<void, E>) =>
    (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        yield* Variable.update(calls, (c) => Tensor.add(c, 1))
        const wv = yield* Variable.get(w)
        yield* Variable.set(w, Tensor.sub(wv, Tensor.mul(x, 0.1)))
        yield* Variable.update(p, ({ a, b }) => ({ a: Tensor.mul(a, 2), b: [Tensor.mul(b[0]!, 2)] }))
        yield* then
        return Tensor.sum(Tensor.mul(Tensor.square(wv), x))
      })
  const unchanged = async () => {
    expect(await now(w)).toEqual([1, 2])
    expect(await now(p)).toEqual({ a: [[1]], b: [3] })
    expect(await now(calls)).toBe(0)
  }
  return { w, p, calls, writer, unchanged }
})

describe("a successful call commits its writes, all together, as primal values", () => {
  for (const [name, t] of transforms) {
    it(name, async () => {
      const { w, p, calls, writer } = await run(setup)
      await run(t(writer(), { gradVars: w, argnums: 0 })(f64([1, 1])))
      expect(await now(w)).toEqual([0.9, 1.9])
      expect(await now(p)).toEqual({ a: [[2]], b: [6] })
      expect(await now(calls)).toBe(1)
      // primal data, not a graph over the call's input nodes
      for (const v of [w, p, calls] as const) expect(isSettled(v.current), v.label).toBe(true)
      await run(t(writer(), { gradVars: w })(f64([1, 1])))
      await expectTree(w.current, [0.8, 1.8], 1e-12)
      expect(await now(calls)).toBe(2)
    })
  }

  it("the gradients are taken at the values before the writes", async () => {
    const { w, writer } = await run(setup)
    // L = sum(w² x): ∂w = 2 w x, ∂x = w², at w = [1, 2]
    const [gw, gx] = (await run(grad(writer(), { gradVars: w, argnums: 0 })(f64([1, 1])))) as unknown as [Tensor.Tensor, Tensor.Tensor]
    await expectTree([gw, gx], [[2, 4], [1, 4]])
  })

  it("a later write of the same variable wins; reads inside see the pending value", async () => {
    const { w } = await run(setup)
    const seen: unknown[] = []
    const f = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        yield* Variable.set(w, f64([5, 5]))
        seen.push(yield* Effect.promise(() => now(w))) // another fiber (runPromise) sees the committed value
        yield* Variable.set(w, f64([6, 7]))
        seen.push(yield* Effect.flatMap(Variable.get(w), (v) => Tensor.toArray(v)))
        return Tensor.sum(x)
      })
    await run(grad(f)(f64([1])))
    expect(seen).toEqual([[1, 2], [6, 7]])
    expect(await now(w)).toEqual([6, 7])
  })
})

describe("aux and value hold primal values of what f read and wrote", () => {
  it("grad, jacfwd and hessian with hasAux: the entry value, the pending write, and the committed write agree", async () => {
    const { w } = await run(setup)
    const f = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        const v = yield* Variable.get(w)
        yield* Variable.set(w, Tensor.mul(v, x))
        return [Tensor.sum(Tensor.square(v)), { v, written: yield* Variable.get(w) }] as const
      })
    const x3 = () => f64([3, 3])
    // grad: ∂ sum(v²) = 2 v at the entry value [1, 2]
    const r1 = await run(grad(f, { gradVars: w, hasAux: true, returnValue: true })(x3()))
    expect(structure(r1)).toEqual(["T[2]", "T[]", { v: "T[2]", written: "T[2]" }])
    await expectTree(r1, [[2, 4], 5, { v: [1, 2], written: [3, 6] }])
    expect(isSettled(r1)).toBe(true)
    // jacfwd of the scalar: the same numbers, at the committed [3, 6]
    const r2 = await run(jacfwd(f, { gradVars: w, hasAux: true })(x3()))
    await expectTree(r2, [[6, 12], { v: [3, 6], written: [9, 18] }])
    // hessian: 2 I
    const r3 = await run(hessian(f, { gradVars: w, hasAux: true })(x3()))
    await expectTree(r3, [[[2, 0], [0, 2]], { v: [9, 18], written: [27, 54] }])
    expect(isSettled(r3)).toBe(true)
    expect(await now(w)).toEqual([27, 54])
  })
})

describe("a failed call commits nothing", () => {
  for (const [name, t] of transforms) {
    it(`${name}: a typed failure in f after the writes passes through with its type`, async () => {
      const { w, writer, unchanged } = await run(setup)
      const e = await failureOf(t(writer(Effect.fail(new Boom({ at: name }))), { gradVars: w })(f64([1, 1])))
      expect(e).toBeInstanceOf(Boom)
      expect((e as Boom).at).toBe(name)
      await unchanged()
    })

    it(`${name}: a defect (Effect.die) after the writes`, async () => {
      const { w, writer, unchanged } = await run(setup)
      const exit = await Effect.runPromiseExit(t(writer(Effect.die("kaput")), { gradVars: w })(f64([1, 1])))
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
      await unchanged()
    })

    it(`${name}: an exception thrown in f after the writes`, async () => {
      const { w, writer, unchanged } = await run(setup)
      const exit = await Effect.runPromiseExit(
        t(writer(Effect.sync(() => { throw new Error("thrown") })), { gradVars: w })(f64([1, 1]))
      )
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
      if (Exit.isFailure(exit)) expect((Cause.squash(exit.cause) as Error).message).toBe("thrown")
      await unchanged()
    })

    it(`${name}: interrupted while f is suspended on Effect.never after the writes`, async () => {
      const { w, writer, unchanged } = await run(setup)
      await run(
        Effect.gen(function* () {
          const wrote = yield* Deferred.make<void>()
          const fiber = yield* Effect.forkChild(t(writer(Effect.andThen(Deferred.succeed(wrote, undefined), Effect.never)), { gradVars: w })(f64([1, 1])))
          yield* Deferred.await(wrote)
          yield* Fiber.interrupt(fiber)
          const exit = yield* Fiber.await(fiber)
          expect(Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause)).toBe(true)
        })
      )
      await unchanged()
    })

    it(`${name}: interrupted while f waits on a Deferred, which is completed after`, async () => {
      const { w, writer, unchanged } = await run(setup)
      await run(
        Effect.gen(function* () {
          const wrote = yield* Deferred.make<void>()
          const gate = yield* Deferred.make<void>()
          const fiber = yield* Effect.forkChild(
            t(writer(Effect.andThen(Deferred.succeed(wrote, undefined), Deferred.await(gate))), { gradVars: w })(f64([1, 1]))
          )
          yield* Deferred.await(wrote)
          yield* Fiber.interrupt(fiber)
          yield* Deferred.succeed(gate, undefined)
          const exit = yield* Fiber.await(fiber)
          expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
        })
      )
      await unchanged()
    })
  }

  it("an exception thrown by the generator body of f, or by f itself before it returns an Effect", async () => {
    const { w, writer, unchanged } = await run(setup)
    for (const [name, t] of transforms) {
      const inGen = (x: Tensor.Tensor) =>
        Effect.gen(function* () {
          yield* writer()(x)
          if (x.ndim > 0) throw new Error(`generator ${name}`)
          return Tensor.sum(x)
        })
      const e1 = await Effect.runPromiseExit(t(inGen, { gradVars: w })(f64([1, 1])))
      expect(Exit.isFailure(e1) && Cause.hasDies(e1.cause), name).toBe(true)
      await unchanged()
      const plain = (): Effect.Effect<Tensor.Tensor> => {
        throw new Error(`plain ${name}`)
      }
      const e2 = await Effect.runPromiseExit(t(plain, { gradVars: w })())
      expect(Exit.isFailure(e2) && Cause.hasDies(e2.cause), name).toBe(true)
      if (Exit.isFailure(e2)) expect((Cause.squash(e2.cause) as Error).message).toBe(`plain ${name}`)
      await unchanged()
    }
  })

  it("an error found after f returned (AuxError, NonScalarOutputError) commits nothing", async () => {
    const { w, writer, unchanged } = await run(setup)
    const e = await failureOf(grad(writer(), { gradVars: w, hasAux: true })(f64([1, 1])))
    expect(e).toBeInstanceOf(AuxError)
    await unchanged()
    const vec = (x: Tensor.Tensor) => Effect.map(writer()(x), (s) => Tensor.mul(x, s))
    const e2 = await failureOf(grad(vec, { gradVars: w })(f64([1, 1])))
    expect(e2).toBeInstanceOf(NonScalarOutputError)
    await unchanged()
  })

  it("a failure that f catches itself does not undo the writes made before it", async () => {
    const { w, p, calls, writer } = await run(setup)
    const f = (x: Tensor.Tensor) => writer(Effect.catchTag(Effect.fail(new Boom({ at: "inner" })), "Boom", () => Effect.void))(x)
    await run(grad(f, { gradVars: w })(f64([1, 1])))
    expect(await now(w)).toEqual([0.9, 1.9])
    expect(await now(p)).toEqual({ a: [[2]], b: [6] })
    expect(await now(calls)).toBe(1)
  })
})

describe("nested transforms commit exactly once, at the outermost successful call", () => {
  it("grad of grad with gradVars: the counter goes up by one per outer call", async () => {
    const { w, calls, writer } = await run(setup)
    // inner: ∂/∂w sum(w² x) = 2 w x; outer: ∂/∂w sum(2 w x) = 2 x
    const inner = grad(writer(), { gradVars: w })
    const outer = grad((x: Tensor.Tensor) => Effect.map(inner(x), (g) => Tensor.sum(g as unknown as Tensor.Tensor)), { gradVars: w, argnums: 0 })
    for (let k = 1; k <= 3; k++) {
      const [gw, gx] = (await run(outer(f64([1, 3])))) as unknown as [Tensor.Tensor, Tensor.Tensor]
      const wBefore = [1 - 0.1 * (k - 1), 2 - 0.3 * (k - 1)] // w -= 0.1 x per call, x = [1, 3]
      await expectTree([gw, gx], [[2, 6], wBefore.map((v) => 2 * v)], 1e-9)
      expect(await now(calls)).toBe(k)
      expect(isSettled(w.current)).toBe(true)
    }
    await expectTree(w.current, [1 - 0.3, 2 - 0.9], 1e-12)
  })

  it("the inner call's writes go to the outer call: visible inside it, committed with it", async () => {
    const { w, calls, writer } = await run(setup)
    const seen: unknown[] = []
    const outer = grad(
      (x: Tensor.Tensor) =>
        Effect.gen(function* () {
          yield* grad(writer(), { gradVars: w })(x)
          seen.push(yield* Effect.promise(() => now(calls))) // outside: not yet committed
          seen.push(yield* Effect.flatMap(Variable.get(calls), Tensor.toArray)) // inside the outer call: the inner's write
          yield* grad(writer(), { gradVars: w })(x)
          return Tensor.sum(Tensor.mul(yield* Variable.get(w), x))
        }),
      { gradVars: w }
    )
    const g = await run(outer(f64([1, 1])))
    expect(seen).toEqual([0, 1])
    expect(await now(calls)).toBe(2)
    await expectTree(w.current, [0.8, 1.8], 1e-12)
    // the inner writes are w - 0.1 x twice: ∂/∂w sum(w_out x) = x
    await expectTree(g, [1, 1])
  })

  it("inner succeeds, outer fails afterwards: nothing is committed", async () => {
    const { w, writer, unchanged } = await run(setup)
    const outer = grad(
      (x: Tensor.Tensor) =>
        Effect.gen(function* () {
          yield* grad(writer(), { gradVars: w })(x)
          return yield* Effect.fail(new Boom({ at: "outer" }))
        }),
      { gradVars: w }
    )
    const e = await failureOf(outer(f64([1, 1])))
    expect((e as Boom).at).toBe("outer")
    await unchanged()
  })

  it("inner fails and the outer catches it: the outer's own writes commit, the inner's do not", async () => {
    const { w, p, calls, writer } = await run(setup)
    const outer = grad(
      (x: Tensor.Tensor) =>
        Effect.gen(function* () {
          yield* Variable.update(calls, (c) => Tensor.add(c, 10))
          yield* grad(writer(Effect.fail(new Boom({ at: "inner" }))), { gradVars: w })(x).pipe(Effect.catchTag("Boom", () => Effect.void))
          return Tensor.sum(Tensor.mul(yield* Variable.get(w), x))
        }),
      { gradVars: w }
    )
    const g = await run(outer(f64([1, 1])))
    await expectTree(g, [1, 1])
    expect(await now(calls)).toBe(10)
    expect(await now(w)).toEqual([1, 2])
    expect(await now(p)).toEqual({ a: [[1]], b: [3] })
  })

  it("jacrev of a function that writes, inside grad: one commit", async () => {
    const { w, calls } = await run(setup)
    const f = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        yield* Variable.update(calls, (c) => Tensor.add(c, 1))
        const wv = yield* Variable.get(w)
        yield* Variable.set(w, Tensor.mul(wv, 2))
        return Tensor.mul(Tensor.square(wv), x) // J_x = diag(w²)
      })
    const J = await run(jacrev(f)(f64([1, 1])))
    await expectTree(J, [[1, 0], [0, 4]])
    expect(await now(calls)).toBe(1)
    expect(await now(w)).toEqual([2, 4])
    // trace(J) = sum(w²) under grad w.r.t. w: 2 w (at w = [2, 4])
    const outer = grad(
      (x: Tensor.Tensor) => Effect.map(jacrev(f)(x), (j) => Tensor.sum(Tensor.mul(j as unknown as Tensor.Tensor, Tensor.eye(2, 2, { dtype: "float64" })))),
      { gradVars: w }
    )
    await expectTree(await run(outer(f64([1, 1]))), [4, 8])
    expect(await now(calls)).toBe(2)
    expect(await now(w)).toEqual([4, 8])
    expect(isSettled(w.current)).toBe(true)
  })

  it("hessian with gradVars (jacfwd of jacrev): one commit per call", async () => {
    const { w, p, calls, writer } = await run(setup)
    for (let k = 1; k <= 2; k++) {
      // L = sum(w² x): H_ww = diag(2x), H_wx = diag(2w)
      const H = await run(hessian(writer(), { gradVars: w, argnums: 0 })(f64([1, 3])))
      expect(structure(H)).toEqual([["T[2,2]", "T[2,2]"], ["T[2,2]", "T[2,2]"]])
      const wv = k === 1 ? [1, 2] : [0.9, 1.7]
      await expectTree(H, [[[[2, 0], [0, 6]], [[2 * wv[0]!, 0], [0, 2 * wv[1]!]]], [[[2 * wv[0]!, 0], [0, 2 * wv[1]!]], [[0, 0], [0, 0]]]], 1e-12)
      expect(await now(calls)).toBe(k)
    }
    await expectTree(w.current, [0.8, 1.4], 1e-12)
    expect(await now(p)).toEqual({ a: [[4]], b: [12] })
    expect(isSettled(w.current) && isSettled(p.current)).toBe(true)
  })

  it("hessian of grad of a writing function: still one commit per outermost call", async () => {
    const { w, calls, writer } = await run(setup)
    const g = (x: Tensor.Tensor) => Effect.map(grad(writer(), { gradVars: w })(x), (gw) => Tensor.sum(Tensor.mul(gw as unknown as Tensor.Tensor, x)))
    // sum(2 w x ∘ x): H_xx = diag(4 w)
    await expectTree(await run(hessian(g)(f64([1, 1]))), [[4, 0], [0, 8]])
    expect(await now(calls)).toBe(1)
    await expectTree(w.current, [0.9, 1.9], 1e-12)
  })
})

describe("jvp, vjp and vmap follow the same rules", () => {
  const calls3 = (tag: string) => [
    [`${tag} jvp`, (f: (x: Tensor.Tensor) => Effect.Effect<Tensor.Tensor, unknown>) => jvp(f, [f64([1, 1])], [f64([1, 0])])],
    [`${tag} vjp`, (f: (x: Tensor.Tensor) => Effect.Effect<Tensor.Tensor, unknown>) => vjp(f, f64([1, 1]))],
    [`${tag} vmap`, (f: (x: Tensor.Tensor) => Effect.Effect<Tensor.Tensor, unknown>) => vmap(f)(f64([[1, 1], [2, 2]]))]
  ] as const

  for (const [name, call] of calls3("success:")) {
    it(`${name} commits the writes once, as primal values`, async () => {
      const { w, p, calls, writer } = await run(setup)
      // vmap: the write must not depend on the batch, so write w - 0.1 (not w - 0.1 x)
      const f = (x: Tensor.Tensor) => Effect.map(writer()(Tensor.onesLike(x)), (s) => Tensor.mul(x, s))
      await run(call(f) as Effect.Effect<unknown, unknown>)
      await expectTree(w.current, [0.9, 1.9], 1e-12)
      expect(await now(p)).toEqual({ a: [[2]], b: [6] })
      expect(await now(calls)).toBe(1)
      expect(isSettled(w.current) && isSettled(p.current) && isSettled(calls.current)).toBe(true)
    })
  }

  for (const [name, call] of calls3("failure:")) {
    it(`${name} a typed failure, a defect or an interruption after the writes commits nothing`, async () => {
      const { writer, unchanged } = await run(setup)
      const f = (then: Effect.Effect<void, unknown>) => (x: Tensor.Tensor) => Effect.map(writer(then)(Tensor.onesLike(x)), (s) => Tensor.mul(x, s))
      const e = await failureOf(call(f(Effect.fail(new Boom({ at: name }))) as never) as Effect.Effect<unknown, unknown>)
      expect(e).toBeInstanceOf(Boom)
      await unchanged()
      const died = await Effect.runPromiseExit(call(f(Effect.die("x")) as never) as Effect.Effect<unknown, unknown>)
      expect(Exit.isFailure(died) && Cause.hasDies(died.cause)).toBe(true)
      await unchanged()
      await run(
        Effect.gen(function* () {
          const wrote = yield* Deferred.make<void>()
          const fiber = yield* Effect.forkChild(call(f(Effect.andThen(Deferred.succeed(wrote, undefined), Effect.never))) as Effect.Effect<unknown, unknown>)
          yield* Deferred.await(wrote)
          yield* Fiber.interrupt(fiber)
        })
      )
      await unchanged()
    })
  }
})
