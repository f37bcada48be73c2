import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Backend, type BackendShape, Tensor } from "../src/index.js"
import type { FusedOp } from "../src/Backend.js"
import { cpuBackend } from "../src/internal/cpu/backend.js"
import { setWasmEnabled } from "../src/internal/cpu/wasm.js"

/** The CPU backend without fusion (and without view kernels): one kernel per primitive. */
const plain: BackendShape = { ...cpuBackend, viewKernels: undefined as never, fusion: undefined as never }

/** The CPU backend, recording the fused programs it runs. */
const programs: Array<ReadonlyArray<FusedOp>> = []
const spied: BackendShape = {
  ...cpuBackend,
  fusion: {
    canFuse: cpuBackend.fusion!.canFuse,
    kernel: (program, args, out) => {
      programs.push(program)
      return cpuBackend.fusion!.kernel(program, args, out)
    }
  }
}

const read = (ts: ReadonlyArray<Tensor.Tensor>, backend: BackendShape) =>
  Effect.runSync(Effect.all(ts.map((t) => Tensor.data(t))).pipe(Effect.provideService(Backend, backend)))

const values = (n: number, dtype: "float32" | "float64" = "float32") => {
  const xs = Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 3)
  xs[1] = NaN
  xs[2] = Infinity
  xs[3] = -0
  xs[4] = 0
  return Tensor.make(xs, { dtype })
}

/** Builds twice (fresh nodes), compares bit for bit, and returns the number of fused operations run. */
const same = (build: () => ReadonlyArray<Tensor.Tensor>): number => {
  const want = read(build(), plain)
  programs.length = 0
  const got = read(build(), spied)
  for (let k = 0; k < want.length; k++) {
    expect(got[k]!.constructor).toBe(want[k]!.constructor)
    expect(got[k]!.length).toBe(want[k]!.length)
    for (let i = 0; i < want[k]!.length; i++)
      if (!Object.is(got[k]![i], want[k]![i])) expect.fail(`output ${k}[${i}]: fused ${got[k]![i]}, separate ${want[k]![i]}`)
  }
  return programs.reduce((n, p) => n + p.length, 0)
}

