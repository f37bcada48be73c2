/**
 * Reading from a backend that can only read asynchronously (as WebGPU maps
 * buffers with mapAsync): every read goes through `downloadAsync`, stays an
 * Effect, releases its result buffer once read (or when the read fails), and
 * a rejected read is a typed BackendError. A kernel may answer with a
 * Promise (a backend that reads its operands back first): the evaluation
 * waits for it, and releases what it made when it fails or is interrupted.
 */
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { Backend, BackendError, type BackendShape, CpuBackend, Internal, Tensor, Variable } from "@diffect/core"
import { cond, jit, scan, whileLoop } from "@diffect/transforms"

/** The CPU backend with its buffers boxed (not host memory) and only an asynchronous read. */
const asyncOnly = (fail?: string) => {
  const cpu = CpuBackend.backend
  const live = new Set<{ v: unknown }>()
  const stats = { asyncReads: 0, live: () => live.size }
  const box = (v: unknown) => {
    const b = { v }
    live.add(b)
    return b
  }
  const unbox = (h: unknown) => (h as { v: unknown }).v
  const kernels = Object.fromEntries(
    Object.entries(cpu.kernels).map(([k, kernel]) => [
      k,
      (args: ReadonlyArray<{ handle: unknown }>, p: never, out: never) =>
        box((kernel as (a: unknown, p: never, o: never) => unknown)(args.map((a) => ({ ...a, handle: unbox(a.handle) })), p, out))
    ])
  ) as unknown as BackendShape["kernels"]
  // reshape keeps its operand's buffer (a kernel may return an argument's handle, as the CPU's does)
  ;(kernels as { reshape: unknown }).reshape = (args: ReadonlyArray<{ handle: unknown }>) => args[0]!.handle
  const backend: BackendShape = {
    name: "async-cpu",
    supports: cpu.supports,
    upload: (host) => box(host.slice()),
    download: () => {
      throw new BackendError({ message: "async-cpu backend: synchronous read" })
    },
    downloadAsync: async (h, aval) => {
      stats.asyncReads++
      await new Promise((r) => setTimeout(r, 1))
      if (fail !== undefined) throw new Error(fail)
      return cpu.download(unbox(h), aval)
    },
    share: (h) => box(unbox(h)),
    dispose: (h) => void live.delete(h as { v: unknown }),
    kernels,
    liveBuffers: () => live.size
  }
  return { backend, stats }
}

describe("asynchronous reads", () => {
  it("toArray, item and data read through downloadAsync and give the result buffer back", async () => {
    const { backend, stats } = asyncOnly()
    const program = Effect.gen(function* () {
      const x = Tensor.arange(6).pipe(Tensor.reshape([2, 3]))
      const y = Tensor.mul(Tensor.exp(Tensor.mul(x, 0)), x)
      const rows = yield* Tensor.toArray(y)
      const total = yield* Tensor.item(Tensor.sum(y))
      const flat = yield* Tensor.data(Tensor.add(x, 1))
      return { rows, total, flat: Array.from(flat) }
    })
    const r = await Effect.runPromise(program.pipe(Effect.provideService(Backend, backend)))
    expect(r).toEqual({ rows: [[0, 1, 2], [3, 4, 5]], total: 15, flat: [1, 2, 3, 4, 5, 6] })
    expect(stats.asyncReads).toBe(3)
  })

  it("reading the same tensor again makes no new buffer", async () => {
    const { backend, stats } = asyncOnly()
    const y = Tensor.tanh(Tensor.mul(Tensor.arange(8), 0.5))
    const read = Tensor.data(y).pipe(Effect.provideService(Backend, backend))
    await Effect.runPromise(read)
    const live = stats.live()
    for (let i = 0; i < 5; i++) await Effect.runPromise(read)
    // no new buffer: the count may only fall (a garbage collection between the reads releases
    // the buffers of y's dropped inputs through the finalizer), never rise
    expect(stats.live()).toBeLessThanOrEqual(live)
    expect(stats.asyncReads).toBe(6)
  })

  it("a Variable's value read twice reads the same values", async () => {
    const { backend } = asyncOnly()
    const program = Effect.gen(function* () {
      const v = yield* Variable.make(Tensor.arange(3))
      yield* Variable.update(v, (x) => Tensor.mul(x, 2))
      const a = yield* Tensor.toArray(yield* Variable.get(v))
      const b = yield* Tensor.toArray(yield* Variable.get(v))
      return [a, b]
    })
    expect(await Effect.runPromise(program.pipe(Effect.provideService(Backend, backend)))).toEqual([[0, 2, 4], [0, 2, 4]])
  })

  it("a jitted function whose outputs are views of its input's buffer shares it (no synchronous copy)", async () => {
    const { backend } = asyncOnly()
    const f = jit((x: Tensor.Tensor) => [Tensor.reshape(x, [2, 2]), Tensor.reshape(x, [4, 1])] as const)
    const program = Effect.gen(function* () {
      const x = Tensor.add(Tensor.arange(4), 1)
      yield* Tensor.data(x) // x now holds its buffer
      const [a, b] = yield* f(x)
      return [yield* Tensor.toArray(a), yield* Tensor.toArray(b)]
    })
    expect(await Effect.runPromise(program.pipe(Effect.provideService(Backend, backend)))).toEqual([[[1, 2], [3, 4]], [[1], [2], [3], [4]]])
  })

  it("a rejected read is a BackendError naming the tensor", async () => {
    const { backend } = asyncOnly("the device is gone")
    const x = Tensor.arange(4)
    const exit = await Effect.runPromiseExit(Tensor.toArray(Tensor.add(x, x)).pipe(Effect.provideService(Backend, backend)))
    expect(Exit.isFailure(exit)).toBe(true)
    const failure = await Effect.runPromise(Effect.flip(Tensor.toArray(Tensor.mul(x, 3)).pipe(Effect.provideService(Backend, backend))))
    expect(failure).toBeInstanceOf(BackendError)
    expect(failure.message).toContain("async-cpu backend")
    expect(failure.message).toContain("int32 tensor of shape [4]")
    expect(failure.message).toContain("the device is gone")
  })
})

