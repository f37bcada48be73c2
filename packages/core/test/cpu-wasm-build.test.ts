// Which WebAssembly build the CPU kernels run on, and what the relaxed-SIMD
// build (fused multiply-add in GEMM and convolution) must still honour:
// float32 accuracy against float64, and equal bits on one and two threads.
// vitest.config.ts runs this file twice: in the "node" project as Node starts
// by default, and in the "relaxed-simd" project with relaxed SIMD enabled
// (Node 20: --experimental-wasm-relaxed-simd), where the relaxed build is required.
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { Backend, CpuBackend, Tensor } from "../src/index.js"
import { makeCpuBackend } from "../src/internal/cpu/backend.js"
import { Pool } from "../src/internal/cpu/threads.js"
import { setParallelThresholds, wasmBuild } from "../src/internal/cpu/wasm.js"
import { relaxedSimdProbe, relaxedSimdValidates } from "../scripts/relaxed-simd-probe.mjs"

const data = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7071 + seed * 1.37) * (1 + ((i * 7919) % 13)))
const bits = (a: ArrayLike<number>) => new Uint32Array(Float32Array.from(a).buffer)

describe("WebAssembly build of the CPU kernels", () => {
  it("the probe module is well-formed (it validates once relaxed SIMD is on, and the plain build always does)", () => {
    // a malformed probe would read as "no relaxed SIMD" everywhere: check the
    // module without its relaxed instruction (three consts, drop two) validates
    const plain = new Uint8Array([...relaxedSimdProbe.slice(0, 19), 0x0a, 0x3c, 0x01, 0x3a, 0x00, ...relaxedSimdProbe.slice(24, 78), 0x1a, 0x1a, 0x0b])
    expect(WebAssembly.validate(plain)).toBe(true)
  })

  it("runs the relaxed-SIMD build exactly where the engine validates relaxed SIMD", () => {
    const b = wasmBuild()
    expect(b).toBeDefined()
    expect(b!.relaxed).toBe(relaxedSimdValidates)
    if (process.env.DIFFECT_EXPECT_RELAXED_SIMD === "1") expect(b!.relaxed).toBe(true)
  })

  it("a 70×300×45 product is within float32 accuracy of float64, with equal bits on 1 and 2 threads", () => {
    const [m, k, n] = [70, 300, 45]
    const a = data(m * k, 1), b = data(k * n, 2)
    const ref = new Float64Array(m * n)
    let scale = 0
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0, abs = 0
        for (let p = 0; p < k; p++) (s += a[i * k + p]! * b[p * n + j]!), (abs += Math.abs(a[i * k + p]! * b[p * n + j]!))
        ref[i * n + j] = s
        scale = Math.max(scale, abs)
      }
    const program = Tensor.data(Tensor.matmul(Tensor.make(a, { shape: [m, k] }), Tensor.make(b, { shape: [k, n] })))
    const one = Effect.runSync(program.pipe(Effect.provide(CpuBackend.layerWith({ threads: 1 }))))
    const thresholds = setParallelThresholds({ gemm: 0, unary: 0 })
    const pool = new Pool(2, false)
    try {
      const two = Effect.runSync(program.pipe(Effect.provide(Layer.succeed(Backend, makeCpuBackend(pool)))))
      expect(bits(two)).toEqual(bits(one))
    } finally {
      pool.close()
      setParallelThresholds(thresholds)
    }
    let worst = 0
    for (let i = 0; i < m * n; i++) worst = Math.max(worst, Math.abs(one[i]! - ref[i]!))
    // k roundings of float32 at most, relative to the sum of magnitudes
    expect(worst).toBeLessThan(k * 2 ** -24 * scale)
  })
})