describe("elementwise fusion on the CPU", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`gives the separate kernels' numbers bit for bit (${dtype})`, () => {
      const x = values(5001, dtype)
      const y = Tensor.mul(values(5001, dtype), 0.5)
      // one group (float32: on the WebAssembly kernel of fused-wasm.ts)
      expect(same(() => [Tensor.add(Tensor.mul(Tensor.sin(x), Tensor.cos(x)), Tensor.exp(Tensor.neg(Tensor.square(x))))])).toBe(7)
      same(() => [Tensor.div(Tensor.log1p(Tensor.abs(x)), Tensor.add(Tensor.sqrt(Tensor.abs(y)), 1e-3))])
      same(() => [Tensor.pow(Tensor.abs(x), Tensor.tanh(y))])
      same(() => [Tensor.maximum(Tensor.sub(x, y), Tensor.minimum(Tensor.expm1(y), Tensor.sign(x)))])
      same(() => [Tensor.where(Tensor.greater(Tensor.mul(x, y), 0), Tensor.exp(y), Tensor.neg(x))])
      same(() => [Tensor.relu(Tensor.sub(x, 1)), Tensor.sigmoid(Tensor.mul(x, 3))])
      same(() => [Tensor.equal(Tensor.add(x, 0), Tensor.mul(x, 1)), Tensor.less(Tensor.neg(x), Tensor.abs(y))])
    })
  }

  it("broadcast operands inside a group", () => {
    const x = Tensor.reshape(values(4800), [120, 40])
    const b = Tensor.reshape(values(40), [40])
    const c = Tensor.reshape(values(120), [120, 1])
    expect(same(() => [Tensor.tanh(Tensor.add(Tensor.mul(x, b), c))])).toBeGreaterThan(2)
    expect(same(() => [Tensor.tanh(Tensor.sub(Tensor.add(x, 2), Tensor.transpose(Tensor.reshape(values(4800), [40, 120]))))])).toBe(3)
  })

  it("a node read twice inside a group is computed once in it", () => {
    const x = values(5000, "float64")
    expect(
      same(() => {
        const s = Tensor.sin(x), c = Tensor.cos(x)
        return [Tensor.sub(Tensor.mul(c, c), Tensor.mul(s, Tensor.add(s, c)))]
      })
    ).toBe(6)
  })

  it("without WebAssembly, float32 sin, cos and exp are fused, sin and cos sharing a reduction", () => {
    const was = setWasmEnabled(false)
    try {
      const x = values(5000)
      expect(
        same(() => {
          const s = Tensor.sin(x), c = Tensor.cos(x)
          return [Tensor.add(Tensor.sub(Tensor.mul(c, c), Tensor.mul(s, Tensor.add(s, c))), Tensor.exp(Tensor.neg(x)))]
        })
      ).toBe(9)
      expect(same(() => [Tensor.mul(Tensor.sin(x), Tensor.cos(x))])).toBe(3)
    } finally {
      setWasmEnabled(was)
    }
  })

  it("float32 groups on the WebAssembly kernel give the separate kernels' bits and the JavaScript loop's", () => {
    // far arguments of sin and cos (|x| ≥ 1e5: the group is computed again by the JavaScript loop), NaN, ±∞, ±0
    const far = Tensor.make(Array.from({ length: 777 }, (_, i) => (i === 500 ? 3e5 : Math.sin(i) * 5)), { dtype: "float32" })
    const builds: Array<(x: Tensor.Tensor, y: Tensor.Tensor) => Tensor.Tensor[]> = [
      (x) => [Tensor.add(Tensor.mul(Tensor.sin(x), Tensor.cos(x)), Tensor.exp(Tensor.neg(Tensor.square(x))))],
      (x, y) => [Tensor.where(Tensor.greater(Tensor.mul(x, y), 0), Tensor.exp(y), Tensor.neg(Tensor.cos(x)))],
      (x, y) => [Tensor.maximum(Tensor.sin(x), Tensor.minimum(Tensor.sign(y), Tensor.exp(Tensor.abs(x))))],
      (x, y) => [Tensor.div(Tensor.sqrt(Tensor.abs(Tensor.sin(x))), Tensor.sub(Tensor.floor(y), Tensor.exp(x)))],
      (x, y) => [Tensor.mul(Tensor.where(Tensor.less(x, y), 1, 0), Tensor.cos(Tensor.add(x, y)))],
      (x, y) => [Tensor.where(Tensor.equal(Tensor.sin(x), Tensor.sin(y)), Tensor.exp(x), Tensor.maximum(x, Tensor.neg(y)))],
      // selects and comparisons without a transcendental (a ReLU's gradient, a clipped difference)
      (x, y) => [Tensor.add(Tensor.where(Tensor.greater(x, 0), y, 0), Tensor.where(Tensor.equal(x, 0), Tensor.mul(y, 0.5), 0))],
      (x, y) => [Tensor.where(Tensor.less(Tensor.abs(Tensor.sub(x, y)), 1), Tensor.sub(x, y), Tensor.sign(Tensor.sub(x, y)))],
      // tanh (with the others, and alone)
      (x, y) => [Tensor.mul(Tensor.tanh(x), Tensor.add(Tensor.tanh(Tensor.mul(y, 3)), Tensor.exp(Tensor.neg(Tensor.abs(x)))))],
      (x) => [Tensor.tanh(Tensor.mul(x, 0.25))],
      // arithmetic alone (on the kernel from 256 elements)
      (x, y) => [Tensor.add(Tensor.mul(Tensor.sub(x, y), Tensor.div(y, Tensor.add(Tensor.abs(x), 0.25))), Tensor.maximum(Tensor.neg(x), Tensor.minimum(y, Tensor.sqrt(Tensor.abs(y)))))],
      // a group that also has an operation the kernel lacks (log1p): the JavaScript loop
      (x) => [Tensor.log1p(Tensor.exp(Tensor.neg(Tensor.abs(x))))]
    ]
    // sizes: a few tiles and a remainder, one chunk of the kernel and a remainder (16384 + 3)
    for (const n of [4097, 16387]) {
      const x = values(n)
      const y = Tensor.mul(Tensor.slice(values(n + 1), [1], [n + 1]), -0.75)
      for (const b of builds) {
        same(() => b(x, y))
        // and equal to the JavaScript loop (no WebAssembly)
        const wasmOn = read(b(x, y), spied)
        const was = setWasmEnabled(false)
        try {
          const js = read(b(x, y), spied)
          for (let k = 0; k < js.length; k++) for (let i = 0; i < js[k]!.length; i++) if (!Object.is(wasmOn[k]![i], js[k]![i])) expect.fail(`n ${n}, output ${k}[${i}]: kernel ${wasmOn[k]![i]}, loop ${js[k]![i]}`)
        } finally {
          setWasmEnabled(was)
        }
      }
    }
    same(() => [Tensor.add(Tensor.mul(Tensor.sin(far), Tensor.cos(far)), Tensor.exp(Tensor.neg(far)))])
    // broadcast operands: a row (periodic), a column (gathered), a scalar, a bool mask
    const m = Tensor.reshape(values(4800), [120, 40])
    const row = Tensor.reshape(values(40), [40]), col = Tensor.reshape(values(120), [120, 1])
    const mask = Tensor.greater(Tensor.reshape(values(4800), [120, 40]), Tensor.make(0.5))
    same(() => [Tensor.add(Tensor.exp(Tensor.mul(Tensor.sin(m), row)), Tensor.mul(Tensor.cos(col), 2.5))])
    same(() => [Tensor.where(mask, Tensor.exp(Tensor.neg(m)), Tensor.sin(row))])
    // a row read periodically by the kernel: shorter than its tiles (copied run by run), one or two tiles long (read
    // in place), longer and not a multiple (tiles straddling two periods); arithmetic alone and with a select
    for (const w of [40, 256, 300, 512, 700]) {
      const rows = Math.ceil(9000 / w)
      const x = Tensor.reshape(values(rows * w), [rows, w])
      const bias = Tensor.mul(values(w), -0.5)
      const builds = [
        () => [Tensor.mul(Tensor.add(x, bias), Tensor.sub(x, 0.5))],
        () => [Tensor.where(Tensor.greater(Tensor.add(x, bias), 0), Tensor.mul(x, bias), 0)]
      ]
      for (const b of builds) {
        same(b)
        const wasmOn = read(b(), spied)
        const was = setWasmEnabled(false)
        try {
          const js = read(b(), spied)
          for (let i = 0; i < js[0]!.length; i++) if (!Object.is(wasmOn[0]![i], js[0]![i])) expect.fail(`period ${w}, [${i}]: kernel ${wasmOn[0]![i]}, loop ${js[0]![i]}`)
        } finally {
          setWasmEnabled(was)
        }
      }
    }
  })

  it("single float32 binary ops of 512 elements or more (the WebAssembly kernel) give the JavaScript kernels' bits, dense and broadcast", () => {
    const viewsOnly: BackendShape = { ...cpuBackend, fusion: undefined as never }
    const x = Tensor.reshape(values(40 * 64), [40, 64])
    const y = Tensor.reshape(Tensor.mul(values(40 * 64 + 1), -0.75), [40 * 64 + 1])
    const yd = Tensor.reshape(Tensor.slice(y, [1], [40 * 64 + 1]), [40, 64])
    const row = Tensor.mul(values(64), 1.5), one = Tensor.make(0, { dtype: "float32" })
    const ops = [Tensor.add, Tensor.sub, Tensor.mul, Tensor.div, Tensor.maximum, Tensor.minimum]
    for (const backend of [plain, viewsOnly]) {
      // dense pairs, a broadcast row, a scalar (a zero: x / 0 and 0 / 0), the operands swapped, a sliced (offset) operand
      const build = () => ops.flatMap((f) => [f(x, yd), f(yd, x), f(x, row), f(row, x), f(x, one), f(one, x), f(Tensor.slice(yd, [1, 0], [40, 64]), Tensor.slice(x, [0, 0], [39, 64]))])
      const kernel = read(build(), backend)
      const was = setWasmEnabled(false)
      try {
        const js = read(build(), backend)
        for (let k = 0; k < js.length; k++) for (let i = 0; i < js[k]!.length; i++) if (!Object.is(kernel[k]![i], js[k]![i])) expect.fail(`output ${k}[${i}]: kernel ${kernel[k]![i]}, loop ${js[k]![i]}`)
      } finally {
        setWasmEnabled(was)
      }
    }
  })

  it("a node read twice, or read as a root, is not fused away", () => {
    const x = values(5000)
    same(() => {
      const s = Tensor.sin(x)
      return [Tensor.add(Tensor.mul(s, s), Tensor.cos(s)), s]
    })
    same(() => {
      const e = Tensor.exp(Tensor.neg(x))
      return [Tensor.add(e, 1), Tensor.mul(e, 2)]
    })
  })

  it("long chains are cut into bounded groups", () => {
    const x = values(4500)
    same(() => {
      let y = x
      for (let i = 0; i < 300; i++) y = Tensor.add(Tensor.mul(y, 0.999), 0.001)
      return [y]
    })
  })

  it("small tensors, int32, bool and complex64 are left to their kernels", () => {
    expect(same(() => [Tensor.exp(Tensor.sin(values(100)))])).toBe(0)
    const n = Tensor.arange(5000)
    expect(same(() => [Tensor.add(Tensor.mul(n, 3), Tensor.neg(n))])).toBe(0)
    const z = Tensor.complex(values(5000), values(5000))
    expect(same(() => [Tensor.exp(Tensor.mul(z, z))])).toBe(0)
  })

  it("empty and scalar tensors", () => {
    same(() => [Tensor.exp(Tensor.sin(Tensor.zeros([0, 3])))])
    same(() => [Tensor.exp(Tensor.sin(Tensor.make(0.25)))])
  })
})

