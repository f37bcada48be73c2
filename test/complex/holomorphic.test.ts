/**
 * `holomorphic: true` on grad, vectorGrad, jacrev, jacfwd and hessian gives
 * the complex derivative f'(z) (checked against analytic derivatives written
 * with the float64 reference); the dtype checks around it (as JAX); and the
 * convention for real-valued functions of complex inputs without it, which
 * is JAX's: grad f = ∂f/∂x − i ∂f/∂y (so |z|² gives 2·conj(z)).
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, jvp, valueAndGrad, vectorGrad } from "@diffect/transforms"
import {
  cabs, cadd, cconj, ccos, cdiv, cexp, clog, cmul, cneg, complexArb, cpow, cscalar, cscale, csin, csqrt, csub, ctanh, ctensor, type Cx,
  expectC, expectFailure, expectR, readC, run
} from "./helpers.js"

type T = Tensor.Tensor
const tol = { rtol: 5e-5, atol: 5e-5 }
const pts = (m: number, ok: (z: Cx) => boolean = () => true) =>
  fc.array(complexArb(m).filter(ok), { minLength: 1, maxLength: 8 })

const one: Cx = [1, 0]
const I: Cx = [0, 1]
/** A complex constant as a scalar tensor (holomorphic functions may use them). */
const k = (z: Cx): T => cscalar(z)

