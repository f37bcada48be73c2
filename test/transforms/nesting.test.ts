/**
 * Nesting: `grad(grad(grad(f)))` of scalar composites that go through
 * every primitive, against closed-form third derivatives (float64);
 * mixed-mode third derivatives agree; rules that reuse their output
 * (tanh, exp, sqrt, expm1, div) differentiate exactly; the hessian of a
 * small MLP matches central differences of its gradient, for a flat
 * parameter vector and for a record of parameters.
 */
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, jvp, vectorGrad } from "@diffect/transforms"
import { expectClose, f64, fdJacobianAsync, flat, run, type T } from "./helpers.js"

const sg = Tensor.stopGradient
const cube = (x: T) => Tensor.mul(x, Tensor.mul(x, x))
const scalar = (x: number) => f64(x)

/** d³f/dx³ at x by grad ∘ grad ∘ grad. */
const third = (f: (x: T) => T, x: number) => run(grad(grad(grad(f)))(scalar(x)))

interface ThirdCase {
  readonly name: string
  readonly f: (x: T) => T
  readonly d3: (x: number) => number
  readonly at: ReadonlyArray<number>
}

const A = f64([[0.5, -1, 2], [1.5, 0.25, -0.5]]) // [2, 3]
const B = f64([[1, 2], [-1, 0.5], [0.25, 3]]) // [3, 2]
const sumAB = 0.5 * 1 + -1 * -1 + 2 * 0.25 + (0.5 * 2 + -1 * 0.5 + 2 * 3) + (1.5 * 1 + 0.25 * -1 + -0.5 * 0.25) + (1.5 * 2 + 0.25 * 0.5 + -0.5 * 3)
const v6 = [0.5, -1, 2, 1.5, 0.25, -0.5]
const t = (x: number) => Math.tanh(x)

