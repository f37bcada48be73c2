import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { fc, test as propTest } from "@fast-check/vitest"
import { Cause, Effect, Exit, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Backend, CpuBackend, Tensor } from "../src/index.js"
import { makeCpuBackend } from "../src/internal/cpu/backend.js"
import { Pool } from "../src/internal/cpu/threads.js"
import { UNARY } from "../src/internal/cpu/worker-source.js"
import { setFusedThreshold } from "../src/internal/cpu/fused-threads.js"
import { setParallelThresholds, setWasmEnabled, sharedWasm } from "../src/internal/cpu/wasm.js"
import { setReduceThreshold } from "../src/internal/cpu/reduce.js"
import { RB } from "../src/internal/cpu/reduce-blocks.js"
import { setConvThreshold } from "../src/internal/cpu/wasm-conv.js"

const one = new Pool(1)
// no back-off to one thread on a loaded machine: every split job is offered to the worker
const two = new Pool(2, false)
const layerOf = (pool: Pool) => Layer.succeed(Backend, makeCpuBackend(pool))
const on = (pool: Pool) => <A, E>(eff: Effect.Effect<A, E>) => Effect.runSync(eff.pipe(Effect.provide(layerOf(pool))))
const run1 = on(one), run2 = on(two)

/** Deterministic data with every bit of the mantissa in use. */
const data = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7071 + seed * 1.37) * (1 + ((i * 7919) % 13)))
const bits = (a: ArrayLike<number>) => new Uint32Array(Float32Array.from(a).buffer)

let thresholds: { gemm: number; unary: number }
let fusedThreshold: number
let reduceThreshold: number
let convThreshold: number
beforeAll(async () => {
  convThreshold = setConvThreshold(0)
  reduceThreshold = setReduceThreshold(0)
  // split even small kernels, so that the properties cross chunk edges of every size
  thresholds = setParallelThresholds({ gemm: 0, unary: 0 })
  fusedThreshold = setFusedThreshold(0)
  // start the workers and wait until they take chunks
  const x = Tensor.make(data(64 * 64, 1), { shape: [64, 64] })
  run2(Tensor.data(Tensor.matmul(x, x)))
  for (let i = 0; i < 200 && two.ready < 1; i++) await new Promise((r) => setTimeout(r, 10))
})
afterAll(() => {
  setParallelThresholds(thresholds)
  setFusedThreshold(fusedThreshold)
  setReduceThreshold(reduceThreshold)
  setConvThreshold(convThreshold)
  two.close()
})