/** The CPU backend (boxed buffers) whose `exp` kernel answers with a Promise, as a backend reading its operands back would. */
const asyncKernel = (fail?: string) => {
  const { backend, stats } = asyncOnly()
  const exp = backend.kernels.exp
  const kernels = {
    ...backend.kernels,
    exp: (args: never, p: never, out: never) =>
      new Promise((resolve, reject) =>
        setTimeout(() => (fail !== undefined ? reject(new BackendError({ message: fail })) : resolve(exp(args, p, out))), 2)
      )
  } as unknown as BackendShape["kernels"]
  return { backend: { ...backend, kernels }, stats }
}

describe("kernels that answer with a Promise", () => {
  it("the evaluation waits for them and goes on with their result", async () => {
    const { backend } = asyncKernel()
    const x = Tensor.make([0, 1, 2])
    const y = Tensor.add(Tensor.exp(Tensor.mul(x, 2)), Tensor.exp(x))
    const got = await Effect.runPromise(Tensor.toArray(y).pipe(Effect.provideService(Backend, backend)))
    const want = [0, 1, 2].map((v) => Math.exp(2 * v) + Math.exp(v))
    ;(got as number[]).forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 4))
  })

  it("a rejection is the read's typed failure, and the buffers the run made are released", async () => {
    const { backend, stats } = asyncKernel("the kernel's read-back failed")
    const x = Tensor.make([0, 1, 2])
    const read = Tensor.data(Tensor.mul(Tensor.exp(Tensor.add(x, 1)), 3)).pipe(Effect.provideService(Backend, backend))
    const e = await Effect.runPromise(Effect.flip(read))
    expect(e).toBeInstanceOf(BackendError)
    expect(e.message).toContain("the kernel's read-back failed")
    expect(stats.live()).toBe(3) // the uploads of x, 1 and 3, held by their tensors; add's result was released
  })

  it("an interrupted run releases what it made, also the pending kernel's result", async () => {
    const { backend, stats } = asyncKernel()
    const x = Tensor.make([0, 1, 2])
    const read = Tensor.data(Tensor.exp(Tensor.add(x, 1))).pipe(Effect.provideService(Backend, backend))
    const exit = await Effect.runPromiseExit(Effect.timeout(read, 0))
    expect(Exit.isFailure(exit)).toBe(true)
    await new Promise((r) => setTimeout(r, 10))
    expect(stats.live()).toBe(2)
  })
})

describe("control flow on a backend that reads only asynchronously", () => {
  it("whileLoop and cond read their predicates asynchronously; scan needs no read", async () => {
    const { backend, stats } = asyncOnly()
    const program = Effect.gen(function* () {
      const n = yield* whileLoop((x: Tensor.Tensor) => Tensor.less(x, 100), (x) => Tensor.mul(x, 2), Tensor.make(1))
      const x = Tensor.make([4, 9])
      const pos = yield* cond(Tensor.greater(Tensor.sum(x), 0), (x: Tensor.Tensor) => Tensor.sqrt(x), (x: Tensor.Tensor) => Tensor.neg(x), x)
      const neg = yield* cond(Tensor.less(Tensor.sum(x), 0), (x: Tensor.Tensor) => Tensor.sqrt(x), (x: Tensor.Tensor) => Tensor.neg(x), x)
      const [total, partial] = yield* scan((c: Tensor.Tensor, v: Tensor.Tensor) => [Tensor.add(c, v), c] as const, Tensor.make(0), Tensor.make([1, 2, 3]))
      return [yield* Tensor.item(n), yield* Tensor.toArray(pos), yield* Tensor.toArray(neg), yield* Tensor.item(total), yield* Tensor.toArray(partial)]
    })
    expect(await Effect.runPromise(program.pipe(Effect.provideService(Backend, backend)))).toEqual([128, [2, 3], [-4, -9], 6, [0, 1, 3]])
    expect(stats.asyncReads).toBeGreaterThan(8) // the while predicate at every step, both cond predicates, the results
  })

  it("Internal.mayAnswerAsync: true for a kernel of an evaluation run as an Effect, false in loop bodies and outside evaluations", async () => {
    const seen: boolean[] = []
    const cpu = CpuBackend.backend
    const exp = cpu.kernels.exp
    const { fusion: _, ...unfused } = cpu
    const backend: BackendShape = {
      ...unfused,
      kernels: {
        ...cpu.kernels,
        exp: (args, p, out) => {
          seen.push(Internal.mayAnswerAsync())
          return exp(args, p, out)
        }
      }
    }
    const program = Effect.gen(function* () {
      yield* Tensor.data(Tensor.exp(Tensor.make([1, 2])))
      yield* scan((c: Tensor.Tensor, x: Tensor.Tensor) => [Tensor.add(c, Tensor.exp(x)), c] as const, Tensor.make(0), Tensor.make([1, 2, 3]))
      yield* whileLoop((x: Tensor.Tensor) => Tensor.less(x, 10), (x) => Tensor.add(Tensor.exp(Tensor.mul(x, 0)), x), Tensor.make(0))
    })
    await Effect.runPromise(program.pipe(Effect.provideService(Backend, backend)))
    expect(seen[0]).toBe(true)
    expect(seen.length).toBeGreaterThan(1)
    expect(seen.slice(1).every((b) => !b)).toBe(true)
    expect(Internal.mayAnswerAsync()).toBe(false)
  })
})
