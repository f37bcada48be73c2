/**
 * The ops defined for complex numbers, each against the float64 reference of
 * ./helpers.ts (inputs are float32-rounded first, so both sides see the same
 * numbers; float32 tolerance on the modulus), plus the edge cases where a
 * naive formula goes wrong: branch cuts, large real parts, tiny arguments,
 * 0 to a complex power.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import {
  cabs, cadd, cconj, ccos, cdiv, cexp, clog, cmul, cneg, complexArb, cpow, csin, csqrt, csub, ctanh, ctensor, type Cx,
  expectC, expectFailure, expectR, f32, readC, readR, run
} from "./helpers.js"

const RUNS = { numRuns: 40 }
const vec = (m: number) => fc.array(complexArb(m), { minLength: 1, maxLength: 12 })

/** Float32 rounding of the reference's components, for exact-comparison cases. */
const r32 = (z: Cx): Cx => [f32(z[0]), f32(z[1])]

/** Componentwise closeness, each part to its own magnitude (for the cases where the small part matters). */
const expectParts = async (t: Tensor.Tensor, expected: ReadonlyArray<Cx>, rtol = 1e-6) => {
  const got = await readC(t)
  expected.forEach((e, i) => {
    for (const k of [0, 1] as const) {
      const g = got[i]![k], w = e[k]
      if (Number.isNaN(w)) expect(g, `element ${i} part ${k}`).toBeNaN()
      else if (!Number.isFinite(w) || w === 0) expect(g, `element ${i} part ${k}`).toBe(w)
      else expect(Math.abs(g - w), `element ${i} part ${k}: got ${g}, expected ${w}`).toBeLessThanOrEqual(rtol * Math.abs(w))
    }
  })
}

describe("unary ops against the reference", () => {
  const cases: ReadonlyArray<readonly [string, (z: Tensor.Tensor) => Tensor.Tensor, (z: Cx) => Cx, number]> = [
    ["neg", Tensor.neg, cneg, 50],
    ["exp", Tensor.exp, cexp, 10],
    ["log", Tensor.log, clog, 50],
    ["sin", Tensor.sin, csin, 6],
    ["cos", Tensor.cos, ccos, 6],
    ["tanh", Tensor.tanh, ctanh, 6],
    ["sqrt", Tensor.sqrt, csqrt, 50],
    ["square", Tensor.square, (z) => cmul(z, z), 50],
    ["reciprocal", Tensor.reciprocal, (z) => cdiv([1, 0], z), 50],
    ["conj", Tensor.conj, cconj, 50],
    ["log1p", Tensor.log1p, (z) => clog(cadd([1, 0], z)), 50],
    ["expm1", Tensor.expm1, (z) => csub(cexp(z), [1, 0]), 10],
    ["sign", Tensor.sign, (z) => (cabs(z) === 0 ? [0, 0] : [z[0] / cabs(z), z[1] / cabs(z)]), 50]
  ]
  for (const [name, op, ref, m] of cases) {
    it(`${name}`, async () => {
      await fc.assert(
        fc.asyncProperty(vec(m), async (zs) => {
          const out = op(ctensor(zs))
          expect(out.dtype).toBe("complex64")
          await expectC(out, zs.map(ref), { rtol: 1e-5, atol: 1e-6 }, name, [zs.length])
        }),
        RUNS
      )
    })
  }

  it("tanh of poles' neighbourhood and moderate real parts", async () => {
    const zs: Cx[] = [[0.5, f32(Math.PI / 2)], [0, 1.5], [3, -1.2], [-10, 0.7], [18, 2], [-21.5, -3]]
    await expectC(Tensor.tanh(ctensor(zs)), zs.map(ctanh), { rtol: 1e-5, atol: 0 })
  })

  it("real, imag, abs and angle give float32 against the reference", async () => {
    await fc.assert(
      fc.asyncProperty(vec(50), async (zs) => {
        const z = ctensor(zs)
        for (const [name, op, ref] of [
          ["real", Tensor.real, (c: Cx) => c[0]],
          ["imag", Tensor.imag, (c: Cx) => c[1]],
          ["abs", Tensor.abs, cabs],
          ["angle", Tensor.angle, (c: Cx) => Math.atan2(c[1], c[0])]
        ] as const) {
          const out = op(z)
          expect(out.dtype, name).toBe("float32")
          await expectR(out, zs.map(ref), { rtol: 1e-6, atol: 1e-6 }, name)
        }
      }),
      RUNS
    )
  })

  it("complex(re, im) builds complex64 from float32 parts (numbers and other real dtypes are cast)", async () => {
    await expectC(Tensor.complex(Tensor.make([1, 2]), Tensor.make([3, -4])), [[1, 3], [2, -4]], { rtol: 0, atol: 0 })
    await expectC(Tensor.complex(Tensor.make([1.5, 2], { dtype: "float64" }), 1), [[1.5, 1], [2, 1]], { rtol: 0, atol: 0 })
    await expectC(Tensor.complex(0, Tensor.make([[1], [2]], { dtype: "int32" })), [[0, 1], [0, 2]], { rtol: 0, atol: 0 }, "", [2, 1])
    const z = ctensor([[1, 2], [-3, 0.5]])
    await expectC(Tensor.complex(Tensor.real(z), Tensor.imag(z)), [[1, 2], [-3, 0.5]], { rtol: 0, atol: 0 })
  })

  it("real of a real tensor is itself, imag is zeros, conj is itself", async () => {
    const x = Tensor.make([1, -2], { dtype: "float64" })
    expect(await readR(Tensor.real(x))).toEqual([1, -2])
    expect(await readR(Tensor.imag(x))).toEqual([0, 0])
    expect(Tensor.conj(x)).toBe(x)
  })
})

