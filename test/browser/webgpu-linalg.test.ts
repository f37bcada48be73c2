/**
 * WebGPU's cholesky of a matrix that is not positive-definite: outside loop
 * bodies the evaluation checks the factors (reading one element of each
 * back asynchronously) and fails with the CPU's LinalgError; inside a loop
 * body, whose kernels must answer synchronously, the factors are NaN.
 * Every operand is on the GPU (cpuThreshold 0), so the shader runs.
 */
import { CpuBackend, Linalg, Tensor } from "@diffect/core"
import { WebGPUBackend } from "@diffect/backend-webgpu"
import { jit, scan } from "@diffect/transforms"
import { Cause, Effect, Exit, ManagedRuntime } from "effect"
import { afterAll, describe, expect, it } from "vitest"

const gpu = ManagedRuntime.make(WebGPUBackend.layer({ cpuThreshold: 0 }))
const cpu = ManagedRuntime.make(CpuBackend.layer)
afterAll(async () => {
  await gpu.dispose()
  await cpu.dispose()
})

/** The typed failure of reading `make()` on a runtime. */
const failureOn = async (rt: typeof gpu, make: () => Effect.Effect<unknown, unknown>) => {
  const exit = await rt.runPromiseExit(Effect.suspend(make))
  expect(Exit.isFailure(exit)).toBe(true)
  if (!Exit.isFailure(exit)) return undefined
  return Cause.squash(exit.cause) as { readonly _tag: string; readonly message: string }
}

/** A [3, 6, 6] batch: two positive-definite matrices, then one whose leading minor of order 3 is negative. */
const batch = () => {
  const v = new Float32Array(3 * 36)
  for (let i = 0; i < 6; i++) {
    v[i * 6 + i] = 2
    v[36 + i * 6 + i] = 3
    v[72 + i * 6 + i] = i === 2 ? -1 : 4
  }
  v[1] = v[6] = 0.5
  return Tensor.make(v, { shape: [3, 6, 6] })
}

describe("webgpu cholesky of a matrix that is not positive-definite", () => {
  it("fails with the CPU's LinalgError outside loop bodies", async () => {
    const notPd = () => Tensor.toArray(Linalg.cholesky(Tensor.sub(Tensor.eye(40), 2)))
    const g = await failureOn(gpu, notPd)
    const c = await failureOn(cpu, notPd)
    expect(g?._tag).toBe("LinalgError")
    expect(g?.message).toBe(c?.message)
    expect(g?.message).toContain("order 1")
  })

  it("names the order of the minor and the matrix of the batch, as the CPU does", async () => {
    const read = () => Tensor.data(Tensor.mul(Linalg.cholesky(batch()), 2))
    const g = await failureOn(gpu, read)
    const c = await failureOn(cpu, read)
    expect(g?._tag).toBe("LinalgError")
    expect(g?.message).toBe(c?.message)
    expect(g?.message).toContain("order 3")
    expect(g?.message).toContain("matrix 2 of the batch")
  })

  it("fails the same way in a jitted function", async () => {
    const f = jit((a: Tensor.Tensor) => Tensor.sum(Linalg.cholesky(a)))
    const g = await failureOn(gpu, () => Effect.flatMap(f(batch()), Tensor.item))
    expect(g?._tag).toBe("LinalgError")
    expect(g?.message).toContain("matrix 2 of the batch")
  })

  it("positive-definite matrices still give their factors (checked, then kept on the GPU)", async () => {
    const ok = () => Tensor.data(Linalg.cholesky(Tensor.add(Tensor.eye(8), 1)))
    const [g, c] = await Promise.all([gpu.runPromise(ok()), cpu.runPromise(ok())])
    expect(Array.from(g as Float32Array)).toEqual(Array.from(c as Float32Array).map((v) => expect.closeTo(v, 5)))
  })

  it("gives NaN factors inside a loop body (a synchronous answer), and the other matrices' factors", async () => {
    const body = (acc: Tensor.Tensor, m: Tensor.Tensor) => [Tensor.add(acc, 1), Linalg.cholesky(m)] as const
    const [, ls] = await gpu.runPromise(scan(body, Tensor.make(0), batch()))
    const got = (await gpu.runPromise(Tensor.toArray(ls))) as number[][][]
    expect(got[2]!.flat().every(Number.isNaN)).toBe(true)
    const ok = (await cpu.runPromise(Tensor.toArray(Linalg.cholesky(Tensor.slice(batch(), [0, 0, 0], [2, 6, 6]))))) as number[][][]
    expect(got.slice(0, 2)).toEqual(ok.map((m) => m.map((r) => r.map((v) => expect.closeTo(v, 5)))))
  })
})
