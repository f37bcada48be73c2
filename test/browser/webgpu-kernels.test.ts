/**
 * WebGPU kernels that must agree with the CPU's definition beyond float
 * tolerance, and run inside loop bodies (which need synchronous kernels):
 * Random's draws (Threefry in u32 arithmetic: the CPU's bits) and the
 * linear-algebra primitives, compared with the CPU backend in the same page.
 */
import { CpuBackend, Internal, Linalg, Tensor } from "@diffect/core"
import { WebGPUBackend } from "@diffect/backend-webgpu"
import { grad, scan } from "@diffect/transforms"
import { Effect, ManagedRuntime } from "effect"
import { afterAll, describe, expect, it } from "vitest"

const gpu = ManagedRuntime.make(WebGPUBackend.layer({ cpuThreshold: 0 }))
const cpu = ManagedRuntime.make(CpuBackend.layer)
afterAll(async () => {
  await gpu.dispose()
  await cpu.dispose()
})

type Params = Internal.RandomParams
const keys = (words: ReadonlyArray<number>) => Tensor.make(Int32Array.from(words), { shape: [words.length / 2, 2], dtype: "int32" })
const draw = (kind: Params["kind"], shape: ReadonlyArray<number>, dtype: "float32" | "int32" | "bool", a = 0, b = 0): Params => ({ kind, shape, dtype, a, b })

/** The words of a tensor's values (float32 as their bits), on both backends. */
const both = async (make: () => Tensor.Tensor) => {
  const bitsOf = (v: ArrayLike<number>) => Array.from(v instanceof Float32Array ? new Uint32Array(v.buffer, v.byteOffset, v.length) : v)
  const [g, c] = await Promise.all([gpu.runPromise(Tensor.data(make())), cpu.runPromise(Tensor.data(make()))])
  return { gpu: bitsOf(g as ArrayLike<number>), cpu: bitsOf(c as ArrayLike<number>), values: Array.from(c as ArrayLike<number>), gpuValues: Array.from(g as ArrayLike<number>) }
}

// keys with large words (top bits set), so that u32 arithmetic is exercised
const KEYS = [0x9e3779b9 | 0, 0x7f4a7c15, -1, 0x12345678, 0, 0, 0x80000000 | 0, 3]

describe("webgpu random: the CPU's numbers", () => {
  const exact: ReadonlyArray<[string, Params]> = [
    ["hash", draw("hash", [], "int32", 0xdeadbeef, 7)],
    ["bits", draw("bits", [1001], "int32")],
    ["uniform [0, 1)", draw("uniform", [1000], "float32", 0, 1)],
    ["uniform [-1, 2)", draw("uniform", [1000], "float32", -1, 2)],
    ["uniform [0.1, 0.7)", draw("uniform", [1000], "float32", 0.1, 0.7)],
    ["uniform [0, 0.3)", draw("uniform", [1000], "float32", 0, 0.3)],
    ["uniform [-1e-3, 5e4)", draw("uniform", [1000], "float32", -1e-3, 5e4)],
    ["bernoulli 0.3", draw("bernoulli", [1000], "bool", 0.3)],
    ["bernoulli 0.1 (not a float32)", draw("bernoulli", [1000], "bool", 0.1)],
    ["randint [-3, 10)", draw("randint", [1000], "int32", -3, 10)],
    ["randint over most of int32", draw("randint", [1000], "int32", -2147483648, 2147483000)],
    ["permutation of 37", draw("permutation", [37], "int32")]
  ]
  for (const [name, p] of exact)
    it(`${name}: the same words as the CPU kernel`, async () => {
      const r = await both(() => Internal.bind("random", [keys(KEYS)], p))
      expect(r.gpu.length).toBe(r.cpu.length)
      expect(r.gpu).toEqual(r.cpu)
    })

  // bounds whose float64 sum lies near a float32 midpoint that only float64 rounding resolves: one ulp at most
  for (const [a, b] of [[1, 1.1], [-0.7, 1.9], [1e6, 1e6 + 0.3]] as const)
    it(`uniform [${a}, ${b}): within one float32 ulp of the CPU's numbers, and in [${a}, ${b})`, async () => {
      const r = await both(() => Internal.bind("random", [keys(KEYS)], draw("uniform", [1000], "float32", a, b)))
      expect(r.gpu.length).toBe(r.cpu.length)
      for (let i = 0; i < r.cpu.length; i++) {
        expect(Math.abs(r.gpuValues[i]! - r.values[i]!)).toBeLessThanOrEqual(2 ** (Math.floor(Math.log2(Math.abs(r.values[i]!))) - 23))
        expect(r.gpuValues[i]! >= Math.fround(a) && r.gpuValues[i]! < b).toBe(true)
      }
    })

  it("normal: within a few float32 ulps of the CPU's float64 Box–Muller", async () => {
    const r = await both(() => Internal.bind("random", [keys(KEYS)], draw("normal", [4001], "float32", 0.5, 2)))
    expect(r.gpuValues.length).toBe(r.values.length)
    let worst = 0
    for (let i = 0; i < r.values.length; i++) worst = Math.max(worst, Math.abs(r.gpuValues[i]! - r.values[i]!) / Math.max(1, Math.abs(r.values[i]!)))
    expect(worst).toBeLessThan(2e-6)
    // the tails are there (|z| > 3.5 somewhere among 16,000 draws)
    expect(r.values.some((v) => Math.abs(v - 0.5) > 7)).toBe(true)
  })

  it("draws inside a scan body run on the GPU, with the CPU's numbers", async () => {
    const body = (k: Tensor.Tensor, _x: Tensor.Tensor) => {
      const next = Internal.bind("random", [k], draw("hash", [], "int32", 0, 1))
      const u = Internal.bind("random", [k], draw("uniform", [64], "float32", -1, 1))
      return [next, Tensor.sum(u)] as const
    }
    const program = () => scan(body, Tensor.make(Int32Array.from([5, 6]), { shape: [2], dtype: "int32" }), Tensor.zeros([20]))
    const read = (rt: typeof gpu) => rt.runPromise(Effect.flatMap(program(), ([k, ys]) => Effect.all([Tensor.toArray(k), Tensor.data(ys)])))
    const [g, c] = await Promise.all([read(gpu), read(cpu)])
    expect(g[0]).toEqual(c[0])
    expect(Array.from(g[1] as Float32Array)).toEqual(Array.from(c[1] as Float32Array).map((v) => expect.closeTo(v, 4)))
  })
})


