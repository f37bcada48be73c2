/**
 * Evaluation as users see it: buffers go back to the backend right after
 * their last use (what is live, not everything computed), a long read lets
 * other fibers run, and an interrupted read stops, releasing what it made.
 */
import fc from "fast-check"
import { Effect, Exit, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { Backend, type BackendShape, CpuBackend, Tensor } from "@diffect/core"
import { grad, scan, whileLoop } from "@diffect/transforms"

/** The CPU backend, counting live buffers (made by kernels, not yet disposed) and kernel calls. */
const counting = () => {
  const cpu = CpuBackend.backend
  const live = new Set<unknown>()
  const stats = { calls: 0, peak: 0, live: () => live.size }
  const track = (h: unknown, args: ReadonlyArray<{ handle: unknown }>) => {
    stats.calls++
    if (!args.some((a) => a.handle === h)) live.add(h)
    stats.peak = Math.max(stats.peak, live.size)
    return h
  }
  const kernels = Object.fromEntries(
    Object.entries(cpu.kernels).map(([k, kernel]) => [k, (args: never, p: never, out: never) => track((kernel as (a: never, p: never, o: never) => unknown)(args, p, out), args)])
  ) as unknown as BackendShape["kernels"]
  // no views nor fusion: every node is one kernel call with its own buffer
  const backend: BackendShape = {
    name: "counting-cpu",
    supports: cpu.supports,
    upload: (host) => host.slice(),
    download: cpu.download,
    dispose: (h) => void live.delete(h),
    kernels
  }
  return { backend, stats }
}

const chain = (x: Tensor.Tensor, n: number): Tensor.Tensor => {
  let y = x
  for (let i = 0; i < n; i++) y = Tensor.tanh(Tensor.matmul(y, x))
  return y
}

describe("evaluation", () => {
  it("gives each intermediate buffer back after its last use: the peak is what is live", async () => {
    const { backend, stats } = counting()
    const x = Tensor.mul(Tensor.ones([16, 16]), 0.01)
    const y = chain(x, 500) // 1,000 intermediates
    await Effect.runPromise(Tensor.data(y).pipe(Effect.provideService(Backend, backend)))
    expect(stats.calls).toBeGreaterThanOrEqual(1000)
    expect(stats.peak).toBeLessThanOrEqual(4)
    expect(stats.live()).toBe(1) // the result, now held by y
  })

  it("a long read lets other fibers run while it evaluates", async () => {
    const order: string[] = []
    const x = Tensor.mul(Tensor.ones([192, 192]), 0.001)
    const program = Effect.gen(function* () {
      const reader = yield* Effect.forkChild(Effect.map(Tensor.data(chain(x, 400)), () => order.push("read")))
      const sleeper = yield* Effect.forkChild(Effect.map(Effect.sleep(5), () => order.push("slept")))
      yield* Fiber.join(sleeper)
      yield* Fiber.join(reader)
    })
    await Effect.runPromise(program)
    // a synchronous evaluation would finish the read before the 5 ms timer could fire
    expect(order).toEqual(["slept", "read"])
  })

  it("an interrupted read stops at once and releases every buffer it made", async () => {
    const { backend, stats } = counting()
    const x = Tensor.mul(Tensor.ones([128, 128]), 0.001)
    const y = chain(x, 4000)
    const program = Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(Tensor.data(y))
      yield* Effect.sleep(15)
      yield* Fiber.interrupt(fiber)
      return yield* Fiber.await(fiber)
    })
    const exit = await Effect.runPromise(program.pipe(Effect.provideService(Backend, backend)))
    expect(Exit.isFailure(exit)).toBe(true)
    const calls = stats.calls
    expect(calls).toBeGreaterThan(0)
    expect(calls).toBeLessThan(8000)
    expect(stats.live()).toBe(0)
    await new Promise((r) => setTimeout(r, 20))
    expect(stats.calls).toBe(calls) // nothing ran after the interruption
  })

  describe("a long loop (scan) cooperates like a long chain", () => {
    const n = 64
    const W = Tensor.mul(Tensor.ones([n, n]), 0.5 / n)
    const x0 = Tensor.mul(Tensor.ones([n]), 0.5)
    /** mean(x_T²) after `steps` steps of x ← x + 0.1·(tanh(W x) − x). */
    const simulate = (steps: number) => (w: Tensor.Tensor) =>
      Effect.map(
        scan((x: Tensor.Tensor) => [Tensor.add(x, Tensor.mul(Tensor.sub(Tensor.tanh(Tensor.matmul(w, x)), x), 0.1)), null] as const, x0, null, { length: steps }),
        ([xT]) => Tensor.mean(Tensor.square(xT))
      )

    it("a fiber sleeping 5 ms wakes before a read of a long scan ends, and the read's value is that of a read alone", async () => {
      const order: string[] = []
      const steps = 20_000 // tens of milliseconds at least
      const alone = await Effect.runPromise(Effect.flatMap(simulate(steps)(W), Tensor.item))
      const program = Effect.gen(function* () {
        const reader = yield* Effect.forkChild(Effect.flatMap(Effect.flatMap(simulate(steps)(W), Tensor.item), (v) => Effect.sync(() => order.push(`read ${v}`))))
        const sleeper = yield* Effect.forkChild(Effect.map(Effect.sleep(5), () => order.push("slept")))
        yield* Fiber.join(sleeper)
        yield* Fiber.join(reader)
      })
      await Effect.runPromise(program)
      expect(order).toEqual(["slept", `read ${alone}`])
    })

    it("so does a long whileLoop: a fiber sleeping 5 ms wakes before it ends", async () => {
      const order: string[] = []
      const count = whileLoop((i: Tensor.Tensor) => Tensor.less(i, 200_000), (i: Tensor.Tensor) => Tensor.add(i, 1), Tensor.make(0, { dtype: "int32" }))
      const program = Effect.gen(function* () {
        const reader = yield* Effect.forkChild(Effect.flatMap(Effect.flatMap(count, Tensor.item), (v) => Effect.sync(() => order.push(`read ${v}`))))
        const sleeper = yield* Effect.forkChild(Effect.map(Effect.sleep(5), () => order.push("slept")))
        yield* Fiber.join(sleeper)
        yield* Fiber.join(reader)
      })
      await Effect.runPromise(program)
      expect(order).toEqual(["slept", "read 200000"])
    })

    it("the gradient through a long scan cooperates too, under Effect.runSync as well", () => {
      // yielding between slices needs no Promise: runSync still runs a long loop to its end
      const g = Effect.runSync(Effect.flatMap(grad(simulate(5_000))(W), Tensor.data))
      expect(g.length).toBe(n * n)
      expect(g.every(Number.isFinite)).toBe(true)
    })

    it("an interrupted read stops between two steps of the loop, runs no kernel afterwards and releases every buffer", async () => {
      const { backend, stats } = counting()
      const program = Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(Effect.flatMap(simulate(1_000_000)(W), Tensor.data)) // minutes, if it ran to its end
        yield* Effect.sleep(15)
        yield* Fiber.interrupt(fiber)
        return yield* Fiber.await(fiber)
      })
      const exit = await Effect.runPromise(program.pipe(Effect.provideService(Backend, backend)))
      expect(Exit.isFailure(exit)).toBe(true)
      const calls = stats.calls
      expect(calls).toBeGreaterThan(0) // the loop ran some steps
      expect(stats.live()).toBe(0)
      await new Promise((r) => setTimeout(r, 20))
      expect(stats.calls).toBe(calls) // nothing ran after the interruption
    })
  })
})

