/**
 * Transform calls on different fibers never see each other's uncommitted
 * writes. Interleavings are made deterministic with Deferreds: each step
 * of one call waits for a signal from the other.
 */
import { Deferred, Effect, Fiber, Latch } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor, Variable } from "@diffect/core"
import { grad, jacrev, valueAndGrad } from "@diffect/transforms"
import { expectTree, f64, now, run } from "./helpers.js"

const signal = () => Deferred.make<void>()
const fire = (d: Deferred.Deferred<void>) => Deferred.succeed(d, undefined)
const read = (v: Variable.Variable<Tensor.Tensor>) => Effect.flatMap(Variable.get(v), Tensor.toArray)

describe("concurrent transform calls", () => {
  it("two calls interleaved: each sees the committed state and its own writes only", async () => {
    const v = await run(Variable.make(f64([1]), { name: "v" }))
    const log: Array<[string, unknown]> = []
    await run(
      Effect.gen(function* () {
        const aWrote = yield* signal(), bWrote = yield* signal(), bDone = yield* signal()
        // A: write 10, let B run, read (must be its own 10), then wait for B to commit, read again
        const A = (x: Tensor.Tensor) =>
          Effect.gen(function* () {
            yield* Variable.set(v, f64([10]))
            yield* fire(aWrote)
            yield* Deferred.await(bWrote)
            log.push(["A after B wrote", yield* read(v)])
            yield* Deferred.await(bDone)
            log.push(["A after B committed", yield* read(v)])
            return Tensor.sum(Tensor.mul(yield* Variable.get(v), x))
          })
        // B: started after A wrote; reads (must be the committed 1), writes 20, reads its 20
        const B = (x: Tensor.Tensor) =>
          Effect.gen(function* () {
            yield* Deferred.await(aWrote)
            log.push(["B before writing", yield* read(v)])
            yield* Variable.set(v, f64([20]))
            log.push(["B after writing", yield* read(v)])
            yield* fire(bWrote)
            return Tensor.sum(Tensor.mul(yield* Variable.get(v), x))
          })
        const fa = yield* Effect.forkChild(grad(A)(f64([1])))
        const fb = yield* Effect.forkChild(grad(B)(f64([1])))
        const gb = yield* Fiber.join(fb)
        log.push(["outside after B", yield* read(v)])
        yield* fire(bDone)
        const ga = yield* Fiber.join(fa)
        log.push(["outside after A", yield* read(v)])
        log.push(["grads", [yield* Tensor.toArray(ga as Tensor.Tensor), yield* Tensor.toArray(gb as Tensor.Tensor)]])
      })
    )
    expect(log).toEqual([
      ["B before writing", [1]],
      ["B after writing", [20]],
      ["A after B wrote", [10]],
      ["outside after B", [20]],
      ["A after B committed", [10]],
      ["outside after A", [10]],
      ["grads", [[10], [20]]]
    ])
  })

  it("a plain reader on another fiber sees none of a suspended call's writes", async () => {
    const a = await run(Variable.make(f64([1, 2]), { name: "a" }))
    const b = await run(Variable.make({ k: f64(3) }, { name: "b" }))
    const seen = await run(
      Effect.gen(function* () {
        const wrote = yield* signal(), go = yield* signal()
        const f = (x: Tensor.Tensor) =>
          Effect.gen(function* () {
            yield* Variable.set(a, f64([7, 8]))
            yield* Variable.set(b, { k: f64(9) })
            yield* fire(wrote)
            yield* Deferred.await(go)
            return Tensor.sum(x)
          })
        const fiber = yield* Effect.forkChild(valueAndGrad(f)(f64([1])))
        yield* Deferred.await(wrote)
        const during = [yield* read(a), yield* Effect.flatMap(Variable.get(b), ({ k }) => Tensor.toArray(k))]
        yield* fire(go)
        yield* Fiber.join(fiber)
        const after = [yield* read(a), yield* Effect.flatMap(Variable.get(b), ({ k }) => Tensor.toArray(k))]
        return { during, after }
      })
    )
    expect(seen).toEqual({ during: [[1, 2], 3], after: [[7, 8], 9] })
  })

  it("a call keeps the value it read first (snapshot), and does not overwrite what it did not write", async () => {
    const v = await run(Variable.make(f64([1, 2]), { name: "v" }))
    const u = await run(Variable.make(f64([0]), { name: "u" }))
    const out = await run(
      Effect.gen(function* () {
        const readOnce = yield* signal(), changed = yield* signal()
        const f = (x: Tensor.Tensor) =>
          Effect.gen(function* () {
            const first = yield* Variable.get(v)
            yield* fire(readOnce)
            yield* Deferred.await(changed)
            const second = yield* Variable.get(v) // still the snapshot
            const uNow = yield* Variable.get(u) // read for the first time: the committed value
            yield* Variable.set(u, Tensor.add(uNow, 1))
            return [Tensor.sum(Tensor.mul(Tensor.mul(first, second), x)), [second, uNow]] as const
          })
        const fiber = yield* Effect.forkChild(grad(f, { gradVars: v, hasAux: true })(f64([1, 1])))
        yield* Deferred.await(readOnce)
        yield* Variable.set(v, f64([5, 5])) // a direct write on this fiber
        yield* Variable.set(u, f64([100]))
        yield* fire(changed)
        const [g, [second, uSeen]] = (yield* Fiber.join(fiber)) as unknown as [Tensor.Tensor, [Tensor.Tensor, Tensor.Tensor]]
        return { g: yield* Tensor.toArray(g), second: yield* Tensor.toArray(second), uSeen: yield* Tensor.toArray(uSeen) }
      })
    )
    // d/dv sum(v ∘ v ∘ x) = 2 v x at the value at entry [1, 2]
    expect(out).toEqual({ g: [2, 4], second: [1, 2], uSeen: [100] })
    expect(await now(v)).toEqual([5, 5]) // the call did not write v
    expect(await now(u)).toEqual([101])
  })

  it("many calls on different fibers, each waiting for all to have written: each sees only its own write", async () => {
    const n = 6
    const v = await run(Variable.make(f64([0]), { name: "v" }))
    const results = await run(
      Effect.gen(function* () {
        const latch = yield* Latch.make(false)
        const wrote = yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), () => signal())
        const call = (i: number) =>
          jacrev((x: Tensor.Tensor) =>
            Effect.gen(function* () {
              yield* Variable.set(v, f64([i]))
              yield* fire(wrote[i]!)
              yield* latch.await
              return Tensor.mul(x, yield* Variable.get(v))
            })
          )(f64([1]))
        const fibers = yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => Effect.forkChild(call(i)))
        yield* Effect.forEach(wrote, (d) => Deferred.await(d))
        expect(yield* read(v)).toEqual([0])
        yield* latch.open
        return yield* Effect.forEach(fibers, (f) => Effect.flatMap(Fiber.join(f), (j) => Tensor.toArray(j as Tensor.Tensor)))
      })
    )
    expect(results).toEqual(Array.from({ length: n }, (_, i) => [[i]]))
    // every call committed its own write; the last one to commit wins
    expect(Array.from({ length: n }, (_, i) => [i])).toContainEqual(await now(v))
  })

  it("a fiber forked inside f belongs to the same call: its writes commit with it", async () => {
    const v = await run(Variable.make(f64([1]), { name: "v" }))
    const outside = await run(
      Effect.gen(function* () {
        const childWrote = yield* signal(), go = yield* signal()
        const f = (x: Tensor.Tensor) =>
          Effect.gen(function* () {
            const child = yield* Effect.forkChild(Effect.andThen(Variable.set(v, f64([3])), fire(childWrote)))
            yield* Fiber.join(child)
            yield* Deferred.await(go)
            return Tensor.sum(Tensor.mul(yield* Variable.get(v), x))
          })
        const fiber = yield* Effect.forkChild(grad(f)(f64([1])))
        yield* Deferred.await(childWrote)
        const during = yield* read(v)
        yield* fire(go)
        const g = yield* Fiber.join(fiber)
        return { during, g: yield* Tensor.toArray(g as Tensor.Tensor) }
      })
    )
    expect(outside).toEqual({ during: [1], g: [3] })
    await expectTree(await run(Variable.get(v)), [3])
  })
})
