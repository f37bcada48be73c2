/**
 * WebGPU-specific behaviour: unsupported dtypes, no WebGPU / no adapter,
 * device loss (what survives, and a failure that says what was lost),
 * release of every buffer with the layer's scope, and a long training loop
 * whose live GPU buffers stay flat.
 */
import { Backend, Tensor, Variable } from "@diffect/core"
import { WebGPUBackend } from "@diffect/backend-webgpu"
import { cond, scan, whileLoop } from "@diffect/transforms"
import { Cause, Effect, Exit, ManagedRuntime } from "effect"
import { describe, expect, it } from "vitest"
import { liveBuffersWhileTraining } from "./training.js"

const failure = (exit: Exit.Exit<unknown, unknown>): { _tag?: string; message?: string } => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  expect(Cause.hasFails(exit.cause)).toBe(true)
  return Cause.squash(exit.cause) as { _tag?: string; message?: string }
}

const webgpu = Effect.map(Effect.service(Backend), (b) => b as WebGPUBackend.WebGPUBackendShape)

describe("webgpu backend lifecycle", () => {
  it("runs on a page served from 127.0.0.1 with a WebGPU adapter (a missing one fails here, it is never skipped)", async () => {
    expect(location.hostname).toBe("127.0.0.1")
    expect(typeof navigator.gpu).toBe("object")
    const adapter = await navigator.gpu.requestAdapter()
    expect(adapter).not.toBeNull()
  })

  it("refuses float64 and complex64 with a BackendError naming the dtype and suggesting the CPU backend", async () => {
    const rt = ManagedRuntime.make(WebGPUBackend.layer())
    const f64 = failure(await rt.runPromiseExit(Tensor.data(Tensor.exp(Tensor.make([1, 2], { dtype: "float64" })))))
    expect(f64._tag).toBe("BackendError")
    expect(f64.message).toContain("float64")
    expect(f64.message).toContain("CPU backend")
    const c64 = failure(await rt.runPromiseExit(Tensor.data(Tensor.make([[1, 2]], { dtype: "complex64" }))))
    expect(c64._tag).toBe("BackendError")
    expect(c64.message).toContain("complex64")
    expect(c64.message).toContain("CPU backend")
    // still usable afterwards
    expect(await rt.runPromise(Tensor.toArray(Tensor.add(Tensor.make([1, 2]), 1)))).toEqual([2, 3])
    await rt.dispose()
  })

  it("no WebGPU, or no adapter, is a BackendError when the layer is built", async () => {
    const none = failure(await Effect.runPromiseExit(Tensor.data(Tensor.make([1])).pipe(Effect.provide(WebGPUBackend.layer({ gpu: null })))))
    expect(none._tag).toBe("BackendError")
    expect(none.message).toContain("navigator.gpu")
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU
    const e = failure(await Effect.runPromiseExit(Tensor.data(Tensor.make([1])).pipe(Effect.provide(WebGPUBackend.layer({ gpu: noAdapter })))))
    expect(e._tag).toBe("BackendError")
    expect(e.message).toContain("no GPU adapter")
  })

  it("device loss: a typed failure naming the Variables and buffers that were lost; values kept on the host survive", async () => {
    const rt = ManagedRuntime.make(WebGPUBackend.layer())
    const backend = await rt.runPromise(webgpu)
    const { big, small } = await rt.runPromise(
      Effect.gen(function* () {
        const big = yield* Variable.make(Tensor.zeros([5000]), { name: "weights" })
        const small = yield* Variable.make(Tensor.zeros([3]), { name: "bias" })
        // a pytree Variable with one leaf on the GPU and one on the host
        const pair = yield* Variable.make({ w: Tensor.zeros([64, 64]), s: Tensor.zeros([2]) }, { name: "layer" })
        yield* Variable.update(big, (v) => Tensor.add(v, 1))
        yield* Variable.update(small, (v) => Tensor.add(v, 2))
        yield* Variable.update(pair, ({ w, s }) => ({ w: Tensor.exp(w), s: Tensor.add(s, 1) }))
        expect(yield* Tensor.item(Tensor.sum(yield* Variable.get(big)))).toBe(5000)
        return { big, small }
      })
    )
    backend.device.destroy()
    await backend.device.lost
    // a new computation and a read of a value on the GPU both fail, typed, saying what was lost
    const read = failure(await rt.runPromiseExit(Effect.flatMap(Variable.get(big), Tensor.data)))
    expect(read._tag).toBe("BackendError")
    expect(read.message).toContain("lost")
    expect(read.message).toContain("float32[5000]")
    // it names the Variables whose values were only on the GPU, with the lost leaves, and not the others
    expect(read.message).toContain("weights (float32[5000])")
    expect(read.message).toContain("layer (float32[64, 64] at leaf")
    expect(read.message).toContain("2 Variables")
    expect(read.message).not.toContain("bias")
    const compute = failure(await rt.runPromiseExit(Tensor.data(Tensor.exp(Tensor.arange(5000)))))
    expect(compute._tag).toBe("BackendError")
    expect(compute.message).toContain("the GPU device was lost")
    expect(compute.message).toContain("weights (float32[5000])")
    // the small Variable's value was kept on the host: it survives
    expect(await rt.runPromise(Effect.flatMap(Variable.get(small), Tensor.toArray))).toEqual([2, 2, 2])
    await rt.dispose()
  })

  it("uses a given device, and releases every buffer when the scope closes", async () => {
    const adapter = (await navigator.gpu.requestAdapter())!
    const device = await adapter.requestDevice()
    const rt = ManagedRuntime.make(WebGPUBackend.layer({ device }))
    const backend = await rt.runPromise(webgpu)
    expect(backend.device).toBe(device)
    const held = Tensor.exp(Tensor.arange(5000))
    await rt.runPromise(Tensor.data(held))
    expect(backend.liveBuffers!()).toBeGreaterThan(0)
    await rt.dispose()
    expect(backend.liveBuffers!()).toBe(0)
    // using the backend after its scope closed is a typed failure, not a crash
    const after = failure(await Effect.runPromiseExit(Tensor.data(Tensor.neg(Tensor.arange(5000))).pipe(Effect.provideService(Backend, backend))))
    expect(after._tag).toBe("BackendError")
    expect(after.message).toContain("released")
    device.destroy()
  })

  it("computes small tensors of host operands on the host, and uploads them when a shader needs them", async () => {
    const rt = ManagedRuntime.make(WebGPUBackend.layer({ cpuThreshold: 64 }))
    const backend = await rt.runPromise(webgpu)
    const small = Tensor.mul(Tensor.add(Tensor.arange(10), 1), 2)
    expect(await rt.runPromise(Tensor.toArray(small))).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20])
    expect(backend.liveBuffers!()).toBe(0)
    const big = Tensor.broadcastTo(Tensor.reshape(small, [10, 1]), [10, 100])
    expect(await rt.runPromise(Tensor.item(Tensor.sum(big)))).toBe(11000)
    expect(backend.liveBuffers!()).toBeGreaterThan(0)
    await rt.dispose()
  })

  it("runs scan, whileLoop and cond on the GPU (predicates are read back asynchronously)", async () => {
    const rt = ManagedRuntime.make(WebGPUBackend.layer({ cpuThreshold: 0 }))
    const got = await rt.runPromise(
      Effect.gen(function* () {
        const n = yield* whileLoop((x: Tensor.Tensor) => Tensor.less(x, 100), (x) => Tensor.mul(x, 2), Tensor.make(1))
        const x = Tensor.make([4, 9])
        const pos = yield* cond(Tensor.greater(Tensor.sum(x), 0), (x: Tensor.Tensor) => Tensor.sqrt(x), (x: Tensor.Tensor) => Tensor.neg(x), x)
        const [total, partial] = yield* scan((c: Tensor.Tensor, v: Tensor.Tensor) => [Tensor.add(c, v), c] as const, Tensor.make(0), Tensor.make([1, 2, 3]))
        return [yield* Tensor.item(n), yield* Tensor.toArray(pos), yield* Tensor.item(total), yield* Tensor.toArray(partial)]
      })
    )
    expect(got).toEqual([128, [2, 3], 6, [0, 1, 3]])
    await rt.dispose()
  })

  it("its two matmul kernels (tiled in workgroup memory; register-blocked, with vec4 loads where they fit) agree with the CPU", async () => {
    const cases = [
      [[70, 33], [33, 66]], // no multiple of 4 or of the tile
      [[64, 128], [128, 64]], // vec4 loads along k and n
      [[3, 5, 8], [3, 8, 12]], // batched
      [[130, 17], [17, 1]]
    ] as const
    const inputsOf = (sa: ReadonlyArray<number>, sb: ReadonlyArray<number>) => {
      const a = Tensor.sin(Tensor.reshape(Tensor.arange(sa.reduce((x, y) => x * y, 1)), sa))
      const b = Tensor.cos(Tensor.reshape(Tensor.arange(sb.reduce((x, y) => x * y, 1)), sb))
      return { a, b }
    }
    const products = (sa: ReadonlyArray<number>, sb: ReadonlyArray<number>) => {
      const { a, b } = inputsOf(sa, sb)
      const r = sa.length
      const perm = [...Array(r - 2).keys(), r - 1, r - 2]
      // a plain product, one of a transposed view, and an int32 one (exact)
      return [
        Tensor.matmul(a, b),
        Tensor.matmul(Tensor.transpose(Tensor.transpose(a, perm), perm), Tensor.transpose(Tensor.transpose(b, perm), perm)),
        Tensor.matmul(Tensor.cast(Tensor.mul(a, 10), "int32"), Tensor.cast(Tensor.mul(b, 10), "int32"))
      ]
    }
    const read = (ts: ReadonlyArray<Tensor.Tensor>) => Effect.forEach(ts, (t) => Effect.map(Tensor.data(t), (d) => Array.from(d as ArrayLike<number>)))
    for (const [sa, sb] of cases) {
      const want = await Effect.runPromise(read(products(sa, sb)))
      for (const matmul of ["tiled", "direct"] as const) {
        const got = await Effect.runPromise(read(products(sa, sb)).pipe(Effect.provide(WebGPUBackend.layer({ cpuThreshold: 0, matmul }))))
        got.forEach((g, k) =>
          g.forEach((v, i) => expect(Math.abs(v - want[k]![i]!), `${matmul} [${sa}]@[${sb}] product ${k} at ${i}`).toBeLessThanOrEqual(k === 2 ? 0 : 1e-4 * (1 + Math.abs(want[k]![i]!))))
        )
      }
    }
  })

  it("keeps GPU memory flat over 10,000 training steps: as many live buffers and bytes after step 10,000 as after step 100, the pool within its cap", async () => {
    // every kernel as a shader (cpuThreshold 0), so that each step makes GPU buffers
    const rt = ManagedRuntime.make(WebGPUBackend.layer({ cpuThreshold: 0 }))
    const backend = await rt.runPromise(webgpu)
    const { counts, loss } = await liveBuffersWhileTraining((e) => rt.runPromise(e), () => backend.memory(), {
      rounds: 100,
      stepsPerRound: 100,
      lr: 0.1,
      readAfter: [0, 99]
    })
    const [early, late] = counts as [WebGPUBackend.Memory, WebGPUBackend.Memory]
    console.log("GPU memory after step 100 and after step 10,000 (after GC):", JSON.stringify(early), JSON.stringify(late), "final loss", loss)
    expect(loss).toBeLessThan(0.2)
    expect(early.liveBuffers).toBeGreaterThan(0)
    expect(late.liveBuffers).toBeLessThanOrEqual(early.liveBuffers)
    expect(late.liveBytes).toBeLessThanOrEqual(early.liveBytes)
    // every buffer of this model is of the smallest size (256 bytes): the pool keeps at most 256 of them
    expect(late.pooledBuffers).toBeLessThanOrEqual(256)
    expect(late.pooledBytes).toBeLessThanOrEqual(256 * 256)
    await rt.dispose()
  })
})