describe("reading without a copy (Tensor.dataShared)", () => {
  const ops: ReadonlyArray<[string, (x: Tensor.Tensor) => Tensor.Tensor]> = [
    ["the tensor itself", (x) => x],
    ["x · 3 − 1", (x) => Tensor.sub(Tensor.mul(x, 3), 1)],
    ["a reshape", (x) => Tensor.reshape(x, [-1])],
    ["a sum over the last axis", (x) => Tensor.sum(x, { axis: -1 })],
    ["a transpose", (x) => Tensor.transpose(x)],
    ["a matmul with its transpose", (x) => Tensor.matmul(Tensor.cast(x, "float32"), Tensor.transpose(Tensor.cast(x, "float32")))]
  ]
  it("gives what data gives, for any op, dtype and shape, and later evaluations leave it as it was", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom<"float32" | "float64" | "int32">("float32", "float64", "int32"),
        fc.integer({ min: 0, max: ops.length - 1 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        async (rows, cols, dtype, which, seed) => {
          let r = seed
          const values = Array.from({ length: rows * cols }, () => ((r = (r * 1103515245 + 12345) % 2 ** 31), (r % 2001) - 1000) as number)
          const x = Tensor.make(dtype === "int32" ? Int32Array.from(values) : dtype === "float64" ? Float64Array.from(values) : Float32Array.from(values), { shape: [rows, cols], dtype })
          const y = ops[which]![1](x)
          const program = Effect.gen(function* () {
            const shared = yield* Tensor.dataShared(y)
            const kept = Array.from(shared as ArrayLike<number>)
            // more evaluations of the same shapes and dtypes, which take buffers from the CPU pool
            for (let i = 0; i < 4; i++) yield* Tensor.data(ops[which]![1](Tensor.add(x, i)))
            return { shared, kept, copy: yield* Tensor.data(y), again: yield* Tensor.dataShared(y) }
          })
          const { shared, kept, copy, again } = await Effect.runPromise(program)
          expect(shared.constructor).toBe(copy.constructor)
          expect(Array.from(shared as ArrayLike<number>)).toEqual(kept)
          expect(Array.from(copy as ArrayLike<number>)).toEqual(kept)
          expect(again).toBe(shared) // the CPU backend's buffers are host memory: the same storage
        }
      ),
      { numRuns: 60 }
    )
  })
})
