/**
 * The WebGL backend's linear-algebra shaders beyond the conformance suite:
 * a matrix that is not positive-definite fails cholesky with the CPU
 * backend's `LinalgError` (same message: the leading minor, the matrix of
 * the batch) on every configuration, and the per-step textures of
 * cholesky, triangular solves and LU (and of a failed cholesky) do not
 * leak.
 */
import { Backend, CpuBackend, Linalg, Tensor } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import { Cause, Effect, Exit, type Layer, ManagedRuntime } from "effect"
import { describe, expect, it } from "vitest"
import { uniform } from "../conformance/data.js"

type T = Tensor.Tensor

const mT = (x: T) => Tensor.transpose(x, [...x.shape.slice(0, -2).map((_, i) => i), x.ndim - 1, x.ndim - 2])

/** x xᵀ / n + I with entry (k, k) of matrix `which` set to −1: the leading minor of order k + 1 is the first that is not positive. */
const notPositive = (batch: number, n: number, which: number, k: number, seed: number): T => {
  const x = uniform([batch, n, n], seed)
  const spd = Tensor.add(Tensor.div(Tensor.matmul(x, mT(x)), n), Tensor.eye(n))
  const mask = new Float32Array(batch * n * n)
  mask[which * n * n + k * n + k] = 1
  const m = Tensor.make(mask, { shape: [batch, n, n] })
  // spd − m (spd_kk + 1): entry (k, k) becomes −1
  return Tensor.sub(spd, Tensor.mul(m, Tensor.add(spd, 1)))
}

const failureOf = (exit: Exit.Exit<unknown, unknown>): { _tag?: string; message?: string } => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause) as { _tag?: string; message?: string }
}

const configs: ReadonlyArray<readonly [string, Layer.Layer<never, unknown>]> = [
  ["default", WebGLBackend.layer()],
  ["shaders only", WebGLBackend.layer({ cpuThreshold: 0 })],
  ["shaders only, rows of 8 texels", WebGLBackend.layer({ maxTextureWidth: 8, cpuThreshold: 0 })]
]

const nonPD: ReadonlyArray<readonly [string, () => T]> = [
  ["a 5 × 5 matrix, minor of order 3", () => notPositive(1, 5, 0, 2, 1)],
  ["a batch of 3 at n = 64, matrix 1, minor of order 41", () => notPositive(3, 64, 1, 40, 2)],
  ["a batch of 2 at n = 1, matrix 1", () => Tensor.make([[[2]], [[-3]]])]
]

describe("webgl linear algebra", () => {
  for (const [config, layer] of configs)
    it(`cholesky of a matrix that is not positive-definite fails as on the CPU (${config})`, async () => {
      const rt = ManagedRuntime.make(layer)
      for (const [what, make] of nonPD) {
        const got = failureOf(await rt.runPromiseExit(Tensor.data(Linalg.cholesky(make()))))
        const want = failureOf(await Effect.runPromiseExit(Tensor.data(Linalg.cholesky(make())).pipe(Effect.provide(CpuBackend.layer))))
        expect(want._tag, what).toBe("LinalgError")
        expect(got._tag, what).toBe("LinalgError")
        expect(got.message, what).toBe(want.message)
      }
      // still usable afterwards
      const l = await rt.runPromise(Tensor.toArray(Linalg.cholesky(Tensor.make([[4, 2], [2, 5]]))))
      expect(l).toEqual([[2, 0], [1, 2]])
      await rt.dispose()
    })

  it("does not leak the textures of its steps (nor of a failed cholesky)", async () => {
    const rt = ManagedRuntime.make(WebGLBackend.layer({ cpuThreshold: 0 }))
    const backend = await rt.runPromise(Effect.map(Effect.service(Backend), (b) => b as WebGLBackend.WebGLBackendShape))
    const collect = async () => {
      for (let i = 0; i < 4; i++) {
        ;(globalThis as { gc?: () => void }).gc?.()
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe("function")
    const round = async (seed: number) => {
      const x = uniform([2, 12, 12], seed)
      const a = Tensor.add(Tensor.matmul(x, mT(x)), Tensor.mul(Tensor.eye(12), 12))
      const b = uniform([2, 12, 3], seed + 1)
      await rt.runPromise(Effect.all([Linalg.cholesky(a), Linalg.solve(a, b), Linalg.solveTriangular(a, b, { lower: true }), Linalg.det(a)].map(Tensor.data)))
      await rt.runPromiseExit(Tensor.data(Linalg.cholesky(notPositive(2, 12, 1, 5, seed + 2))))
    }
    const counts: number[] = []
    for (let r = 0; r < 6; r++) {
      for (let i = 0; i < 3; i++) await round(10 * r + i)
      await collect()
      counts.push(backend.liveBuffers!())
    }
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2)
    await rt.dispose()
  })
})