describe("binary ops against the reference", () => {
  const cases: ReadonlyArray<readonly [string, (a: Tensor.Tensor, b: Tensor.Tensor) => Tensor.Tensor, (a: Cx, b: Cx) => Cx]> = [
    ["add", Tensor.add, cadd],
    ["sub", Tensor.sub, csub],
    ["mul", Tensor.mul, cmul],
    ["div", Tensor.div, cdiv]
  ]
  const pairs = fc.integer({ min: 1, max: 10 }).chain((n) =>
    fc.tuple(fc.array(complexArb(20), { minLength: n, maxLength: n }), fc.array(complexArb(20), { minLength: n, maxLength: n }))
  )
  for (const [name, op, ref] of cases) {
    it(`${name}`, async () => {
      await fc.assert(
        fc.asyncProperty(pairs, async ([as, bs]) => {
          fc.pre(name !== "div" || bs.every((b) => cabs(b) > 1e-3))
          await expectC(op(ctensor(as), ctensor(bs)), as.map((a, i) => ref(a, bs[i]!)), { rtol: 1e-5, atol: 1e-6 }, name)
        }),
        RUNS
      )
    })
  }

  it("pow with a complex exponent: principal branch e^(w log z)", async () => {
    const base = fc.array(complexArb(4), { minLength: 1, maxLength: 8 })
    await fc.assert(
      fc.asyncProperty(base, complexArb(2), async (zs, w) => {
        fc.pre(zs.every((z) => cabs(z) > 1e-2))
        const expected = zs.map((z) => cpow(z, w))
        fc.pre(expected.every((e) => cabs(e) < 1e6))
        await expectC(Tensor.pow(ctensor(zs), ctensor([w], [])), expected, { rtol: 2e-5, atol: 1e-6 }, "pow")
      }),
      RUNS
    )
  })

  it("pow: complex exponent tensor, real base tensor, number base, fractional number exponent", async () => {
    const zs: Cx[] = [[1, 2], [-3, 0.5], [0.25, -1]]
    const ws: Cx[] = [[0.5, 1], [2, -0.5], [-1, 0.25]]
    await expectC(Tensor.pow(ctensor(zs), ctensor(ws)), zs.map((z, i) => cpow(z, ws[i]!)), { rtol: 2e-5, atol: 1e-6 })
    // real base, complex exponent: the base is promoted to complex64
    await expectC(Tensor.pow(Tensor.make([2, 0.5, 3]), ctensor(ws)), ws.map((w, i) => cpow([[2, 0.5, 3][i]!, 0], w)), { rtol: 2e-5, atol: 1e-6 })
    // negative real base: log(−2 + 0i) = log 2 + iπ
    await expectC(Tensor.pow(Tensor.make([-2]), ctensor([[0.5, 0]])), [cpow([-2, 0], [0.5, 0])], { rtol: 2e-5, atol: 1e-6 })
    await expectC(Tensor.pow(2, ctensor(ws)), ws.map((w) => cpow([2, 0], w)), { rtol: 2e-5, atol: 1e-6 })
    await expectC(Tensor.pow(ctensor(zs), 0.5), zs.map(csqrt), { rtol: 2e-5, atol: 1e-6 })
    await expectC(Tensor.pow(ctensor(zs), -1.5), zs.map((z) => cpow(z, [-1.5, 0])), { rtol: 2e-5, atol: 1e-6 })
    // small integer exponents expand into multiplications
    await expectC(Tensor.pow(ctensor(zs), 3), zs.map((z) => cmul(z, cmul(z, z))), { rtol: 1e-5, atol: 1e-6 })
    await expectC(Tensor.pow(ctensor(zs), -2), zs.map((z) => cdiv([1, 0], cmul(z, z))), { rtol: 1e-5, atol: 1e-6 })
    await expectC(Tensor.pow(ctensor(zs), 0), zs.map(() => [1, 0] as Cx), { rtol: 0, atol: 0 })
  })

  it("pow at 0: 0^0 = 1, 0^w = 0 for Re w > 0, ∞ for a negative real w", async () => {
    const zero = ctensor([[0, 0]], [])
    await expectParts(Tensor.pow(zero, ctensor([[0, 0]], [])), [[1, 0]])
    await expectParts(Tensor.pow(zero, ctensor([[0.5, 2]], [])), [[0, 0]])
    await expectParts(Tensor.pow(zero, ctensor([[-1, 0]], [])), [[Infinity, 0]])
  })

  it("mixed dtypes promote to complex64 (real tensors, int32, bool, weak numbers)", async () => {
    const z = ctensor([[1, 2], [3, -4]])
    for (const other of [Tensor.make([10, 20]), Tensor.make([10, 20], { dtype: "float64" }), Tensor.make([10, 20], { dtype: "int32" })]) {
      const s = Tensor.add(z, other)
      expect(s.dtype).toBe("complex64")
      await expectC(s, [[11, 2], [23, -4]], { rtol: 0, atol: 0 })
      await expectC(Tensor.mul(other, z), [[10, 20], [60, -80]], { rtol: 0, atol: 0 })
    }
    await expectC(Tensor.add(z, Tensor.make([true, false], { dtype: "bool" })), [[2, 2], [3, -4]], { rtol: 0, atol: 0 })
    await expectC(Tensor.mul(z, 0.5), [[0.5, 1], [1.5, -2]], { rtol: 0, atol: 0 })
    await expectC(Tensor.sub(1, z), [[0, -2], [-2, 4]], { rtol: 0, atol: 0 })
    await expectC(Tensor.div(z, 2), [[0.5, 1], [1.5, -2]], { rtol: 0, atol: 0 })
  })

  it("broadcasting: a complex scalar against a real matrix and a row against a column", async () => {
    const c = ctensor([[0, 1]], [])
    const x = Tensor.make([[1, 2], [3, 4]])
    await expectC(Tensor.mul(c, x), [[0, 1], [0, 2], [0, 3], [0, 4]], { rtol: 0, atol: 0 }, "", [2, 2])
    const row = ctensor([[1, 1], [2, -1]], [1, 2])
    const col = ctensor([[0, 1], [3, 0]], [2, 1])
    const want: Cx[] = [cadd([1, 1], [0, 1]), cadd([2, -1], [0, 1]), cadd([1, 1], [3, 0]), cadd([2, -1], [3, 0])]
    await expectC(Tensor.add(row, col), want, { rtol: 0, atol: 0 }, "", [2, 2])
  })
})