describe("CPU worker pool", () => {
  it("this environment shares WebAssembly memory with worker threads", () => {
    expect(sharedWasm()).toBeDefined()
    expect(two.ready).toBe(1)
  })

  propTest.prop([fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 90 }), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 1000 })], { numRuns: 40 })(
    "matmul gives the same bits on 1 and 2 threads (operands row-major or transposed)",
    (m, k, n, tA, tB, seed) => {
      const a = Tensor.make(data(m * k, seed), { shape: tA ? [k, m] : [m, k] })
      const b = Tensor.make(data(k * n, seed + 1), { shape: tB ? [n, k] : [k, n] })
      const f = () => Tensor.data(Tensor.matmul(tA ? Tensor.transpose(a) : a, tB ? Tensor.transpose(b) : b))
      expect(bits(run2(f()))).toEqual(bits(run1(f())))
    }
  )

  // products split over the threads (sizes past the 4096 multiply-adds from which the WebAssembly kernel runs):
  // widths that leave a partial block and a partial panel, several k blocks, k = 1, rows that are not a multiple of the tile,
  // more k blocks than B's split packing has groups (18 blocks of 251 rows, the last of 234: groups of two blocks)
  it.each([
    [3, 40, 40],
    [9, 4501, 21],
    [7, 300, 33],
    [13, 784, 100],
    [128, 784, 256],
    [784, 128, 256],
    [5, 1, 1000],
    [67, 513, 71]
  ])("a matmul %i×%i × %i gives the product, with the same bits on 1 and 2 threads", (m, k, n) => {
    const av = data(m * k, m), bv = data(k * n, n), bv2 = data(k * n, n + 1), bv3 = data(k * n, n + 2)
    // b, b stored transposed, b as a column slice of a wider matrix (read through strides); a row-major and transposed
    const a = Tensor.make(av, { shape: [m, k] })
    const at = Tensor.transpose(Tensor.make(Float32Array.from({ length: m * k }, (_, i) => av[(i % m) * k + Math.floor(i / m)]!), { shape: [k, m] }))
    const b = Tensor.make(bv, { shape: [k, n] })
    const bt = Tensor.transpose(Tensor.make(Float32Array.from({ length: k * n }, (_, i) => bv2[(i % k) * n + Math.floor(i / k)]!), { shape: [n, k] }))
    const w = n + 5
    const wide = Tensor.make(Float32Array.from({ length: k * w }, (_, i) => (i % w >= 3 && i % w < n + 3 ? bv3[Math.floor(i / w) * n + (i % w) - 3]! : 7)), { shape: [k, w] })
    const bs = Tensor.slice(wide, [0, 3], [k, n + 3])
    const f = () => Effect.all([Tensor.data(Tensor.matmul(a, b)), Tensor.data(Tensor.matmul(at, bt)), Tensor.data(Tensor.matmul(a, bs))])
    // each product in float64, to which the results are close (a chunk left uncomputed could otherwise pass with stale memory)
    const ref = (bm: Float32Array) => {
      const r = new Float64Array(m * n)
      for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0, x = av[i * k + p]!; j < n; j++) r[i * n + j]! += x * bm[p * n + j]!
      return r
    }
    const refs = [ref(bv), ref(bv2), ref(bv3)]
    const tol = 1e-5 * Math.sqrt(k) * 14 * 14
    const far = (r: ArrayLike<number>, want: Float64Array) => Array.from(r).findIndex((v, i) => !(Math.abs(v - want[i]!) <= tol))
    const differ = (x: ArrayLike<number>, y: ArrayLike<number>) => Buffer.compare(Buffer.from(bits(x).buffer), Buffer.from(bits(y).buffer)) !== 0
    const split = run2(f()), single = run1(f())
    for (let r = 0; r < 3; r++) {
      expect(far(split[r]!, refs[r]!)).toBe(-1)
      expect(differ(split[r]!, single[r]!)).toBe(false)
    }
  })

  propTest.prop([fc.constantFrom("sin" as const, "cos" as const, "exp" as const, "tanh" as const), fc.integer({ min: 1, max: 20000 }), fc.integer({ min: 0, max: 1000 })], { numRuns: 24 })(
    "sin, cos, exp and tanh give the same bits on 1 and 2 threads (far arguments included)",
    (op, n, seed) => {
      const x = data(n, seed).map((v, i) => (i % 97 === 5 ? v * 3e5 : v * 4))
      const f = () => Tensor.data(Tensor[op](Tensor.make(x, { shape: [n] })))
      expect(bits(run2(f()))).toEqual(bits(run1(f())))
    }
  )

  it("a float32 fused loop with tanh and an op the WebAssembly kernel lacks (log) runs on the workers too, with the bits of one thread", () => {
    const x = Tensor.make(data(70000, 5), { shape: [70000] })
    const f = () => Tensor.data(Tensor.mul(Tensor.tanh(x), Tensor.log(Tensor.add(Tensor.abs(x), 0.5))))
    // the workers compiled and ran the loop (a worker without tanhF would fail its chunks, and the loop run unsplit)
    const before = two.workerChunks
    const a = run1(f())
    for (let i = 0; i < 10; i++) expect(bits(run2(f()))).toEqual(bits(a))
    expect(two.workerChunks).toBeGreaterThan(before)
  })

  propTest.prop(
    [fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 120 }), fc.constantFrom("float32" as const, "float64" as const), fc.integer({ min: 0, max: 1000 })],
    { numRuns: 30 }
  )("fused elementwise loops (broadcast rows, scalars, comparisons, where) give the same bits on 1 and 2 threads", (rows, cols, dtype, seed) => {
    const x = Tensor.make(data(rows * cols, seed), { shape: [rows, cols], dtype })
    const bias = Tensor.make(data(cols, seed + 2), { shape: [cols], dtype })
    const f = () =>
      Tensor.data(Tensor.where(Tensor.greater(x, bias), Tensor.mul(Tensor.tanh(Tensor.add(x, bias)), 3), Tensor.sub(Tensor.mul(x, x), Tensor.sin(bias))))
    const [a, b] = [run1(f()), run2(f())]
    expect(Array.from(b).map((v) => Object.is(v, -0) ? "-0" : v)).toEqual(Array.from(a).map((v) => Object.is(v, -0) ? "-0" : v))
  })

  propTest.prop([fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 120 }), fc.boolean(), fc.integer({ min: 0, max: 1000 })], { numRuns: 30 })(
    "fused float32 groups with sin, cos, exp (the WebAssembly kernel: broadcast rows, scalars, masks, far arguments) give the same bits on 1 and 2 threads",
    (rows, cols, far, seed) => {
      const x = Tensor.make(data(rows * cols, seed).map((v, i) => (far && i % 211 === 7 ? v * 3e5 : v)), { shape: [rows, cols] })
      const bias = Tensor.make(data(cols, seed + 2), { shape: [cols] })
      const f = () =>
        Effect.all([
          Tensor.data(Tensor.add(Tensor.mul(Tensor.sin(x), Tensor.cos(x)), Tensor.exp(Tensor.neg(Tensor.mul(x, x))))),
          Tensor.data(Tensor.where(Tensor.greater(x, bias), Tensor.exp(Tensor.mul(x, 0.5)), Tensor.sub(Tensor.cos(bias), x)))
        ])
      const [a, b] = [run1(f()), run2(f())]
      expect(b.map(bits)).toEqual(a.map(bits))
    }
  )

  propTest.prop(
    [
      fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 1, max: 3 * RB + 7 }),
      fc.constantFrom("float32" as const, "float64" as const, "float64" as const),
      fc.integer({ min: 0, max: 1000 })
    ],
    { numRuns: 30 }
  )("sums and maxima over any axes give the same bits on 1 and 2 threads (runs longer than a block included)", (outer, inner, dtype, seed) => {
    // shape [...outer, inner]: each kind of axis set (leading, trailing, all, middle) with a long axis
    const shape = [...outer, inner]
    const n = shape.reduce((a, b) => a * b, 1)
    const x = Tensor.make(data(n, seed), { shape, dtype })
    const axesSets = [[shape.length - 1], [0], shape.map((_, i) => i), ...(shape.length > 2 ? [[1]] : [])]
    const f = () =>
      Effect.all(axesSets.flatMap((axes) => [Tensor.data(Tensor.sum(x, { axis: axes })), Tensor.data(Tensor.max(x, { axis: axes }))]))
    const [a, b] = [run1(f()), run2(f())]
    const keyed = (r: ReadonlyArray<ArrayLike<number>>) => r.map((v) => Array.from(v).map((e) => (Object.is(e, -0) ? "-0" : Number.isNaN(e) ? "NaN" : e)))
    expect(keyed(b)).toEqual(keyed(a))
  })

  propTest.prop(
    [
      fc.integer({ min: 1, max: 7 }),
      fc.constantFrom(1, 2, 3),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 6, max: 19 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 1, max: 2 }),
      fc.constantFrom("SAME" as const, "VALID" as const),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 0, max: 1000 })
    ],
    { numRuns: 40 }
  )(
    "conv (the direct WebAssembly kernel: odd batches, groups, row strides, dilation, 1-D, inputs that are transposed views) gives the same bits on 1 and 2 threads, close to im2col",
    (n, groups, cpg, opg, size, k, stride, dilation, padding, oneD, view, seed) => {
      const c = groups * cpg, o = groups * opg
      const xShape = oneD ? [n, c, 2 * size] : [n, c, size, size + 3]
      const wShape = oneD ? [o, cpg, k] : [o, cpg, k, k + 1]
      const xLen = xShape.reduce((a, b) => a * b, 1)
      // a view: the batch axis is not the outermost in memory (the images interleave)
      const made = Tensor.make(data(xLen, seed), { shape: view ? [c, n, ...xShape.slice(2)] : xShape })
      const x = view ? Tensor.transpose(made, [1, 0, ...xShape.slice(2).map((_, i) => i + 2)]) : made
      const w = Tensor.make(data(wShape.reduce((a, b) => a * b, 1), seed + 3), { shape: wShape })
      // the column stride stays 1 (the direct kernel's case); the row stride varies
      const strides = oneD ? [1] : [stride, 1]
      const f = () => Tensor.data(Tensor.conv(x, w, { padding, strides, dilation: oneD ? [dilation] : [dilation, dilation], groups }))
      const [a, b] = [run1(f()), run2(f())]
      expect(bits(b)).toEqual(bits(a))
      const was = setWasmEnabled(false)
      try {
        const ref = run1(f())
        expect(ref.length).toBe(a.length)
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - ref[i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(ref[i]!)) * cpg * k * k)
      } finally {
        setWasmEnabled(was)
      }
    }
  )

  it("a sum adds in blocks of RB elements, left to right, the blocks' sums left to right, on any number of threads", () => {
    // float64 terms that make the order visible: 2⁵³ + 1 rounds back to 2⁵³, so where the ±2⁵³ fall decides which ones are kept
    const n = 2 * RB + 1000
    const term = (i: number, r: number) => r * (i % 1999 === 0 ? 2 ** 53 : i % 1999 === 1000 ? -(2 ** 53) : 1 + (i % 5))
    const blocked = (r: number) => {
      let acc = 0
      for (let b0 = 0; b0 < n; b0 += RB) {
        let part = 0
        for (let i = b0; i < Math.min(n, b0 + RB); i++) part += term(i, r)
        acc += part
      }
      return acc
    }
    let plain = 0
    for (let i = 0; i < n; i++) plain += term(i, 1)
    expect(blocked(1)).not.toBe(plain) // the test can tell the orders apart
    const x = Float64Array.from({ length: n }, (_, i) => term(i, 1))
    const rows = Float64Array.from({ length: 3 * n }, (_, i) => term(i % n, 1 + Math.floor(i / n)))
    // the leading axis of length n: the rows transposed
    const cols = Float64Array.from({ length: 3 * n }, (_, i) => rows[(i % 3) * n + Math.floor(i / 3)]!)
    const want = [1, 2, 3].map(blocked)
    for (const run of [run1, run2]) {
      expect(run(Tensor.data(Tensor.sum(Tensor.make(x, { shape: [n], dtype: "float64" }))))[0]).toBe(want[0])
      expect(Array.from(run(Tensor.data(Tensor.sum(Tensor.make(rows, { shape: [3, n], dtype: "float64" }), { axis: 1 }))))).toEqual(want)
      expect(Array.from(run(Tensor.data(Tensor.sum(Tensor.make(cols, { shape: [n, 3], dtype: "float64" }), { axis: 0 }))))).toEqual(want)
    }
  })

  it("a float32 sum over leading axes (on the WebAssembly kernel) adds each column's rows in the same order as the JavaScript loop, for any width", () => {
    // terms ±2⁵³ (exact in float32) among small integers: the float64 sum of a column depends on the order of its rows
    const term = (i: number) => (i % 997 === 0 ? 2 ** 53 : i % 997 === 500 ? -(2 ** 53) : 1 + (i % 5))
    for (const [m, w] of [[3 * RB + 5, 1], [RB + 17, 3], [1000, 4], [700, 15], [600, 16], [500, 17], [1200, 37], [128, 256], [9, 1000]] as const) {
      const x = Tensor.make(Float32Array.from({ length: m * w }, (_, i) => term(Math.floor(i / w) * 7 + (i % w) * 131)), { shape: [m, w] })
      // the blocked order, column by column: RB rows left to right, the blocks' sums left to right
      const want = Array.from({ length: w }, (_, o) => {
        let acc = 0
        for (let b0 = 0; b0 < m; b0 += RB) {
          let part = 0
          for (let j = b0; j < Math.min(m, b0 + RB); j++) part += term(j * 7 + o * 131)
          acc += part
        }
        return Math.fround(acc)
      })
      const f = () => Tensor.data(Tensor.sum(x, { axis: 0 }))
      for (const run of [run1, run2]) expect(Array.from(run(f()))).toEqual(want)
      const was = setWasmEnabled(false)
      try {
        expect(Array.from(run1(f()))).toEqual(want)
      } finally {
        setWasmEnabled(was)
      }
    }
  })

  it("the workers took part (the properties above compared split work)", () => {
    expect(two.workerChunks).toBeGreaterThan(0)
  })

  it("a worker that dies: the next kernel fails with a BackendError, and the pool restarts", async () => {
    const x = Tensor.make(data(96 * 96, 3), { shape: [96, 96] })
    const want = bits(run1(Tensor.data(Tensor.matmul(x, x))))
    two.killOne()
    let failed = false
    for (let i = 0; i < 200 && !failed; i++) {
      await new Promise((r) => setTimeout(r, 10))
      const exit = Effect.runSyncExit(Tensor.data(Tensor.matmul(x, x)).pipe(Effect.provide(layerOf(two))))
      if (Exit.isSuccess(exit)) continue // the exit has not been reported yet
      const e = Cause.squash(exit.cause) as { _tag?: string; message?: string }
      expect(e._tag).toBe("BackendError")
      expect(e.message).toMatch(/worker thread of the CPU backend exited/)
      failed = true
    }
    expect(failed).toBe(true)
    // restarted: right again, and the new workers take chunks
    expect(bits(run2(Tensor.data(Tensor.matmul(x, x))))).toEqual(want)
    for (let i = 0; i < 200 && two.ready < 1; i++) await new Promise((r) => setTimeout(r, 10))
    expect(two.ready).toBe(1)
    for (let i = 0; i < 20; i++) expect(bits(run2(Tensor.data(Tensor.matmul(x, x))))).toEqual(want)
  })
})

