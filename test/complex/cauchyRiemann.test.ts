/**
 * Properties of holomorphic differentiation on random holomorphic functions:
 * random expression trees of add / mul / exp / sin / cos / tanh / square /
 * polynomials with random complex constants, evaluated at random points
 * away from singularities.
 *
 * - `grad(f, { holomorphic: true })` equals the complex difference quotient
 *   (f(z + h) − f(z − h)) / 2h for h real *and* for h imaginary (the same
 *   number both ways is the Cauchy–Riemann condition), computed on an
 *   independent float64 evaluator of the same tree;
 * - forward mode is complex-linear: the jvp along i is i times the jvp along 1;
 * - jacfwd agrees with jacrev (and with the difference quotients).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad, jacfwd, jacrev, jvp } from "@diffect/transforms"
import {
  cabs, cadd, ccos, cdiv, cexp, cmul, complexArb, cscalar, cscale, csin, csub, ctanh, ctensor, type Cx, readC, run
} from "./helpers.js"

type T = Tensor.Tensor
type Unary = "exp" | "sin" | "cos" | "tanh" | "square"
type Expr =
  | { readonly k: "z" }
  | { readonly k: "c"; readonly c: Cx }
  | { readonly k: "add" | "mul"; readonly a: Expr; readonly b: Expr }
  | { readonly k: Unary; readonly a: Expr }
  | { readonly k: "poly"; readonly cs: ReadonlyArray<Cx>; readonly a: Expr }

const constant = complexArb(1.5)

/** Random trees whose root is an operation (leaves: z or a constant); z + (0.5 − 0.25i)·z is added so that every tree depends on z. */
const exprArb: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr; node: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: "medium", maxDepth: 4, withCrossShrink: true },
    { arbitrary: fc.constant<Expr>({ k: "z" }), weight: 2 },
    { arbitrary: constant.map((c): Expr => ({ k: "c", c })), weight: 1 },
    { arbitrary: tie("node"), weight: 4 }
  ),
  node: fc.oneof(
    fc.record({ k: fc.constantFrom("add" as const, "mul" as const), a: tie("e"), b: tie("e") }),
    fc.record({ k: fc.constantFrom<Unary>("exp", "sin", "cos", "tanh", "square"), a: tie("e") }),
    fc.record({ k: fc.constant("poly" as const), cs: fc.array(constant, { minLength: 1, maxLength: 4 }), a: tie("e") })
  )
})).node.map((e): Expr => ({ k: "add", a: e, b: { k: "mul", a: { k: "c", c: [0.5, -0.25] }, b: { k: "z" } } }))

const describeExpr = (e: Expr): string => {
  switch (e.k) {
    case "z":
      return "z"
    case "c":
      return `(${e.c[0]}${e.c[1] < 0 ? "-" : "+"}${Math.abs(e.c[1])}i)`
    case "add":
      return `(${describeExpr(e.a)} + ${describeExpr(e.b)})`
    case "mul":
      return `${describeExpr(e.a)}·${describeExpr(e.b)}`
    case "poly":
      return `poly[${e.cs.map((c) => `${c[0]},${c[1]}`).join("; ")}](${describeExpr(e.a)})`
    default:
      return `${e.k}(${describeExpr(e.a)})`
  }
}

/** The library's version of the tree (elementwise over a complex64 tensor). */
const lib = (e: Expr, z: T): T => {
  switch (e.k) {
    case "z":
      return z
    case "c":
      return cscalar(e.c)
    case "add":
      return Tensor.add(lib(e.a, z), lib(e.b, z))
    case "mul":
      return Tensor.mul(lib(e.a, z), lib(e.b, z))
    case "square":
      return Tensor.square(lib(e.a, z))
    case "poly": {
      // Horner: c0 + a (c1 + a (c2 + ...))
      const a = lib(e.a, z)
      let acc: T = cscalar(e.cs[e.cs.length - 1]!)
      for (let i = e.cs.length - 2; i >= 0; i--) acc = Tensor.add(cscalar(e.cs[i]!), Tensor.mul(a, acc))
      return Tensor.mul(acc, a) // a · p(a): no constant term, so the tree depends on z
    }
    default:
      return Tensor[e.k](lib(e.a, z))
  }
}