describe("edge cases of the kernels", () => {
  it("sqrt: the branch cut follows the sign of a zero imaginary part (as C99 csqrt and NumPy)", async () => {
    await expectParts(Tensor.sqrt(ctensor([[-4, 0], [-4, -0], [0, 0], [4, 0], [0, 2], [0, -2], [-1, 1], [-1, -1]])), [
      [0, 2], [0, -2], [0, 0], [2, 0], [1, 1], [1, -1],
      [f32(0.45508986056222733), f32(1.09868411346781)], [f32(0.45508986056222733), f32(-1.09868411346781)]
    ])
  })

  it("sqrt keeps the small part accurate on both sides of the cut (no cancellation)", async () => {
    // √(−1 ± εi) ≈ ε/2 ± i, √(1 + εi) ≈ 1 + iε/2
    const eps = f32(1e-7)
    await expectParts(Tensor.sqrt(ctensor([[-1, eps], [-1, -eps], [1, eps], [-1e6, 1]])), [
      r32([eps / 2, 1]), r32([eps / 2, -1]), r32([1, eps / 2]), r32([1 / (2 * 1000), 1000])
    ], 2e-6)
  })

  it("tanh: large real parts give ±1 with the exact tiny imaginary part, never NaN", async () => {
    const zs: Cx[] = [[30, 1], [-30, 1], [25, -2], [400, 2], [-400, 0.5], [1000, 0]]
    const expected = zs.map(([a, b]): Cx => [Math.sign(a), 4 * Math.sin(b) * Math.cos(b) * Math.exp(-2 * Math.abs(a))])
    await expectParts(Tensor.tanh(ctensor(zs)), expected.map(r32), 1e-6)
  })

  it("exp of a large real argument overflows to ∞ + 0i, not NaN", async () => {
    await expectParts(Tensor.exp(ctensor([[800, 0], [100, 0], [-800, 0]])), [[Infinity, 0], [Infinity, 0], [0, 0]])
  })

  it("log1p and expm1 keep tiny arguments' digits", async () => {
    const t = f32(1e-12)
    await expectParts(Tensor.log1p(ctensor([[t, t], [t, 0], [0, t]])), [r32([t, t]), r32([t, 0]), [f32(t * t / 2), t]], 1e-5)
    await expectParts(Tensor.expm1(ctensor([[t, t], [t, 0], [0, t]])), [r32([t, t]), r32([t, 0]), [f32(-t * t / 2), t]], 1e-5)
  })

  it("log: log 0 = −∞, the cut at the negative axis follows the zero's sign", async () => {
    await expectParts(Tensor.log(ctensor([[0, 0], [-1, 0], [-1, -0], [0, 1]])), [
      [-Infinity, 0], [0, f32(Math.PI)], [0, f32(-Math.PI)], [0, f32(Math.PI / 2)]
    ])
  })

  it("sign is z/|z| and 0 at 0; abs avoids overflow of re² + im²", async () => {
    await expectParts(Tensor.sign(ctensor([[3, 4], [0, 0], [0, -2], [-5, 0]])), [[0.6, 0.8].map(f32) as unknown as Cx, [0, 0], [0, -1], [-1, 0]])
    await expectR(Tensor.abs(ctensor([[3e30, 4e30]])), [5e30], { rtol: 1e-6, atol: 0 })
  })
})