const thirdCases: ReadonlyArray<ThirdCase> = [
  { name: "neg", f: (x) => Tensor.add(Tensor.neg(cube(x)), Tensor.neg(x)), d3: () => -6, at: [-1, 0.5] },
  { name: "exp", f: Tensor.exp, d3: Math.exp, at: [-1, 0, 1.5] },
  { name: "log", f: Tensor.log, d3: (x) => 2 / x ** 3, at: [0.3, 1, 2.5] },
  { name: "sin", f: Tensor.sin, d3: (x) => -Math.cos(x), at: [-1, 0.2, 2] },
  { name: "cos", f: Tensor.cos, d3: Math.sin, at: [-1, 0.2, 2] },
  { name: "tanh", f: Tensor.tanh, d3: (x) => (1 - t(x) ** 2) * (6 * t(x) ** 2 - 2), at: [-1.3, 0, 0.4, 2] },
  { name: "sqrt", f: Tensor.sqrt, d3: (x) => (3 / 8) * x ** -2.5, at: [0.2, 1, 3] },
  { name: "abs", f: (x) => Tensor.mul(Tensor.abs(x), Tensor.mul(x, x)), d3: (x) => 6 * Math.sign(x), at: [-0.7, 1.1] },
  { name: "sign", f: (x) => Tensor.mul(Tensor.sign(x), cube(x)), d3: (x) => 6 * Math.sign(x), at: [-0.7, 1.1] },
  { name: "log1p", f: Tensor.log1p, d3: (x) => 2 / (1 + x) ** 3, at: [-0.5, 0, 2] },
  { name: "expm1", f: Tensor.expm1, d3: Math.exp, at: [-1, 0, 1.5] },
  { name: "add", f: (x) => Tensor.add(cube(x), Tensor.add(x, 1)), d3: () => 6, at: [-2, 0.5] },
  { name: "sub", f: (x) => Tensor.sub(Tensor.exp(x), Tensor.mul(x, x)), d3: Math.exp, at: [-1, 0.5] },
  { name: "mul", f: cube, d3: () => 6, at: [-2, 0.5] },
  { name: "div", f: (x) => Tensor.div(1, x), d3: (x) => -6 / x ** 4, at: [-1.5, 0.5, 2] },
  { name: "div (quotient of functions)", f: (x) => Tensor.div(Tensor.sin(x), Tensor.add(x, 2)), d3: (x) => {
      // (sin x)/(x+2): Leibniz on sin(x)·(x+2)⁻¹
      const u = [Math.sin(x), Math.cos(x), -Math.sin(x), -Math.cos(x)]
      const w = [1 / (x + 2), -1 / (x + 2) ** 2, 2 / (x + 2) ** 3, -6 / (x + 2) ** 4]
      return u[3]! * w[0]! + 3 * u[2]! * w[1]! + 3 * u[1]! * w[2]! + u[0]! * w[3]!
    }, at: [-1, 0.5] },
  { name: "pow (constant exponent)", f: (x) => Tensor.pow(x, 3.5), d3: (x) => 3.5 * 2.5 * 1.5 * x ** 0.5, at: [0.5, 2] },
  { name: "pow (constant base)", f: (x) => Tensor.pow(2, x), d3: (x) => Math.LN2 ** 3 * 2 ** x, at: [-1, 0.5, 3] },
  { name: "pow (x^x)", f: (x) => Tensor.pow(x, x), d3: (x) => x ** x * ((Math.log(x) + 1) ** 3 + (3 * (Math.log(x) + 1)) / x - 1 / x ** 2), at: [0.5, 1.3] },
  { name: "maximum", f: (x) => Tensor.maximum(cube(x), Tensor.sin(x)), d3: (x) => (x ** 3 > Math.sin(x) ? 6 : -Math.cos(x)), at: [-1, 1, 2] },
  { name: "minimum", f: (x) => Tensor.minimum(cube(x), Tensor.sin(x)), d3: (x) => (x ** 3 < Math.sin(x) ? 6 : -Math.cos(x)), at: [-1, 1, 2] },
  { name: "where", f: (x) => Tensor.where(Tensor.greater(x, 0), Tensor.mul(cube(x), x), Tensor.exp(x)), d3: (x) => (x > 0 ? 24 * x : Math.exp(x)), at: [-0.5, 0.5] },
  { name: "sum and broadcast", f: (x) => Tensor.sum(cube(Tensor.broadcastTo(x, [3]))), d3: () => 18, at: [0.5] },
  {
    name: "max (reduceMax) over a concat of reshaped scalars",
    f: (x) => Tensor.max(Tensor.concat([cube(x), Tensor.mul(x, 2), Tensor.sin(x)].map((y) => Tensor.reshape(y, [1])))),
    d3: (x) => (x ** 3 > 2 * x && x ** 3 > Math.sin(x) ? 6 : 2 * x > Math.sin(x) ? 0 : -Math.cos(x)),
    at: [1.5, 0.5, -0.5]
  },
  { name: "matmul", f: (x) => Tensor.sum(Tensor.matmul(Tensor.mul(A, x), Tensor.mul(B, Tensor.mul(x, x)))), d3: () => 6 * sumAB, at: [0.7] },
  { name: "reshape", f: (x) => Tensor.sum(cube(Tensor.reshape(Tensor.mul(f64(v6), x), [2, 3]))), d3: () => 6 * v6.reduce((s, v) => s + v ** 3, 0), at: [0.7] },
  {
    name: "transpose",
    f: (x) => Tensor.sum(Tensor.mul(Tensor.transpose(Tensor.mul(A, x)), Tensor.mul(B, Tensor.mul(x, x)))),
    d3: () => 6 * (0.5 * 1 + -1 * -1 + 2 * 0.25 + 1.5 * 2 + 0.25 * 0.5 + -0.5 * 3),
    at: [0.7]
  },
  { name: "slice (pad in its pullback)", f: (x) => Tensor.sum(cube(Tensor.slice(Tensor.mul(f64(v6), x), [1], [3]))), d3: () => 6 * ((-1) ** 3 + 2 ** 3), at: [0.7] },
  { name: "concat", f: (x) => Tensor.sum(Tensor.concat([Tensor.mul(f64([1, 2]), cube(x)), Tensor.mul(f64([3]), Tensor.mul(x, x))])), d3: () => 18, at: [0.7] },
  { name: "cast (float32 round trip)", f: (x) => cube(Tensor.cast(Tensor.cast(x, "float32"), "float64")), d3: () => 6, at: [0.5] },
  { name: "stopGradient", f: (x) => Tensor.add(cube(x), Tensor.mul(sg(x), Tensor.mul(x, x))), d3: () => 6, at: [0.7, -2] },
  { name: "softmax", f: (x) => Tensor.sum(Tensor.mul(Tensor.softmax(Tensor.mul(f64([1, 2]), x)), f64([0, 1]))), d3: (x) => {
      // σ(x) = 1/(1+e⁻ˣ): σ''' = σ(1−σ)(1 − 6σ + 6σ²)
      const s = 1 / (1 + Math.exp(-x))
      return s * (1 - s) * (1 - 6 * s + 6 * s * s)
    }, at: [-0.5, 0.3] },
  { name: "logsumexp", f: (x) => Tensor.logsumexp(Tensor.concat([Tensor.reshape(x, [1]), f64([0])])), d3: (x) => {
      // softplus''' = σ''
      const s = 1 / (1 + Math.exp(-x))
      return s * (1 - s) * (1 - 2 * s)
    }, at: [-0.5, 0.3] }
]