describe("grad with holomorphic: true gives f'(z)", () => {
  const cases: ReadonlyArray<{
    name: string
    f: (z: T) => T
    df: (z: Cx) => Cx
    m: number
    ok?: (z: Cx) => boolean
  }> = [
    { name: "z² + sin z → 2z + cos z", f: (z) => Tensor.add(Tensor.square(z), Tensor.sin(z)), df: (z) => cadd(cscale(z, 2), ccos(z)), m: 3 },
    { name: "exp", f: Tensor.exp, df: cexp, m: 3 },
    { name: "log → 1/z", f: Tensor.log, df: (z) => cdiv(one, z), m: 3, ok: (z) => cabs(z) > 0.2 },
    { name: "tanh → 1 − tanh²", f: Tensor.tanh, df: (z) => csub(one, cmul(ctanh(z), ctanh(z))), m: 2, ok: (z) => cabs(ccos([-z[1], z[0]])) > 0.2 },
    { name: "sqrt → 1/(2√z)", f: Tensor.sqrt, df: (z) => cdiv(one, cscale(csqrt(z), 2)), m: 3, ok: (z) => cabs(z) > 0.2 && (z[0] > 0 || Math.abs(z[1]) > 0.1) },
    { name: "1/z → −1/z²", f: Tensor.reciprocal, df: (z) => cneg(cdiv(one, cmul(z, z))), m: 3, ok: (z) => cabs(z) > 0.3 },
    { name: "sin, cos", f: (z) => Tensor.mul(Tensor.sin(z), Tensor.cos(z)), df: (z) => ccos(cscale(z, 2)), m: 2 },
    { name: "log1p, expm1", f: (z) => Tensor.add(Tensor.log1p(z), Tensor.expm1(z)), df: (z) => cadd(cdiv(one, cadd(one, z)), cexp(z)), m: 2, ok: (z) => cabs(cadd(one, z)) > 0.2 },
    {
      name: "3z³ − 2iz + (1 + i) → 9z² − 2i",
      f: (z) => Tensor.add(Tensor.sub(Tensor.mul(3, Tensor.pow(z, 3)), Tensor.mul(k([0, 2]), z)), k([1, 1])),
      df: (z) => csub(cscale(cmul(z, z), 9), [0, 2]),
      m: 2
    },
    {
      name: "exp(sin(z²)) → exp(sin z²) cos(z²) 2z",
      f: (z) => Tensor.exp(Tensor.sin(Tensor.square(z))),
      df: (z) => cmul(cmul(cexp(csin(cmul(z, z))), ccos(cmul(z, z))), cscale(z, 2)),
      m: 1.2
    },
    {
      name: "z^w with a complex constant exponent → w z^(w−1)",
      f: (z) => Tensor.pow(z, k([0.5, -1.5])),
      df: (z) => cmul([0.5, -1.5], cpow(z, [-0.5, -1.5])),
      m: 3,
      ok: (z) => cabs(z) > 0.3 && (z[0] > 0 || Math.abs(z[1]) > 0.1)
    },
    {
      name: "(z − i)/(z + 2) → (2 + i)/(z + 2)²",
      f: (z) => Tensor.div(Tensor.sub(z, k(I)), Tensor.add(z, 2)),
      df: (z) => cdiv([2, 1], cmul(cadd(z, [2, 0]), cadd(z, [2, 0]))),
      m: 3,
      ok: (z) => cabs(cadd(z, [2, 0])) > 0.3
    }
  ]
  for (const c of cases) {
    it(c.name, async () => {
      await fc.assert(
        fc.asyncProperty(pts(c.m, c.ok), async (zs) => {
          // sum(f(z)) over a vector: the gradient is f'(z) elementwise
          const g = (await run(grad((z: T) => Tensor.sum(c.f(z)), { holomorphic: true })(ctensor(zs)))) as T
          expect(g.dtype).toBe("complex64")
          await expectC(g, zs.map(c.df), tol, c.name, [zs.length])
        }),
        { numRuns: 20 }
      )
    })
  }

  it("a scalar input gives a scalar complex derivative; z² + sin z at 1 + 2i", async () => {
    const z: Cx = [1, 2]
    const g = (await run(grad((w: T) => Tensor.add(Tensor.square(w), Tensor.sin(w)), { holomorphic: true })(cscalar(z)))) as T
    expect([...g.shape]).toEqual([])
    await expectC(g, [cadd(cscale(z, 2), ccos(z))], tol)
  })

  it("several complex arguments: d(a/b)/da = 1/b, d(a/b)/db = −a/b²; z^w with respect to w is log z · z^w", async () => {
    const a: Cx = [1.5, -0.5], b: Cx = [0.5, 2]
    const [ga, gb] = (await run(grad((x: T, y: T) => Tensor.div(x, y), { holomorphic: true, argnums: [0, 1] })(cscalar(a), cscalar(b)))) as [T, T]
    await expectC(ga, [cdiv(one, b)], tol)
    await expectC(gb, [cneg(cdiv(a, cmul(b, b)))], tol)
    const [gz, gw] = (await run(grad((z: T, w: T) => Tensor.pow(z, w), { holomorphic: true, argnums: [0, 1] })(cscalar(a), cscalar(b)))) as [T, T]
    await expectC(gz, [cmul(b, cpow(a, csub(b, one)))], tol)
    await expectC(gw, [cmul(clog(a), cpow(a, b))], tol)
  })

  it("matmul with complex matrices: sum((A Z)²) has gradient 2 Aᵀ (A Z) (no conjugation)", async () => {
    const A: Cx[] = [[1, 2], [0, -1], [0.5, 0.5], [-1, 1], [2, 0], [0, 0.25]] // 3×2
    const Z: Cx[] = [[0.5, -1], [1, 1], [0, 2], [-0.5, 0]] // 2×2
    const mm = (a: ReadonlyArray<Cx>, b: ReadonlyArray<Cx>, M: number, K: number, N: number): Cx[] =>
      Array.from({ length: M * N }, (_, o) => {
        let acc: Cx = [0, 0]
        for (let p = 0; p < K; p++) acc = cadd(acc, cmul(a[Math.floor(o / N) * K + p]!, b[p * N + (o % N)]!))
        return acc
      })
    const AT = [0, 1].flatMap((j) => [0, 1, 2].map((i) => A[i * 2 + j]!)) // 2×3
    const expected = mm(AT, mm(A, Z, 3, 2, 2), 2, 3, 2).map((z) => cscale(z, 2))
    const f = (z: T) => Tensor.sum(Tensor.square(Tensor.matmul(ctensor(A, [3, 2]), z)))
    const [value, g] = (await run(valueAndGrad(f, { holomorphic: true })(ctensor(Z, [2, 2])))) as [T, T]
    await expectC(g, expected, tol, "grad", [2, 2])
    await expectC(value, [mm(A, Z, 3, 2, 2).reduce((s, z) => cadd(s, cmul(z, z)), [0, 0] as Cx)], tol, "value", [])
  })
})

