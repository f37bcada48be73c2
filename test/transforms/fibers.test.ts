/**
 * Fiber isolation: transform calls on concurrent fibers, interleaved by
 * `Effect.yieldNow()` inside the differentiated functions, give the same
 * results as when run alone; and one fiber never sees another's
 * uncommitted Variable writes.
 */
import { Deferred, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, jvp, valueAndGrad, vjp, vmap } from "@diffect/transforms"
import { expectClose, expectSameTree, f64, run, type T } from "./helpers.js"

const x = f64([0.5, -1, 2])
const X = f64([[1, 2, 3], [4, 5, 6]])

/** f with a yield between every op, so concurrent calls interleave. */
const yielding = (...steps: ReadonlyArray<(t: T) => T>) => (a: T) =>
  Effect.gen(function* () {
    let t = a
    for (const s of steps) {
      yield* Effect.yieldNow
      t = s(t)
    }
    return t
  })

describe("concurrent fibers", () => {
  it("different functions differentiated concurrently give the results they give alone", async () => {
    const f1 = yielding(Tensor.sin, Tensor.exp, Tensor.sum)
    const f2 = yielding((t) => Tensor.mul(t, t), Tensor.tanh, (t) => Tensor.sum(t))
    const f3 = yielding(Tensor.cos, (t) => Tensor.mul(t, 3))
    const f4 = yielding((t) => Tensor.mul(t, Tensor.mul(t, t)), Tensor.sum)
    const f5 = yielding(Tensor.exp, Tensor.sum)
    const tasks = () =>
      [
        grad(f1)(x),
        grad(f2)(x),
        jacfwd(f3)(x),
        jacrev(f3)(x),
        hessian(f4)(x),
        vmap(grad(f5))(X),
        Effect.map(valueAndGrad(f2)(x), ([v, g]) => [v, g]),
        Effect.map(jvp(f3, [x], [Tensor.onesLike(x)]), ([, t]) => t),
        Effect.flatMap(vjp(f3, x), ([, pb]) => pb(f64([1, 2, 3]))),
        grad(grad((s: T) => Effect.map(f1(s), (r) => r)))(f64(0.3))
      ] as const
    const alone: unknown[] = []
    for (const t of tasks()) alone.push(await run(t as Effect.Effect<unknown, unknown>))
    const together = await run(Effect.all(tasks(), { concurrency: "unbounded" }))
    for (let i = 0; i < alone.length; i++) await expectSameTree(together[i], alone[i], { rtol: 0, atol: 0 }, `task ${i}`)
    // and the values are right
    await expectClose(together[0], [0.5, -1, 2].map((v) => Math.cos(v) * Math.exp(Math.sin(v))))
    await expectClose(together[4], [[3, 0, 0], [0, -6, 0], [0, 0, 12]])
  })

  it("many fibers with the same function shape but different constants", async () => {
    const tasks = Array.from({ length: 24 }, (_, k) =>
      grad((a: T) =>
        Effect.gen(function* () {
          yield* Effect.yieldNow
          const p = Tensor.pow(a, k % 4 + 1)
          yield* Effect.yieldNow
          return Tensor.sum(Tensor.mul(p, k))
        })
      )(x)
    )
    const results = await run(Effect.all(tasks, { concurrency: "unbounded" }))
    for (let k = 0; k < 24; k++) {
      const n = k % 4 + 1
      await expectClose(results[k]!, [0.5, -1, 2].map((v) => k * n * v ** (n - 1)), { rtol: 1e-12, atol: 1e-12 }, `fiber ${k}`)
    }
  })

  it("a nested transform on one fiber and a plain one on another, interleaved inside both levels", async () => {
    const inner = yielding(Tensor.tanh, Tensor.sum)
    const nested = grad((a: T) => Effect.flatMap(Effect.yieldNow, () => Effect.map(grad(inner)(a), Tensor.sum)))
    const plain = jacrev(yielding(Tensor.exp, (t) => Tensor.mul(t, 2)))
    const [h, j] = await run(Effect.all([nested(x), plain(x)], { concurrency: "unbounded" }))
    await expectClose(h, [0.5, -1, 2].map((v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)), { rtol: 1e-12, atol: 1e-12 })
    await expectClose(j, [0, 1, 2].map((i) => [0, 1, 2].map((k) => (i === k ? 2 * Math.exp([0.5, -1, 2][i]!) : 0))))
  })
})

describe("state across fibers", () => {
  it("one fiber does not see another's uncommitted writes; both commit on success", async () => {
    const program = Effect.gen(function* () {
      const v = yield* Variable.make(f64([1, 1, 1]))
      const wrote = yield* Deferred.make<void>()
      const read = yield* Deferred.make<void>()
      // A: reads v as a gradVar, writes 10·v, lets B read, then finishes
      const a = grad(
        (t: T) =>
          Effect.gen(function* () {
            const w = yield* Variable.get(v)
            yield* Variable.set(v, Tensor.mul(w, 10))
            const own = yield* Variable.get(v) // its own pending write
            yield* Deferred.succeed(wrote, undefined)
            yield* Deferred.await(read)
            return Tensor.sum(Tensor.add(Tensor.mul(w, t), Tensor.mul(own, 0)))
          }),
        { gradVars: v, argnums: 0 }
      )(x)
      // B: waits for A's (uncommitted) write, reads v inside its own transform: it must see the committed value
      const b = Effect.gen(function* () {
        yield* Deferred.await(wrote)
        const seen = yield* grad((t: T) =>
          Effect.gen(function* () {
            const w = yield* Variable.get(v)
            yield* Effect.yieldNow
            return Tensor.sum(Tensor.mul(w, t))
          })
        )(x)
        const outside = yield* Tensor.toArray(yield* Variable.get(v))
        yield* Deferred.succeed(read, undefined)
        return [seen, outside] as const
      })
      const [[gv, gx], [seenByB, outside]] = yield* Effect.all([a, b], { concurrency: "unbounded" })
      const after = yield* Tensor.toArray(yield* Variable.get(v))
      return { gv, gx, seenByB, outside, after }
    })
    const r = await run(program)
    await expectClose(r.seenByB, [1, 1, 1], undefined, "B's gradient is the committed v")
    expect(r.outside).toEqual([1, 1, 1])
    await expectClose(r.gv, [0.5, -1, 2], undefined, "A's gradient wrt v is x")
    await expectClose(r.gx, [1, 1, 1], undefined, "A's gradient wrt x is v as read")
    expect(r.after).toEqual([10, 10, 10])
  })
})