describe("grad(grad(grad(f))) against closed-form third derivatives (float64)", () => {
  for (const c of thirdCases) {
    it(c.name, async () => {
      for (const x of c.at) {
        const d3 = await third(c.f, x)
        expect(d3.dtype).toBe("float64")
        expect([...d3.shape]).toEqual([])
        await expectClose(d3, c.d3(x), { rtol: 1e-10, atol: 1e-10 }, `${c.name} at ${x}`)
      }
    })
  }

  it("mixed modes agree on the third derivative: rev∘rev∘rev, fwd∘rev∘rev, jvp∘rev∘rev, jacfwd∘jacfwd∘rev", async () => {
    const f = (x: T) => Tensor.mul(Tensor.tanh(x), Tensor.exp(Tensor.sqrt(Tensor.add(x, 2))))
    const x = scalar(0.4)
    const a = await run(grad(grad(grad(f)))(x))
    const b = await run(jacfwd(grad(grad(f)))(x))
    const [, c] = await run(jvp(grad(grad(f)), [x], [scalar(1)]))
    const d = await run(jacfwd(jacfwd(grad(f)))(x))
    const e = await run(jacrev(jacfwd(jacrev(f)))(x))
    for (const y of [b, c, d, e]) await expectClose(y, await flat(a), { rtol: 1e-12, atol: 1e-12 })
  })
})

describe("rules that reuse their output, nested", () => {
  const xs = [-2, -0.5, 0, 0.3, 1.7]

  it("grad(grad(tanh)) is exactly −2 tanh x (1 − tanh² x)", async () => {
    for (const x of xs) {
      const y = Math.tanh(x)
      await expectClose(await run(grad(grad(Tensor.tanh))(scalar(x))), -2 * y * (1 - y * y), { rtol: 1e-14, atol: 1e-15 }, `at ${x}`)
    }
    // elementwise, at once, and in forward-over-reverse
    const v = f64(xs)
    const want = xs.map((x) => -2 * Math.tanh(x) * (1 - Math.tanh(x) ** 2))
    await expectClose(await run(vectorGrad(vectorGrad(Tensor.tanh))(v)), want, { rtol: 1e-14, atol: 1e-15 })
    const [, fr] = await run(jvp(vectorGrad(Tensor.tanh), [v], [Tensor.onesLike(v)]))
    await expectClose(fr, want, { rtol: 1e-14, atol: 1e-15 })
  })

  it("grad(grad(exp)) = exp, grad(grad(sqrt)) = −¼ x^(−3/2), grad(grad(expm1)) = exp, grad(grad(1/x)) = 2/x³", async () => {
    for (const x of [0.25, 1, 2.5]) {
      await expectClose(await run(grad(grad(Tensor.exp))(scalar(x))), Math.exp(x), { rtol: 1e-14, atol: 0 })
      await expectClose(await run(grad(grad(Tensor.sqrt))(scalar(x))), -0.25 * x ** -1.5, { rtol: 1e-14, atol: 0 })
      await expectClose(await run(grad(grad(Tensor.expm1))(scalar(x))), Math.exp(x), { rtol: 1e-14, atol: 0 })
      await expectClose(await run(grad(grad(Tensor.reciprocal))(scalar(x))), 2 / x ** 3, { rtol: 1e-14, atol: 0 })
    }
  })

  it("grad to order 4 of exp and of sin", async () => {
    const g4 = (f: (x: T) => T) => grad(grad(grad(grad(f))))
    await expectClose(await run(g4(Tensor.exp)(scalar(0.7))), Math.exp(0.7), { rtol: 1e-13, atol: 0 })
    await expectClose(await run(g4(Tensor.sin)(scalar(0.7))), Math.sin(0.7), { rtol: 1e-13, atol: 0 })
  })
})