describe("vectorGrad, jacrev, jacfwd and hessian with holomorphic: true", () => {
  const A: Cx[] = [[1, 0.5], [-0.5, 1], [0, 2], [0.25, -1]] // 2×2
  const At = ctensor(A, [2, 2])
  const z0: Cx[] = [[0.3, -0.2], [-0.4, 0.5]]

  it("vectorGrad of an elementwise function is f'(z) elementwise", async () => {
    await fc.assert(
      fc.asyncProperty(pts(2), async (zs) => {
        const g = (await run(vectorGrad((z: T) => Tensor.mul(Tensor.tanh(z), Tensor.exp(z)), { holomorphic: true })(ctensor(zs)))) as T
        await expectC(g, zs.map((z) => cmul(cexp(z), cadd(csub(one, cmul(ctanh(z), ctanh(z))), ctanh(z)))), tol)
      }),
      { numRuns: 15 }
    )
  })

  it("jacrev and jacfwd of A z are A; of tanh(A z) are diag(1 − tanh²(A z)) A", async () => {
    for (const jac of [jacrev, jacfwd]) {
      const J = (await run(jac((z: T) => Tensor.matmul(At, z), { holomorphic: true })(ctensor(z0)))) as T
      await expectC(J, A, tol, "A z", [2, 2])
      const J2 = (await run(jac((z: T) => Tensor.tanh(Tensor.matmul(At, z)), { holomorphic: true })(ctensor(z0)))) as T
      const Az = [0, 1].map((i) => cadd(cmul(A[2 * i]!, z0[0]!), cmul(A[2 * i + 1]!, z0[1]!)))
      const d = Az.map((w) => csub(one, cmul(ctanh(w), ctanh(w))))
      await expectC(J2, A.map((a, o) => cmul(d[Math.floor(o / 2)]!, a)), tol, "tanh(A z)", [2, 2])
    }
  })

  it("hessian of zᵀ A z is A + Aᵀ; of sum(z³) is diag(6z); of sum(exp(A z)) is Aᵀ diag(exp(A z)) A", async () => {
    const H = (await run(hessian((z: T) => Tensor.sum(Tensor.mul(z, Tensor.matmul(At, z))), { holomorphic: true })(ctensor(z0)))) as T
    await expectC(H, [cadd(A[0]!, A[0]!), cadd(A[1]!, A[2]!), cadd(A[2]!, A[1]!), cadd(A[3]!, A[3]!)], tol, "zᵀAz", [2, 2])
    const H3 = (await run(hessian((z: T) => Tensor.sum(Tensor.pow(z, 3)), { holomorphic: true })(ctensor(z0)))) as T
    await expectC(H3, [cscale(z0[0]!, 6), [0, 0], [0, 0], cscale(z0[1]!, 6)], tol, "z³", [2, 2])
    const He = (await run(hessian((z: T) => Tensor.sum(Tensor.exp(Tensor.matmul(At, z))), { holomorphic: true })(ctensor(z0)))) as T
    const e = [0, 1].map((i) => cexp(cadd(cmul(A[2 * i]!, z0[0]!), cmul(A[2 * i + 1]!, z0[1]!))))
    const want = [0, 1].flatMap((p) => [0, 1].map((q) => cadd(cmul(cmul(A[p]!, e[0]!), A[q]!), cmul(cmul(A[2 + p]!, e[1]!), A[2 + q]!))))
    await expectC(He, want, tol, "exp(Az)", [2, 2])
  })

  it("complex Variables in gradVars: holomorphic derivatives next to argnums", async () => {
    const w0: Cx = [0.5, -1]
    const [gw, gz] = (await run(
      Effect.gen(function* () {
        const w = yield* Variable.make(cscalar(w0), { name: "w" })
        const f = (z: T) => Effect.map(Variable.get(w), (wv) => Tensor.sum(Tensor.mul(Tensor.exp(Tensor.mul(wv, z)), z)))
        return yield* grad(f, { gradVars: w, argnums: 0, holomorphic: true })(ctensor(z0))
      })
    )) as unknown as [T, T]
    // f = Σ z e^(wz): ∂f/∂w = Σ z² e^(wz), ∂f/∂z = e^(wz) (1 + wz)
    await expectC(gw, [z0.reduce((s, z) => cadd(s, cmul(cmul(z, z), cexp(cmul(w0, z)))), [0, 0] as Cx)], tol, "w", [])
    await expectC(gz, z0.map((z) => cmul(cexp(cmul(w0, z)), cadd(one, cmul(w0, z)))), tol, "z", [2])
  })

  it("jacfwd agrees with jacrev on a composition with several complex arguments", async () => {
    const f = (z: T, w: T) => Tensor.mul(Tensor.sin(Tensor.matmul(At, z)), Tensor.exp(Tensor.mul(w, z)))
    const w = ctensor([[0.1, 0.2], [-0.3, 0.1]])
    const fwd = (await run(jacfwd(f, { holomorphic: true, argnums: [0, 1] })(ctensor(z0), w))) as [T, T]
    const rev = (await run(jacrev(f, { holomorphic: true, argnums: [0, 1] })(ctensor(z0), w))) as [T, T]
    for (const i of [0, 1]) await expectC(fwd[i]!, await readC(rev[i]!), tol, `argument ${i}`, [2, 2])
  })
})