describe("common subexpressions", () => {
  it("equal nodes built twice are computed once, with the same numbers", () => {
    const x = values(5000)
    const calls: string[] = []
    // without fusion, so that every sin and cos is a kernel call
    const counting: BackendShape = {
      ...cpuBackend,
      fusion: undefined as never,
      kernels: Object.fromEntries(
        Object.entries(cpuBackend.kernels).map(([name, k]) => [name, (...a: unknown[]) => (calls.push(name), (k as (...b: unknown[]) => unknown)(...a))])
      ) as unknown as BackendShape["kernels"]
    }
    const build = () => {
      // sin(x) and cos(x) built twice, as a forward pass and its derivative do
      const f = Tensor.mul(Tensor.sin(x), Tensor.cos(x))
      const df = Tensor.sub(Tensor.mul(Tensor.cos(x), Tensor.cos(x)), Tensor.mul(Tensor.sin(x), Tensor.sin(x)))
      return [Tensor.add(f, df)]
    }
    const want = read(build(), plain)
    const got = Effect.runSync(Effect.all(build().map((t) => Tensor.data(t))).pipe(Effect.provideService(Backend, counting)))
    for (let k = 0; k < want.length; k++) expect(Array.from(got[k]!)).toEqual(Array.from(want[k]!))
    expect(calls.filter((c) => c === "sin").length).toBe(1)
    expect(calls.filter((c) => c === "cos").length).toBe(1)
  })
})