interface Eval {
  /** The value, in float64. */
  readonly v: Cx
  /** A bound of the magnitudes met along the way (no cancellation): the scale of rounding errors. */
  readonly s: number
  /** A bound of the derivative's magnitude computed without cancellation. */
  readonly ds: number
  /** Whether a tanh argument came near a pole. */
  readonly nearPole: boolean
}

/** The independent float64 evaluator, with error scales. */
const ref = (e: Expr, z: Cx): Eval => {
  switch (e.k) {
    case "z":
      return { v: z, s: cabs(z), ds: 1, nearPole: false }
    case "c":
      return { v: e.c, s: cabs(e.c), ds: 0, nearPole: false }
    case "add":
    case "mul": {
      const a = ref(e.a, z), b = ref(e.b, z)
      return e.k === "add"
        ? { v: cadd(a.v, b.v), s: a.s + b.s, ds: a.ds + b.ds, nearPole: a.nearPole || b.nearPole }
        : { v: cmul(a.v, b.v), s: a.s * b.s, ds: a.ds * b.s + a.s * b.ds, nearPole: a.nearPole || b.nearPole }
    }
    case "poly": {
      const a = ref(e.a, z)
      let acc: Cx = e.cs[e.cs.length - 1]!
      let sAcc = cabs(acc)
      let dAcc = 0 // bound of d(acc)/da
      for (let i = e.cs.length - 2; i >= 0; i--) {
        dAcc = sAcc + a.s * dAcc
        acc = cadd(e.cs[i]!, cmul(a.v, acc))
        sAcc = cabs(e.cs[i]!) + a.s * sAcc
      }
      return { v: cmul(acc, a.v), s: sAcc * a.s, ds: (sAcc + a.s * dAcc) * a.ds, nearPole: a.nearPole }
    }
    default: {
      const a = ref(e.a, z)
      const f = { exp: cexp, sin: csin, cos: ccos, tanh: ctanh, square: (w: Cx) => cmul(w, w) }[e.k]
      const v = f(a.v)
      const d = {
        exp: () => cabs(v),
        sin: () => cabs(ccos(a.v)),
        cos: () => cabs(csin(a.v)),
        tanh: () => 1 + cabs(v) ** 2,
        square: () => 2 * a.s
      }[e.k]()
      const nearPole = e.k === "tanh" && cabs(ccos([-a.v[1], a.v[0]])) < 0.3 // cosh(w) = cos(iw)
      // f'(w) is evaluated at w rounded to float32 (an error of about |w|·ε), so the derivative also
      // carries |f''(w)|·|w|·ε·|w'|: second order, but it dominates for a large argument with a large
      // derivative (seed 1609812161: cos(exp(2z²)·z) at z = 1.5, w ≈ 135, w' ≈ 900). Scaled by
      // ε / 5e-5 (float32's ε against the tolerance of `near`).
      const d2 = { exp: () => cabs(v), sin: () => cabs(v), cos: () => cabs(v), tanh: () => 2 * cabs(v) * (1 + cabs(v) ** 2), square: () => 2 }[e.k]()
      const second = (6e-8 / 5e-5) * d2 * a.s * a.ds
      // an error δ in the argument is |f'(w)|·δ in the value: exp multiplies its argument's rounding by
      // |exp(w)| (seed -1595061294: cos(exp(3z + z²)) at z = 1.44, where exp(6.4) ≈ 584 carries 6.4·ε of w)
      const s = e.k === "square" ? Math.max(cabs(v), a.s * a.s) + a.s : Math.max(cabs(v), 1) + Math.max(1, d) * a.s
      return { v, s, ds: d * a.ds + second, nearPole: a.nearPole || nearPole }
    }
  }
}

