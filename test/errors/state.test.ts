/**
 * StateError, the user's own failures passing through every transform with
 * their tags, and state after a failure: a transform call that fails, dies
 * (a defect in the user's code) or is interrupted commits nothing, so every
 * Variable keeps its value (and a Random key is not advanced).
 */
import { Cause, Data, Deferred, Effect, Exit, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { Random, Tensor, TrainVar, Variable } from "@diffect/core"
import * as Codec from "@diffect/core/Codec"
import { grad, hessian, jacfwd, jacrev, jvp, valueAndGrad, vectorGrad, vjp, vmap } from "@diffect/transforms"
import { expectFailure, f64, noThrow, type T, valueOf } from "./helpers.js"

const x2 = f64([1, 2])
const make = (data: Parameters<typeof f64>[0], name?: string) => Effect.runPromise(Variable.make(f64(data), { name }))

describe("StateError", () => {
  it("a write of another shape, dtype or structure names the Variable and both", async () => {
    const w = await make([1, 2], "w")
    await expectFailure(Variable.set(w, f64([1, 2, 3])), "StateError", "set w: expected float64[2], got float64[3]")
    await expectFailure(Variable.set(w, Tensor.ones([2])), "StateError", "set w: expected float64[2], got float32[2]")
    await expectFailure(Variable.set(w, [x2] as never), "StateError", "set w: expected a value of structure Tensor, got [Tensor]")
    await expectFailure(Variable.set(w, null as never), "StateError", "set w", "got null")
    await expectFailure(Variable.set(w, 3 as never), "StateError", "set w", "got number")
    await expectFailure(Variable.update(w, (v) => Tensor.reshape(v, [1, 2])), "StateError", "set w: expected float64[2], got float64[1, 2]")
    const p = await Effect.runPromise(TrainVar.make({ a: f64([1]), b: [f64([[1, 2]])] }, { name: "params" }))
    await expectFailure(Variable.set(p, { a: f64([1]), b: [f64([1, 2])] }), "StateError", "set params: expected float64[1, 2] at leaf 1, got float64[2]")
    await expectFailure(Variable.set(p, { a: f64([1]) } as never), "StateError", "set params: expected a value of structure { a: Tensor, b: [Tensor] }, got { a: Tensor }")
    expect(await valueOf(w)).toEqual([1, 2])
  })

  it("what is not a Variable, functions that are not functions, options of the wrong kind", async () => {
    const w = await make([1, 2])
    await expectFailure(Variable.get(null as never), "StateError", "Variable.get: expected a Variable, got null")
    await expectFailure(Variable.get(x2 as never), "StateError", "Variable.get: expected a Variable, got Tensor(float64[2])")
    await expectFailure(Variable.set({ current: x2 } as never, x2), "StateError", "Variable.set: expected a Variable, got an object")
    await expectFailure(Variable.update(w, "inc" as never), "StateError", "Variable.update", 'expected a function of the value, got the string "inc"')
    await expectFailure(Variable.make(x2, { name: 5 } as never), "StateError", "Variable.make: options.name must be a string, got the number 5")
    await expectFailure(Variable.make(x2, "w" as never), "StateError", "Variable.make: options must be an object")
    await expectFailure(Variable.make(42 as never), "StateError", "Variable.make: expected a tensor or a pytree of tensors")
    await expectFailure(TrainVar.make(x2, null as never), "StateError", "options must be an object", "got null")
    // inside a transform too
    await expectFailure(grad((x: T) => Effect.map(Variable.get(undefined as never), () => Tensor.sum(x)))(x2), "StateError", "Variable.get: expected a Variable, got undefined")
  })

  it("a bad write inside a transform fails the call and writes nothing", async () => {
    const w = await make([1, 2], "w")
    const c = await make([0], "c")
    const f = (x: T) =>
      Effect.gen(function* () {
        yield* Variable.set(c, f64([7]))
        yield* Variable.set(w, Tensor.concat([x, x]))
        return Tensor.sum(Tensor.square(x))
      })
    await expectFailure(grad(f)(x2), "StateError", "set w: expected float64[2], got float64[4]")
    expect(await valueOf(w)).toEqual([1, 2])
    expect(await valueOf(c)).toEqual([0])
  })

  it("vmap writing a value that depends on the batch; restoring a checkpoint that is not one", async () => {
    const w = await make([0, 0], "w")
    await expectFailure(vmap((r: T) => Effect.as(Variable.set(w, r), Tensor.sum(r)))(f64([[1, 2], [3, 4]])), "StateError", "vmap", "depends on the batch", "w")
    await expectFailure(Codec.restoreVariables({ w }, { format: "other" }), "StateError", "Codec.restoreVariables: not a diffect checkpoint")
    await expectFailure(Codec.saveVariables({ w: x2 } as never), "StateError", 'Codec.saveVariables: "w" is not a Variable')
    expect(await valueOf(w)).toEqual([0, 0])
  })
})

class MyError extends Data.TaggedError("MyError")<{ readonly reason: string }> {}

describe("the user's own failures pass through with their types", () => {
  const boom = new MyError({ reason: "bad batch" })
  const failing = (x: T) => Effect.flatMap(Effect.succeed(Tensor.sum(Tensor.square(x))), () => Effect.fail(boom))
  const transforms: ReadonlyArray<readonly [string, (x: T) => Effect.Effect<unknown, unknown>]> = [
    ["grad", (x) => grad(failing)(x)],
    ["valueAndGrad", (x) => valueAndGrad(failing)(x)],
    ["vectorGrad", (x) => vectorGrad(failing)(x)],
    ["jacrev", (x) => jacrev(failing)(x)],
    ["jacfwd", (x) => jacfwd(failing)(x)],
    ["hessian", (x) => hessian(failing)(x)],
    ["jvp", (x) => jvp(failing, [x], [x])],
    ["vjp", (x) => vjp(failing, x)],
    ["vmap", (x) => vmap(failing)(Tensor.reshape(x, [2, 1]))],
    ["grad of grad", (x) => grad((y: T) => Effect.map(grad(failing)(y), (g) => Tensor.sum(g as T)))(x)],
    ["vmap of grad", (x) => vmap(grad(failing))(Tensor.reshape(x, [2, 1]))],
    ["hasAux + gradVars", (x) => Effect.flatMap(Variable.make(x), (v) => grad(failing, { gradVars: v, hasAux: true })(x))]
  ]
  for (const [name, t] of transforms)
    it(name, async () => {
      const exit = await Effect.runPromiseExit(t(x2))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(Cause.hasDies(exit.cause)).toBe(false)
        const e = Cause.squash(exit.cause)
        expect(e).toBe(boom)
        expect((e as MyError)._tag).toBe("MyError")
        expect((e as MyError).reason).toBe("bad batch")
      }
      // catchTag sees it with its type
      const caught = await Effect.runPromise(
        (t(x2) as Effect.Effect<unknown, MyError>).pipe(Effect.catchTag("MyError", (err) => Effect.succeed(`caught ${err.reason}`)))
      )
      expect(caught).toBe("caught bad batch")
    })
})