describe("hessian of a small MLP", () => {
  // 2 → 3 → 1, tanh hidden layer, squared error over a batch of 4
  const X = f64([[0.5, -1, 0.25, 2], [1, 0.3, -0.7, 0.1]]) // [2, 4]
  const Y = f64([[0.2, -0.4, 0.9, 0.1]]) // [1, 4]
  const theta0 = [0.1, -0.3, 0.5, 0.2, -0.6, 0.4, 0.05, -0.1, 0.2, 0.7, -0.5, 0.3, 0.1]
  const unpack = (th: T) => ({
    w1: Tensor.reshape(Tensor.slice(th, [0], [6]), [3, 2]),
    b1: Tensor.reshape(Tensor.slice(th, [6], [9]), [3, 1]),
    w2: Tensor.reshape(Tensor.slice(th, [9], [12]), [1, 3]),
    b2: Tensor.reshape(Tensor.slice(th, [12], [13]), [1, 1])
  })
  interface Params {
    readonly w1: T
    readonly b1: T
    readonly w2: T
    readonly b2: T
  }
  const lossOf = (p: Params): T => {
    const h = Tensor.tanh(Tensor.add(Tensor.matmul(p.w1, X), p.b1))
    const out = Tensor.add(Tensor.matmul(p.w2, h), p.b2)
    return Tensor.mean(Tensor.square(Tensor.sub(out, Y)))
  }
  const loss = (th: T) => lossOf(unpack(th))

  it("matches central differences of the gradient, is symmetric, and agrees with jacrev(grad) and jacfwd(jacfwd)", async () => {
    const theta = f64(theta0)
    const H = await run(hessian(loss)(theta))
    expect([...H.shape]).toEqual([13, 13])
    const fd = await fdJacobianAsync(async (x) => Float64Array.from(await flat(await run(grad(loss)(Tensor.make(x, { dtype: "float64" }))))), theta0, 1e-5)
    await expectClose(H, fd, { rtol: 1e-6, atol: 1e-8 }, "hessian vs central differences of grad")
    const h = await flat(H)
    for (let i = 0; i < 13; i++) for (let j = 0; j < i; j++) expect(Math.abs(h[i * 13 + j]! - h[j * 13 + i]!)).toBeLessThan(1e-13)
    await expectClose(await run(jacrev(grad(loss))(theta)), h, { rtol: 1e-12, atol: 1e-14 }, "jacrev(grad)")
    await expectClose(await run(jacfwd(jacfwd(loss))(theta)), h, { rtol: 1e-12, atol: 1e-14 }, "jacfwd(jacfwd)")
  })

  it("with a record of parameters, gives the blocks H[a][b] of shape [...a, ...b], equal to the flat hessian's", async () => {
    const theta = f64(theta0)
    const Hflat = await flat(await run(hessian(loss)(theta)))
    const H: Record<keyof Params, Record<keyof Params, T>> = await run(hessian(lossOf)(unpack(theta)))
    const offsets: Record<keyof Params, [number, number[]]> = { w1: [0, [3, 2]], b1: [6, [3, 1]], w2: [9, [1, 3]], b2: [12, [1, 1]] }
    const keys = Object.keys(offsets) as Array<keyof Params>
    expect(Object.keys(H).sort()).toEqual([...keys].sort())
    for (const a of keys) {
      expect(Object.keys(H[a]).sort()).toEqual([...keys].sort())
      for (const b of keys) {
        const [oa, sa] = offsets[a], [ob, sb] = offsets[b]
        const na = sa.reduce((x, y) => x * y, 1), nb = sb.reduce((x, y) => x * y, 1)
        const want: number[] = []
        for (let i = 0; i < na; i++) for (let j = 0; j < nb; j++) want.push(Hflat[(oa + i) * 13 + ob + j]!)
        await expectClose(H[a][b], want, { rtol: 1e-12, atol: 1e-14 }, `H.${a}.${b}`, [...sa, ...sb])
      }
    }
  })
})