/** Central difference quotients along h (a complex step): (f(z + h) − f(z − h)) / 2h. */
const quotient = (e: Expr, z: Cx, h: Cx): Cx => cdiv(csub(ref(e, cadd(z, h)).v, ref(e, csub(z, h)).v), cscale(h, 2))

const H = 1e-6
const points = fc.array(complexArb(1.5), { minLength: 1, maxLength: 4 })

/** Precondition: every point is tame for this tree (finite, moderate scales, away from tanh poles). */
const tame = (e: Expr, zs: ReadonlyArray<Cx>): boolean =>
  zs.every((z) => {
    const r = ref(e, z)
    return !r.nearPole && Number.isFinite(r.s) && r.s < 1e3 && r.ds < 1e4 && Number.isFinite(r.v[0]) && Number.isFinite(r.v[1])
  })

/**
 * |got − want| within float32 rounding at the error scale of the computation.
 * The scale is first order (the value's and the derivative's magnitudes);
 * nested polynomials round intermediates larger than both, so the bound
 * allows 5e-5 of it (seed -1455339014 found 2.02e-4 at scale 19, a cos of a
 * cubic of a quadratic; another seed 0.2588 at scale 8625, an exp of a sin
 * of a cubic).
 */
const near = (got: Cx, want: Cx, scale: number, label: string) => {
  const err = cabs(csub(got, want))
  expect(err, `${label}: got ${got}, expected ${want} (scale ${scale})`).toBeLessThanOrEqual(5e-5 * (1 + scale))
}

