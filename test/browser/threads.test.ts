// The CPU backend's worker pool in a browser: Web Workers from a Blob URL on
// a shared WebAssembly memory (the test server sends the cross-origin
// isolation headers), the page's main thread spinning for the workers'
// chunks (it may not block). Same bits on 1 and 3 threads (the reductions:
// 350,000 elements per sum, split into blocks of 4096; the convolution split
// by images).
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { CpuBackend, Tensor } from "@diffect/core"
import { Pool } from "../../packages/core/src/internal/cpu/threads.js"

const data = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7071 + seed) * (1 + (i % 13)))
const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer))

describe("CPU worker pool in the browser", () => {
  it("the page is cross-origin isolated", () => {
    expect(globalThis.crossOriginIsolated).toBe(true)
  })

  it("matmul, sin, a fused loop, a sum, a maximum and a convolution give the same bits on 1 and 3 threads, and the workers take part", async () => {
    const n = 256
    const a = Tensor.make(data(n * n, 1), { shape: [n, n] })
    const b = Tensor.make(data(n * n, 2), { shape: [n, n] })
    const x = Tensor.make(data(1_050_000, 3), { shape: [1_050_000] })
    // an odd batch in 2 groups, large enough to be split by images
    const images = Tensor.make(data(9 * 6 * 32 * 40, 4), { shape: [9, 6, 32, 40] })
    const kernels = Tensor.make(data(12 * 3 * 3 * 3, 5), { shape: [12, 3, 3, 3] })
    // new nodes at every call: a tensor read once keeps its value
    const f = () => Effect.all([
      Tensor.data(Tensor.matmul(a, b)),
      Tensor.data(Tensor.sin(x)),
      Tensor.data(Tensor.add(Tensor.mul(Tensor.tanh(x), 3), Tensor.mul(x, x))),
      Tensor.data(Tensor.sum(Tensor.reshape(x, [3, 350_000]), { axis: 1 })),
      Tensor.data(Tensor.max(x)),
      Tensor.data(Tensor.conv(images, kernels, { padding: "SAME", groups: 2 }))
    ])
    const want = await Effect.runPromise(f().pipe(Effect.provide(CpuBackend.layerWith({ threads: 1 }))))
    const got = await Effect.runPromise(
      Effect.gen(function* () {
        yield* f()
        // the workers start in the background: wait until they take chunks
        for (let i = 0; i < 500 && [...Pool.running].every((p) => p.ready < 2); i++) yield* Effect.sleep("10 millis")
        const ready = Math.max(0, ...[...Pool.running].map((p) => p.ready))
        const out = yield* f()
        const chunks = Math.max(0, ...[...Pool.running].map((p) => p.workerChunks))
        return { out, ready, chunks }
      }).pipe(Effect.provide(CpuBackend.layerWith({ threads: 3 })))
    )
    expect(got.ready).toBe(2)
    expect(got.chunks).toBeGreaterThan(0)
    for (let i = 0; i < 6; i++) expect(bits(got.out[i]!)).toEqual(bits(want[i]!))
    // the layer's scope has closed: its workers are gone
    expect(Pool.running.size).toBe(0)
  })
})