/** A seeded matrix batch with entries in [-1, 1) (an LCG, the same on both backends). */
const mats = (shape: ReadonlyArray<number>, seed: number) => {
  let x = seed >>> 0
  const n = shape.reduce((a, b) => a * b, 1)
  const v = Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 2 ** 31 - 1
  })
  return Tensor.make(v, { shape })
}
const mT = (x: Tensor.Tensor) => Tensor.transpose(x, [...x.shape.slice(0, -2).map((_, i) => i), x.ndim - 1, x.ndim - 2])
const spd = (x: Tensor.Tensor) => Tensor.add(Tensor.matmul(x, mT(x)), Tensor.mul(Tensor.eye(x.shape[x.ndim - 1]!), x.shape[x.ndim - 1]!))

/**
 * Values on both backends within float32 tolerance (relative to the largest magnitude). The two runs
 * are interleaved in the page (they share the scalar consts that ops cache, each backend with its
 * own buffer of them).
 */
type Out = Tensor.Tensor | ReadonlyArray<Tensor.Tensor>
const close = async (make: () => Out | Effect.Effect<Out, unknown>, rtol = 2e-4) => {
  const read = (rt: typeof gpu) =>
    rt.runPromise(
      Effect.suspend(() => {
        const r = make()
        return Effect.flatMap(Effect.isEffect(r) ? r : Effect.succeed(r), (o) =>
          Effect.forEach(Tensor.isTensor(o) ? [o] : o, (t) => Effect.map(Tensor.data(t), (d) => Array.from(d as ArrayLike<number>)))
        )
      })
    )
  const [g, c] = await Promise.all([read(gpu), read(cpu)])
  expect(g.length).toBe(c.length)
  for (let k = 0; k < c.length; k++) {
    expect(g[k]!.length).toBe(c[k]!.length)
    const scale = Math.max(1, ...c[k]!.map(Math.abs))
    for (let i = 0; i < c[k]!.length; i++) expect(Math.abs(g[k]![i]! - c[k]![i]!)).toBeLessThanOrEqual(rtol * scale)
  }
  return g
}

