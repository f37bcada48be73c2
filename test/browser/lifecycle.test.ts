/**
 * WebGL-specific behaviour: unsupported dtypes, context loss, release of GL
 * resources with the layer's scope, the context / canvas options, and that
 * repeated training steps do not leak textures.
 */
import { Backend, Tensor } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import { Cause, Effect, Exit, ManagedRuntime } from "effect"
import { describe, expect, it } from "vitest"
import { liveBuffersWhileTraining } from "./training.js"

const failure = (exit: Exit.Exit<unknown, unknown>): { _tag?: string; message?: string } => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  expect(Cause.hasFails(exit.cause)).toBe(true)
  return Cause.squash(exit.cause) as { _tag?: string; message?: string }
}

const webgl = Effect.map(Effect.service(Backend), (b) => b as WebGLBackend.WebGLBackendShape)

describe("webgl backend lifecycle", () => {
  it("refuses float64 and complex64 with BackendError naming the dtype", async () => {
    const rt = ManagedRuntime.make(WebGLBackend.layer())
    const f64 = failure(await rt.runPromiseExit(Tensor.data(Tensor.exp(Tensor.make([1, 2], { dtype: "float64" })))))
    expect(f64._tag).toBe("BackendError")
    expect(f64.message).toContain("float64")
    const c64 = failure(await rt.runPromiseExit(Tensor.data(Tensor.make([[1, 2]], { dtype: "complex64" }))))
    expect(c64._tag).toBe("BackendError")
    expect(c64.message).toContain("complex64")
    // still usable afterwards
    expect(await rt.runPromise(Tensor.toArray(Tensor.add(Tensor.make([1, 2]), 1)))).toEqual([2, 3])
    await rt.dispose()
  })

  it("turns context loss into BackendError on the next operation", async () => {
    const rt = ManagedRuntime.make(WebGLBackend.layer())
    const kept = Tensor.mul(Tensor.arange(10), 2)
    expect(await rt.runPromise(Tensor.item(Tensor.sum(kept)))).toBe(90)
    const backend = await rt.runPromise(webgl)
    backend.context.getExtension("WEBGL_lose_context")!.loseContext()
    // a new computation (kernel) and a read of a cached buffer (download) both fail, typed
    const compute = failure(await rt.runPromiseExit(Tensor.data(Tensor.exp(Tensor.make([1, 2, 3])))))
    expect(compute._tag).toBe("BackendError")
    expect(compute.message).toContain("lost")
    const read = failure(await rt.runPromiseExit(Tensor.data(kept)))
    expect(read._tag).toBe("BackendError")
    // releasing after the loss is safe
    await rt.dispose()
  })

  it("reports context loss from the webglcontextlost event", async () => {
    const canvas = new OffscreenCanvas(1, 1)
    const rt = ManagedRuntime.make(WebGLBackend.layer({ canvas }))
    expect(await rt.runPromise(Tensor.toArray(Tensor.neg(Tensor.make([1]))))).toEqual([-1])
    canvas.dispatchEvent(new Event("webglcontextlost"))
    const e = failure(await rt.runPromiseExit(Tensor.data(Tensor.neg(Tensor.make([1])))))
    expect(e._tag).toBe("BackendError")
    await rt.dispose()
  })

  it("uses a given context, and releases every texture when the scope closes", async () => {
    const gl = new OffscreenCanvas(1, 1).getContext("webgl2")!
    const rt = ManagedRuntime.make(WebGLBackend.layer({ context: gl }))
    const backend = await rt.runPromise(webgl)
    expect(backend.context).toBe(gl)
    const held = Tensor.exp(Tensor.arange(5000))
    await rt.runPromise(Tensor.data(held))
    expect(backend.liveBuffers!()).toBeGreaterThan(0)
    await rt.dispose()
    expect(backend.liveBuffers!()).toBe(0)
    expect(gl.isContextLost()).toBe(false)
    // using the backend after its scope closed is a typed failure, not a crash
    const after = failure(await Effect.runPromiseExit(Tensor.data(Tensor.neg(Tensor.make([1]))).pipe(Effect.provideService(Backend, backend))))
    expect(after._tag).toBe("BackendError")
  })

  it("computes small tensors of host operands on the host, and moves them to textures when a shader needs them", async () => {
    const rt = ManagedRuntime.make(WebGLBackend.layer({ cpuThreshold: 64 }))
    const backend = await rt.runPromise(webgl)
    const small = Tensor.mul(Tensor.add(Tensor.arange(10), 1), 2)
    expect(await rt.runPromise(Tensor.toArray(small))).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20])
    expect(backend.liveBuffers!()).toBe(0)
    const big = Tensor.broadcastTo(Tensor.reshape(small, [10, 1]), [10, 100])
    const total = Tensor.sum(big)
    expect(await rt.runPromise(Tensor.item(total))).toBe(11000)
    expect(backend.liveBuffers!()).toBeGreaterThan(0)
    await rt.dispose()
  })

  it("does not grow live textures over 1,000 training steps", async () => {
    // every kernel as a shader (cpuThreshold 0), so that each step makes textures
    const rt = ManagedRuntime.make(WebGLBackend.layer({ cpuThreshold: 0 }))
    const backend = await rt.runPromise(webgl)
    const { counts, loss } = await liveBuffersWhileTraining((e) => rt.runPromise(e), () => backend.liveBuffers!(), { rounds: 10, stepsPerRound: 100, lr: 0.5 })
    console.log("live textures after every 100 steps (after GC):", counts.join(" "), "final loss", loss)
    expect(loss).toBeLessThan(0.1)
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2)
    await rt.dispose()
  })
})