describe("feeding a job's input", () => {
  it("a feed that throws: the job runs to its end, the error is the caller's, and the pool keeps working; drains see every chunk's result once", () => {
    const shared = sharedWasm()!
    const ex = shared.exports as { heapBase: () => number }
    const base = (ex.heapBase() + 15) & ~15
    const F = new Float32Array(shared.memory.buffer, base, 256)
    const fed: number[] = []
    expect(() =>
      two.exec(shared, UNARY, [base, base, 256, 2, 32], 8, false, {
        feed: (c) => {
          if (c === 5) throw new Error("boom")
          fed.push(c)
        }
      })
    ).toThrow("boom")
    expect(fed).toEqual([0, 1, 2, 3, 4])
    // the next job: chunk c's input placed by its feed (exp of c), computed whoever claims it
    // and each chunk's result drained once, whoever computed it, after it was computed
    const drained: Array<[number, number]> = []
    const drain = (c: number) => drained.push([c, F[32 * c + 7]!])
    const got = two.exec(shared, UNARY, [base, base, 256, 2, 32], 8, false, { feed: (c) => F.fill(c, 32 * c, 32 * c + 32), drain })
    expect(got).toBe(0)
    for (let c = 0; c < 8; c++) expect(F[32 * c + 7]).toBe(Math.fround(Math.exp(c)))
    expect(drained.sort((x, y) => x[0] - y[0])).toEqual(Array.from({ length: 8 }, (_, c) => [c, Math.fround(Math.exp(c))]))
  })
})