describe("dtype checks (as JAX)", () => {
  const z = ctensor([[1, 2], [0.5, -1]])

  it("without holomorphic, a complex output is a DTypeError for grad, vectorGrad, jacrev and hessian", async () => {
    await expectFailure(grad((w: T) => Tensor.sum(Tensor.square(w)))(z), "DTypeError", "complex64", "holomorphic: true")
    await expectFailure(vectorGrad((w: T) => Tensor.square(w))(z), "DTypeError", "complex64", "holomorphic: true")
    await expectFailure(jacrev((w: T) => Tensor.square(w))(z), "DTypeError", "complex64", "holomorphic: true")
    await expectFailure(hessian((w: T) => Tensor.sum(Tensor.square(w)))(z), "DTypeError", "complex64")
    // even with real inputs
    await expectFailure(grad((x: T) => Tensor.sum(Tensor.complex(x, x)))(Tensor.make([1, 2])), "DTypeError", "complex64", "holomorphic: true")
  })

  it("without holomorphic, jacfwd refuses complex inputs (forward mode would see only the real direction)", async () => {
    await expectFailure(jacfwd((w: T) => Tensor.abs(w))(z), "DTypeError", "jacfwd", "argument 0", "complex64", "holomorphic: true")
    await expectFailure(hessian((w: T) => Tensor.sum(Tensor.abs(w)))(z), "DTypeError", "complex64", "holomorphic: true")
  })

  it("jacfwd of real inputs may have complex outputs (as JAX): the derivative along the real input", async () => {
    const J = (await run(jacfwd((x: T) => Tensor.complex(Tensor.square(x), Tensor.sin(x)))(Tensor.make([0.5, 2])))) as T
    await expectC(J, [[1, Math.cos(0.5)], [0, 0], [0, 0], [4, Math.cos(2)]], tol, "J", [2, 2])
    const J2 = (await run(jacfwd((x: T) => Tensor.exp(Tensor.mul(Tensor.cast(x, "complex64"), k(I))))(Tensor.make(0.5)))) as T
    await expectC(J2, [cmul(I, cexp([0, 0.5]))], tol, "e^(ix)", [])
  })

  it("holomorphic: true with real inputs is a DTypeError naming the argument", async () => {
    const f = (x: T) => Tensor.sum(Tensor.cast(x, "complex64"))
    for (const t of [grad, vectorGrad, jacrev, jacfwd, hessian] as const)
      await expectFailure((t as typeof grad)(f, { holomorphic: true })(Tensor.make([1, 2])), "DTypeError", "holomorphic: true", "argument 0", "float32")
    await expectFailure(
      grad((w: T, x: T) => Tensor.sum(Tensor.mul(w, x)), { holomorphic: true, argnums: [0, 1] })(z, Tensor.make([1, 2], { dtype: "float64" })),
      "DTypeError",
      "argument 1",
      "float64"
    )
  })

  it("holomorphic: true with a real output is a DTypeError", async () => {
    await expectFailure(grad((w: T) => Tensor.sum(Tensor.abs(w)), { holomorphic: true })(z), "DTypeError", "holomorphic: true", "complex output", "float32")
    await expectFailure(jacrev((w: T) => Tensor.abs(w), { holomorphic: true })(z), "DTypeError", "complex output")
  })
})