describe("cast and comparisons", () => {
  const z = ctensor([[1.75, 2], [-3.5, 0], [0, 0], [0, -1]])

  it("complex → real keeps the real part (float64, float32), int32 truncates it, bool tests z ≠ 0", async () => {
    expect(await readR(Tensor.cast(z, "float32"))).toEqual([1.75, -3.5, 0, 0])
    const d = Tensor.cast(z, "float64")
    expect(d.dtype).toBe("float64")
    expect(await readR(d)).toEqual([1.75, -3.5, 0, 0])
    expect(await readR(Tensor.cast(z, "int32"))).toEqual([1, -3, 0, 0])
    expect(await run(Tensor.toArray(Tensor.cast(z, "bool")))).toEqual([true, true, false, true])
  })

  it("real → complex has a zero imaginary part", async () => {
    expect(await readC(Tensor.cast(Tensor.make([1.5, -2], { dtype: "float64" }), "complex64"))).toEqual([[1.5, 0], [-2, 0]])
    expect(await readC(Tensor.cast(Tensor.make([3, -4], { dtype: "int32" }), "complex64"))).toEqual([[3, 0], [-4, 0]])
    expect(await readC(Tensor.cast(Tensor.make([true, false], { dtype: "bool" }), "complex64"))).toEqual([[1, 0], [0, 0]])
    expect(Tensor.cast(z, "complex64")).toBe(z)
  })

  it("equal compares both parts (NaN is unequal); weak numbers are complex with 0 imaginary part", async () => {
    const w = ctensor([[1.75, 2], [-3.5, 1], [0, 0], [1, -1]])
    expect(await run(Tensor.toArray(Tensor.equal(z, w)))).toEqual([true, false, true, false])
    expect(await run(Tensor.toArray(Tensor.equal(z, -3.5)))).toEqual([false, true, false, false])
    expect(await run(Tensor.toArray(Tensor.equal(z, 0)))).toEqual([false, false, true, false])
    expect(await run(Tensor.toArray(Tensor.equal(ctensor([[-3.5, 0], [NaN, 0]]), -3.5)))).toEqual([true, false])
    expect(await run(Tensor.toArray(Tensor.equal(z, Tensor.make([1.75, -3.5, 0, 0]))))).toEqual([false, true, true, false])
  })

  it("ordered comparisons and max/min are DTypeErrors for complex numbers", async () => {
    for (const t of [Tensor.greater(z, 0), Tensor.less(z, z), Tensor.maximum(z, 1), Tensor.minimum(z, z), Tensor.max(z), Tensor.min(z)])
      await expectFailure(Tensor.data(t), "DTypeError", "complex")
  })
})