describe("workers that cannot start", () => {
  it("a few restarts fail with a BackendError, then the pool runs on the calling thread", async () => {
    // a module the workers cannot instantiate (it imports x.f): each one dies at start
    const bytes = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 2, 7, 1, 1, 0x78, 1, 0x66, 0, 0)
    const good = sharedWasm()!
    const bad = { ...good, module: new WebAssembly.Module(bytes) }
    const pool = new Pool(2, false)
    const base = ((good.exports as { heapBase: () => number }).heapBase() + 15) & ~15
    const messages: string[] = []
    for (let i = 0; i < 400 && !messages.some((m) => /stopped/.test(m)); i++) {
      try {
        pool.exec(bad, UNARY, [base, base, 64, 0, 32], 2)
      } catch (e) {
        expect((e as { _tag?: string })._tag).toBe("BackendError")
        messages.push((e as Error).message)
      }
      await new Promise((r) => setTimeout(r, 5))
    }
    expect(messages.length).toBe(3)
    expect(messages[2]).toMatch(/stopped \(its workers never started\), kernels run on the calling thread/)
    // from now on: the calling thread alone, no error
    for (let i = 0; i < 5; i++) expect(pool.exec(bad, UNARY, [base, base, 64, 0, 32], 2)).toBe(0)
    expect(pool.started).toBe(0)
  })
})