describe("real-valued functions of complex inputs without holomorphic: JAX's convention ∂f/∂x − i ∂f/∂y", () => {
  const zs: Cx[] = [[3, 4], [1, -2], [-0.5, 0.25]]
  const z = ctensor(zs)
  const gradOf = async (f: (z: T) => T, at: T = z): Promise<T> => (await run(grad(f)(at))) as T

  it("sum(|z|²) gives 2·conj(z) (jax.grad(lambda z: abs(z)**2) is 2*conj(z))", async () => {
    const g = await gradOf((w) => Tensor.sum(Tensor.pow(Tensor.abs(w), 2)))
    expect(g.dtype).toBe("complex64")
    await expectC(g, zs.map((w) => cscale(cconj(w), 2)), tol)
    await expectC(await gradOf((w) => Tensor.sum(Tensor.real(Tensor.mul(w, Tensor.conj(w))))), zs.map((w) => cscale(cconj(w), 2)), tol)
    await expectC(await gradOf((w) => Tensor.sum(Tensor.add(Tensor.square(Tensor.real(w)), Tensor.square(Tensor.imag(w))))), zs.map((w) => cscale(cconj(w), 2)), tol)
  })

  it("real(z) gives 1, imag(z) gives −i, real(z²) gives 2z", async () => {
    await expectC(await gradOf((w) => Tensor.sum(Tensor.real(w))), zs.map(() => one), tol)
    await expectC(await gradOf((w) => Tensor.sum(Tensor.imag(w))), zs.map(() => [0, -1] as Cx), tol)
    await expectC(await gradOf((w) => Tensor.sum(Tensor.real(Tensor.square(w)))), zs.map((w) => cscale(w, 2)), tol)
    // a cast to a real dtype keeps the real part, so it differentiates as real()
    await expectC(await gradOf((w) => Tensor.sum(Tensor.cast(Tensor.square(w), "float32"))), zs.map((w) => cscale(w, 2)), tol)
  })

  it("|z| gives conj(z)/|z| (0 at 0, as JAX); angle(z) gives −i·conj(z)/|z|²", async () => {
    await expectC(await gradOf((w) => Tensor.sum(Tensor.abs(w))), zs.map((w) => cscale(cconj(w), 1 / cabs(w))), tol)
    await expectC(await gradOf((w) => Tensor.abs(w), cscalar([0, 0])), [[0, 0]], { rtol: 0, atol: 0 })
    // forward mode: the tangent of |z| along t is Re(conj(z)·t)/|z|, and 0 at z = 0
    const [, t1] = (await run(jvp((w: T) => Tensor.abs(w), [cscalar([3, 4])], [cscalar([1, 2])]))) as [T, T]
    await expectR(t1, [(3 * 1 + 4 * 2) / 5], tol)
    const [, t0] = (await run(jvp((w: T) => Tensor.abs(w), [cscalar([0, 0])], [cscalar([1, 2])]))) as [T, T]
    await expectR(t0, [0], { rtol: 0, atol: 0 })
    await expectC(await gradOf((w) => Tensor.sum(Tensor.angle(w))), zs.map((w) => cmul([0, -1], cscale(cconj(w), 1 / (cabs(w) * cabs(w))))), tol)
  })

  it("two complex arguments: real(z·conj(w)) gives conj(w) and conj(z)", async () => {
    const w: Cx[] = [[0.5, 1], [2, 0], [-1, -1]]
    const [gz, gw] = (await run(grad((a: T, b: T) => Tensor.sum(Tensor.real(Tensor.mul(a, Tensor.conj(b)))), { argnums: [0, 1] })(z, ctensor(w)))) as [T, T]
    await expectC(gz, w.map(cconj), tol)
    await expectC(gw, zs.map(cconj), tol)
  })

  it("matches central differences of the real and imaginary parts on a float64 reference", async () => {
    // f(z) = Σ |sin z|² + Re(c·e^z) − Im(z³)/4, c = 0.5 − i
    const c: Cx = [0.5, -1]
    const ref = (w: Cx): number => {
      const s = csin(w)
      return s[0] * s[0] + s[1] * s[1] + cmul(c, cexp(w))[0] - cmul(w, cmul(w, w))[1] / 4
    }
    const f = (w: T) =>
      Tensor.sum(
        Tensor.sub(
          Tensor.add(Tensor.square(Tensor.abs(Tensor.sin(w))), Tensor.real(Tensor.mul(k(c), Tensor.exp(w)))),
          Tensor.div(Tensor.imag(Tensor.pow(w, 3)), 4)
        )
      )
    await fc.assert(
      fc.asyncProperty(pts(1.5), async (ws) => {
        const h = 1e-6
        const want = ws.map((w): Cx => {
          const dx = (ref(cadd(w, [h, 0])) - ref(csub(w, [h, 0]))) / (2 * h)
          const dy = (ref(cadd(w, [0, h])) - ref(csub(w, [0, h]))) / (2 * h)
          return [dx, -dy]
        })
        await expectC(await gradOf(f, ctensor(ws)), want, { rtol: 1e-4, atol: 1e-4 })
      }),
      { numRuns: 15 }
    )
  })

  it("vectorGrad and jacrev follow the same convention; the value stays real", async () => {
    await expectC((await run(vectorGrad((w: T) => Tensor.square(Tensor.abs(w)))(z))) as T, zs.map((w) => cscale(cconj(w), 2)), tol)
    const J = (await run(jacrev((w: T) => Tensor.square(Tensor.abs(w)))(z))) as T
    await expectC(J, [0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => (i === j ? cscale(cconj(zs[i]!), 2) : ([0, 0] as Cx)))), tol, "J", [3, 3])
    const [v] = (await run(valueAndGrad((w: T) => Tensor.sum(Tensor.square(Tensor.abs(w))))(z))) as [T, T]
    expect(v.dtype).toBe("float32")
    await expectR(v, [zs.reduce((s, w) => s + cabs(w) ** 2, 0)], tol)
  })
})