describe("reductions, matmul and structure ops", () => {
  const m = (rows: number, cols: number) => fc.array(complexArb(5), { minLength: rows * cols, maxLength: rows * cols })

  it("sum and mean over all axes, one axis, with keepdims", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.context(), async (r, c, ctx) => {
        const zs = fc.sample(m(r, c), { numRuns: 1, seed: r * 10 + c })[0]!
        ctx.log(JSON.stringify(zs))
        const x = ctensor(zs, [r, c])
        const total = zs.reduce(cadd, [0, 0] as Cx)
        await expectC(Tensor.sum(x), [total], { rtol: 1e-5, atol: 1e-5 }, "sum", [])
        await expectC(Tensor.mean(x), [[total[0] / (r * c), total[1] / (r * c)]], { rtol: 1e-5, atol: 1e-5 }, "mean", [])
        const rows = Array.from({ length: r }, (_, i) => zs.slice(i * c, (i + 1) * c).reduce(cadd, [0, 0] as Cx))
        await expectC(Tensor.sum(x, { axis: 1 }), rows, { rtol: 1e-5, atol: 1e-5 }, "sum axis 1", [r])
        await expectC(Tensor.sum(x, { axis: -1, keepdims: true }), rows, { rtol: 1e-5, atol: 1e-5 }, "keepdims", [r, 1])
        const cols = Array.from({ length: c }, (_, j) => Array.from({ length: r }, (_, i) => zs[i * c + j]!).reduce(cadd, [0, 0] as Cx))
        await expectC(Tensor.mean(x, { axis: 0 }), cols.map((s) => [s[0] / r, s[1] / r] as Cx), { rtol: 1e-5, atol: 1e-5 }, "mean axis 0", [c])
      }),
      { numRuns: 15 }
    )
  })

  it("matmul of complex matrices (no conjugation), batched, with vectors and with real operands", async () => {
    const ref = (a: ReadonlyArray<Cx>, b: ReadonlyArray<Cx>, M: number, K: number, N: number): Cx[] =>
      Array.from({ length: M * N }, (_, o) => {
        const i = Math.floor(o / N), j = o % N
        let acc: Cx = [0, 0]
        for (let p = 0; p < K; p++) acc = cadd(acc, cmul(a[i * K + p]!, b[p * N + j]!))
        return acc
      })
    const dims = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }))
    await fc.assert(
      fc.asyncProperty(
        dims.chain(([M, K, N]) => fc.tuple(fc.constant([M, K, N] as const), m(M, K), m(K, N))),
        async ([[M, K, N], a, b]) => {
          await expectC(Tensor.matmul(ctensor(a, [M, K]), ctensor(b, [K, N])), ref(a, b, M, K, N), { rtol: 1e-5, atol: 1e-5 }, "matmul", [M, N])
        }
      ),
      { numRuns: 30 }
    )
    // batched [2, 2, 3] @ [2, 3, 2]
    const a = Array.from({ length: 12 }, (_, i): Cx => [i - 5, (i % 3) - 1])
    const b = Array.from({ length: 12 }, (_, i): Cx => [(i % 4) - 2, i / 4])
    const want = [...ref(a.slice(0, 6), b.slice(0, 6), 2, 3, 2), ...ref(a.slice(6), b.slice(6), 2, 3, 2)]
    await expectC(Tensor.matmul(ctensor(a, [2, 2, 3]), ctensor(b, [2, 3, 2])), want, { rtol: 1e-5, atol: 1e-5 }, "batched", [2, 2, 2])
    // matrix @ vector, and a real matrix @ a complex vector
    const v: Cx[] = [[1, -1], [0, 2], [3, 0]]
    await expectC(Tensor.matmul(ctensor(a.slice(0, 6), [2, 3]), ctensor(v)), ref(a.slice(0, 6), v, 2, 3, 1), { rtol: 1e-5, atol: 1e-5 }, "mv", [2])
    const R = [1, 2, 3, 4, 5, 6]
    const p = Tensor.matmul(Tensor.make(R, { shape: [2, 3] } as never), ctensor(v))
    expect(p.dtype).toBe("complex64")
    await expectC(p, ref(R.map((x): Cx => [x, 0]), v, 2, 3, 1), { rtol: 1e-5, atol: 1e-5 }, "real @ complex", [2])
  })

  it("reshape, transpose, slice, concat and where move [re, im] pairs together", async () => {
    const zs = Array.from({ length: 6 }, (_, i): Cx => [i, -10 * i])
    const x = ctensor(zs, [2, 3])
    await expectC(Tensor.reshape(x, [3, -1]), zs, { rtol: 0, atol: 0 }, "reshape", [3, 2])
    await expectC(Tensor.transpose(x), [zs[0]!, zs[3]!, zs[1]!, zs[4]!, zs[2]!, zs[5]!], { rtol: 0, atol: 0 }, "transpose", [3, 2])
    await expectC(Tensor.slice(x, [0, 1], [2, 3]), [zs[1]!, zs[2]!, zs[4]!, zs[5]!], { rtol: 0, atol: 0 }, "slice", [2, 2])
    await expectC(Tensor.concat([x, Tensor.slice(x, [0, 0], [1, 3])], 0), [...zs, ...zs.slice(0, 3)], { rtol: 0, atol: 0 }, "concat", [3, 3])
    await expectC(Tensor.concat([x, Tensor.make([[7], [8]])], 1), [zs[0]!, zs[1]!, zs[2]!, [7, 0], zs[3]!, zs[4]!, zs[5]!, [8, 0]], { rtol: 0, atol: 0 }, "concat with real", [2, 4])
    const cond = Tensor.make([[true, false, true], [false, true, false]], { dtype: "bool" })
    const y = Tensor.neg(x)
    await expectC(Tensor.where(cond, x, y), zs.map((z, i) => ([0, 2, 4].includes(i) ? z : cneg(z))), { rtol: 0, atol: 0 }, "where", [2, 3])
    await expectC(Tensor.where(cond, x, 5), zs.map((z, i) => ([0, 2, 4].includes(i) ? z : ([5, 0] as Cx))), { rtol: 0, atol: 0 }, "where with a number", [2, 3])
    await expectC(Tensor.broadcastTo(ctensor([[1, 2]], [1]), [2, 2]), [[1, 2], [1, 2], [1, 2], [1, 2]], { rtol: 0, atol: 0 }, "broadcastTo", [2, 2])
  })

  it("ops that need an order are DTypeErrors: logsumexp, softmax, relu, sigmoid", async () => {
    const z = ctensor([[1, 2]])
    for (const t of [Tensor.logsumexp(z), Tensor.softmax(z), Tensor.relu(z), Tensor.sigmoid(z)]) await expectFailure(Tensor.data(t), "DTypeError", "complex")
  })
})