describe("Cauchy–Riemann on random holomorphic compositions", () => {
  it("grad(f, { holomorphic }) equals the difference quotient along h real and h imaginary; the value matches the float64 evaluator", async () => {
    await fc.assert(
      fc.asyncProperty(exprArb, points, async (e, zs) => {
        fc.pre(tame(e, zs))
        const f = (z: T) => lib(e, z)
        const g = await readC((await run(grad((z: T) => Tensor.sum(f(z)), { holomorphic: true })(ctensor(zs)))) as T)
        const values = await readC(f(ctensor(zs)))
        zs.forEach((z, i) => {
          const r = ref(e, z)
          const dx = quotient(e, z, [H, 0])
          const dy = quotient(e, z, [0, H])
          // the float64 tree is holomorphic: both quotients agree (Cauchy–Riemann) — a check of the reference itself
          near(dx, dy, 1e-3 * r.ds, `${describeExpr(e)} at ${z}: quotients`)
          near(values[i]!, r.v, r.s, `${describeExpr(e)} at ${z}: value`)
          near(g[i]!, dx, r.ds + r.s, `${describeExpr(e)} at ${z}: grad vs h real`)
          near(g[i]!, dy, r.ds + r.s, `${describeExpr(e)} at ${z}: grad vs h imaginary`)
        })
      }),
      { numRuns: 120 }
    )
  })

  it("jvp is complex-linear: the tangent along i is i times the tangent along 1, and each is the quotient along that direction", async () => {
    await fc.assert(
      fc.asyncProperty(exprArb, points, complexArb(1), async (e, zs, dir) => {
        fc.pre(tame(e, zs) && cabs(dir) > 0.1)
        const n = zs.length
        const f = (z: T) => lib(e, z)
        const [, t1] = (await run(jvp(f, [ctensor(zs)], [ctensor(zs.map(() => [1, 0] as Cx))]))) as [T, T]
        const [, ti] = (await run(jvp(f, [ctensor(zs)], [ctensor(zs.map(() => [0, 1] as Cx))]))) as [T, T]
        const [, td] = (await run(jvp(f, [ctensor(zs)], [ctensor(Array.from({ length: n }, () => dir))]))) as [T, T]
        const [a, b, c] = [await readC(t1), await readC(ti), await readC(td)]
        zs.forEach((z, i) => {
          const r = ref(e, z)
          const scale = r.ds + r.s
          near(b[i]!, cmul([0, 1], a[i]!), scale, `${describeExpr(e)} at ${z}: jvp along i vs i·jvp along 1`)
          near(a[i]!, quotient(e, z, [H, 0]), scale, `${describeExpr(e)} at ${z}: jvp along 1`)
          // the derivative along a direction d is f'(z)·d, and the quotient along the step h·d is f'(z) whatever d is
          near(c[i]!, cmul(dir, quotient(e, z, cscale(dir, H))), scale * (1 + cabs(dir)), `${describeExpr(e)} at ${z}: jvp along ${dir}`)
          near(c[i]!, cmul(dir, a[i]!), scale * (1 + cabs(dir)), `${describeExpr(e)} at ${z}: complex-linear in the tangent`)
        })
      }),
      { numRuns: 60 }
    )
  })

  it("jacfwd agrees with jacrev on A·f(z), and both equal A[i, j]·f'(z_j)", async () => {
    const matrix = fc.integer({ min: 1, max: 3 }).chain((m) => fc.tuple(fc.constant(m), fc.array(complexArb(1), { minLength: m * 3, maxLength: m * 3 })))
    const pts3 = fc.array(complexArb(1.5), { minLength: 3, maxLength: 3 })
    await fc.assert(
      fc.asyncProperty(exprArb, pts3, matrix, async (e, zs, [m, A]) => {
        fc.pre(tame(e, zs))
        const g = (z: T) => Tensor.matmul(ctensor(A, [m, 3]), lib(e, z))
        const Jf = (await run(jacfwd(g, { holomorphic: true })(ctensor(zs)))) as T
        const Jr = (await run(jacrev(g, { holomorphic: true })(ctensor(zs)))) as T
        expect([...Jf.shape]).toEqual([m, 3])
        expect([...Jr.shape]).toEqual([m, 3])
        const [f, r] = [await readC(Jf), await readC(Jr)]
        for (let i = 0; i < m; i++)
          for (let j = 0; j < 3; j++) {
            const ev = ref(e, zs[j]!)
            const scale = (ev.ds + ev.s) * (1 + cabs(A[i * 3 + j]!))
            near(f[i * 3 + j]!, r[i * 3 + j]!, scale, `${describeExpr(e)}: jacfwd vs jacrev [${i}, ${j}]`)
            near(f[i * 3 + j]!, cmul(A[i * 3 + j]!, quotient(e, zs[j]!, [0, H])), scale, `${describeExpr(e)}: J [${i}, ${j}] vs the quotient`)
          }
      }),
      { numRuns: 40 }
    )
  })

  it("for holomorphic g, grad(Re g) = g'(z) and grad(Im g) = −i·g'(z) (JAX's convention meets the holomorphic derivative)", async () => {
    await fc.assert(
      fc.asyncProperty(exprArb, points, async (e, zs) => {
        fc.pre(tame(e, zs))
        const z = ctensor(zs)
        const gh = await readC((await run(grad((w: T) => Tensor.sum(lib(e, w)), { holomorphic: true })(z))) as T)
        const gre = await readC((await run(grad((w: T) => Tensor.sum(Tensor.real(lib(e, w))))(z))) as T)
        const gim = await readC((await run(grad((w: T) => Tensor.sum(Tensor.imag(lib(e, w))))(z))) as T)
        zs.forEach((w, i) => {
          const r = ref(e, w)
          near(gre[i]!, gh[i]!, r.ds + r.s, `${describeExpr(e)} at ${w}: grad Re`)
          near(gim[i]!, cmul([0, -1], gh[i]!), r.ds + r.s, `${describeExpr(e)} at ${w}: grad Im`)
        })
      }),
      { numRuns: 40 }
    )
  })
})