describe("a failure, a defect or an interruption in a transform call leaves every Variable as it was", () => {
  /** f writes `w` and `c` (and advances a Random key), then ends with `end`. */
  const setup = async () => {
    const w = await make([1, 2], "w")
    const c = await make([5], "c")
    const key = await Effect.runPromise(Random.key(1))
    const keyBefore = await valueOf(key as Variable.Variable<T>)
    const writer = (end: Effect.Effect<void, MyError>) => (x: T) =>
      Effect.gen(function* () {
        const v = yield* Variable.get(w)
        yield* Variable.set(w, Tensor.mul(v, 10))
        yield* Variable.update(c, (y) => Tensor.add(y, 1))
        yield* Random.uniform(key, [3])
        yield* end
        return Tensor.sum(Tensor.mul(x, v))
      })
    const unchanged = async () => {
      expect(await valueOf(w)).toEqual([1, 2])
      expect(await valueOf(c)).toEqual([5])
      expect(await valueOf(key as Variable.Variable<T>)).toEqual(keyBefore)
    }
    return { w, writer, unchanged }
  }

  it("the same call succeeding commits every write (the baseline)", async () => {
    const { w, writer } = await setup()
    await Effect.runPromise(grad(writer(Effect.void))(x2))
    expect(await valueOf(w)).toEqual([10, 20])
  })

  it("a typed failure", async () => {
    const { writer, unchanged } = await setup()
    await expectFailure(grad(writer(Effect.fail(new MyError({ reason: "x" }))))(x2), "MyError")
    await unchanged()
  })

  it("a defect: Effect.die, or an exception thrown by f's code", async () => {
    const { w, writer, unchanged } = await setup()
    for (const end of [Effect.die("boom"), Effect.sync(() => { throw new Error("boom") })]) {
      const exit = await Effect.runPromiseExit(grad(writer(end as Effect.Effect<void, never>))(x2))
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
      await unchanged()
    }
    // f itself throwing before returning an Effect
    const exit = await Effect.runPromiseExit(grad((_x: T): T => { throw new Error("sync") })(x2))
    expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
    // a pure op inside f with junk does not throw: it is a typed failure
    await expectFailure(grad((x: T) => Effect.as(Variable.set(w, Tensor.mul(x, 3)), Tensor.sum(Tensor.add(x, "1" as never))))(x2), "DTypeError", "add")
    await unchanged()
  })

  it("an interruption in the middle of the call (after the writes, before the end)", async () => {
    const { writer, unchanged } = await setup()
    for (const t of [grad, jacrev, jacfwd] as const) {
      const program = Effect.gen(function* () {
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.forkChild((t as typeof grad)(writer(Effect.andThen(Deferred.succeed(started, undefined), Effect.never)))(x2))
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        return yield* Fiber.await(fiber)
      })
      const exit = await Effect.runPromise(program)
      expect(Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause)).toBe(true)
      await unchanged()
    }
  })

  it("nested calls: an inner call commits into the outer one, and the outer failure drops it", async () => {
    const { writer, unchanged } = await setup()
    const outer = (x: T) =>
      Effect.gen(function* () {
        yield* grad(writer(Effect.void))(x) // inner succeeds: its writes go to the outer call
        return yield* Effect.fail(new MyError({ reason: "outer" }))
      })
    await expectFailure(valueAndGrad(outer)(x2), "MyError")
    await unchanged()
    const interrupted = Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        vmap((r: T) => Effect.gen(function* () {
          yield* grad(writer(Effect.void))(r)
          yield* Deferred.succeed(started, undefined)
          return yield* Effect.never
        }))(f64([[1, 2], [3, 4]]))
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
    })
    await Effect.runPromise(interrupted)
    await unchanged()
  })

  it("bad arguments never throw at the call site: building and calling a transform with junk", async () => {
    const { unchanged } = await setup()
    noThrow(() => grad(null as never, "x" as never)(x2))
    noThrow(() => vmap(undefined as never, 5 as never)(x2))
    noThrow(() => jvp(null as never, null as never, null as never))
    noThrow(() => vjp(null as never, null))
    await unchanged()
  })
})