describe("CpuBackend.layerWith", () => {
  const failure = (options: unknown) => {
    const exit = Effect.runSyncExit(Tensor.data(Tensor.ones([2])).pipe(Effect.provide(CpuBackend.layerWith(options as CpuBackend.Options))))
    if (Exit.isSuccess(exit)) throw new Error(`succeeded with ${String(options)}`)
    return Cause.squash(exit.cause) as { _tag?: string; message?: string }
  }

  for (const threads of [0, -2, 1.5, Number.NaN, Infinity, "2", 1000, null])
    it(`threads: ${String(threads)} is an OptionsError`, () => {
      const e = failure({ threads })
      expect(e._tag).toBe("OptionsError")
      expect(e.message).toMatch(/threads must be a positive integer/)
    })

  it("an unknown option, or options that are not an object, is an OptionsError", () => {
    expect(failure({ thread: 2 }).message).toMatch(/unknown option "thread"/)
    expect(failure(2)._tag).toBe("OptionsError")
  })

  it("computes with any thread count (the same bits as the default layer)", async () => {
    const x = Tensor.make(data(80 * 80, 5), { shape: [80, 80] })
    const f = Tensor.data(Tensor.sin(Tensor.matmul(x, x)))
    const want = bits(Effect.runSync(f.pipe(Effect.provide(CpuBackend.layer))))
    for (const threads of [1, 2, 3]) expect(bits(await Effect.runPromise(f.pipe(Effect.provide(CpuBackend.layerWith({ threads })))))).toEqual(want)
  })
})

describe("shutdown", () => {
  const script = fileURLToPath(new URL("./fixtures/threads-child.ts", import.meta.url))
  const root = fileURLToPath(new URL("../../../", import.meta.url))
  const runChild = (mode: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) => {
      const t0 = Date.now()
      execFile(process.execPath, ["--import", "tsx", script, mode], { cwd: root, timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr, ms: Date.now() - t0 })
      )
    })

  for (const mode of ["default", "scoped"])
    it(`a process using the ${mode === "default" ? "default pool" : "pool of layerWith"} exits when its work is done`, async () => {
      const r = await runChild(mode)
      if (r.code !== 0) throw new Error(`exit ${r.code} after ${r.ms} ms\n${r.stdout}\n${r.stderr}`)
      expect(r.stdout).toMatch(/workers ready: 1, ok/)
    })
})