describe("webgpu linear algebra: shaders, also inside loop bodies", () => {
  it("cholesky of a batch (5 matrices of 24 × 24)", () => close(() => Linalg.cholesky(spd(mats([5, 24, 24], 1)))))

  for (const lower of [true, false])
    for (const transpose of [false, true])
      for (const unitDiagonal of [false, true])
        it(`triangularSolve lower=${lower} transpose=${transpose} unitDiagonal=${unitDiagonal}`, () =>
          close(() => {
            const a = Tensor.add(mats([3, 17, 17], 2), Tensor.mul(Tensor.eye(17), 4))
            return Internal.bind("triangularSolve", [lower ? Tensor.tril(a) : Tensor.triu(a), mats([3, 17, 5], 3)], { lower, transpose, unitDiagonal })
          }))

  it("lu with partial pivoting: the packed factors, permutation and sign (3 matrices of 30 × 30)", () => close(() => Internal.bind("lu", [mats([3, 30, 30], 4)], {})))

  it("solve, det and the gradient of slogdet", () =>
    close(() => {
      const a = Tensor.add(mats([2, 40, 40], 5), Tensor.mul(Tensor.eye(40), 3))
      return [Linalg.solve(a, mats([2, 40, 3], 6)), Linalg.det(Tensor.mul(a, 0.5))]
    }).then(() =>
      close(() => grad((x: Tensor.Tensor) => Tensor.sum(Linalg.slogdet(x)[1]))(Tensor.add(mats([40, 40], 7), Tensor.mul(Tensor.eye(40), 3))))
    ))

  it("cholesky, triangularSolve and lu inside a scan body", () =>
    close(() => {
      const body = (x: Tensor.Tensor, m: Tensor.Tensor) => {
        const l = Linalg.cholesky(spd(m))
        const y = Linalg.solveTriangular(l, x, { lower: true })
        return [Tensor.tanh(Linalg.solve(Tensor.add(m, Tensor.mul(Tensor.eye(12), 3)), y)), Linalg.det(l)] as const
      }
      return scan(body, mats([12, 2], 8), mats([6, 12, 12], 9))
    }))
})

describe("webgpu matmul: the register-blocked kernels' edges", () => {
  // rows not a multiple of the 8-row block, columns in pairs of vec4 or not, a transposed (strided) left operand, a batch
  for (const [m, k, n, t] of [[70, 36, 24, false], [9, 8, 12, false], [33, 20, 8, true], [5, 7, 16, true]] as const)
    it(`[3, ${m}, ${k}] @ [3, ${k}, ${n}]${t ? ", the left operand a transposed view" : ""}`, () =>
      close(() => {
        const a = t ? mT(mats([3, k, m], 10)) : mats([3, m, k], 10)
        return Tensor.matmul(a, mats([3, k, n], 11))
      }, 1e-5))
})

describe("webgpu and the CPU interleaved", () => {
  it("programs sharing cached scalars run on both at once, each reading its own buffer of them", async () => {
    // the GPU programs hold the shared 0.40625 while qr runs on operands read back asynchronously; the
    // CPU programs, run meanwhile, read the same cached scalar (once, a CPU read of it released the
    // GPU's buffer of it: "a released buffer was read")
    const program = (k: number) => Tensor.mul(Tensor.add(Linalg.qr(mats([3, 8, 8], 20 + k))[1], 0.40625), 0.40625)
    const onGpu = (k: number) => gpu.runPromise(Tensor.data(program(k))).then((d) => Array.from(d as ArrayLike<number>))
    const onCpu = (i: number) => cpu.runPromise(Tensor.toArray(Tensor.mul(Tensor.sub(Tensor.make([i, -i]), 0.40625), 0.40625)))
    let done = false
    const gpuRuns = Promise.all([0, 1, 2, 3].map(onGpu)).finally(() => (done = true))
    const cpuResults: Array<[number, unknown]> = []
    for (let i = 0; !done && i < 10000; i++) {
      cpuResults.push([i, await onCpu(i)])
      await new Promise((r) => setTimeout(r, 0))
    }
    const gpuResults = await gpuRuns
    expect(cpuResults.length).toBeGreaterThan(0)
    const f = Math.fround
    for (const [i, got] of cpuResults) expect(got).toEqual([f(f(i - 0.40625) * 0.40625), f(f(-i - 0.40625) * 0.40625)])
    for (let k = 0; k < 4; k++) {
      const c = Array.from((await cpu.runPromise(Tensor.data(program(k)))) as ArrayLike<number>)
      expect(gpuResults[k]!.length).toBe(c.length)
      for (let j = 0; j < c.length; j++) expect(Math.abs(gpuResults[k]![j]! - c[j]!)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(c[j]!)))
    }
  })
})
