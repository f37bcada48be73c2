/**
 * Linalg: the defining identities as properties over random (batched)
 * matrices, float64 and float32; checkGrads to order 2 in both modes (on
 * gauge-invariant functions of the qr / eigh / svd factors); vmap; PyTorch
 * float64 reference numbers (test/fixtures/torch_linalg.json, written by
 * test/fixtures/generate_torch_linalg.py); and the typed failures.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Linalg, Tensor } from "@diffect/core"
import { grad, jacfwd, vmap } from "@diffect/transforms"
import { checkGrads, type CheckGradsOptions } from "@diffect/transforms/testing"
import { rng as uniformRng } from "../conformance/data.js"

type T = Tensor.Tensor
const f64 = { dtype: "float64" as const }
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
const data = (t: T) => run(Tensor.data(t)).then((d) => Array.from(d as ArrayLike<number>))

// ------------------------------------------------------------------ host helpers

/** A deterministic PRNG (the conformance data's mulberry32) in [-1, 1). */
const rng = (seed: number) => {
  const r = uniformRng(seed)
  return () => r() * 2 - 1
}
const randomMatrix = (seed: number, shape: ReadonlyArray<number>, dtype: "float32" | "float64" = "float64"): T => {
  const r = rng(seed)
  const n = shape.reduce((a, b) => a * b, 1)
  return Tensor.make(Float64Array.from({ length: n }, r), { shape, dtype })
}
const eyeLike = (n: number, dtype: "float32" | "float64" = "float64") => Tensor.eye(n, n, { dtype })
const mT = (x: T) => Tensor.transpose(x, [...x.shape.slice(0, -2).map((_, i) => i), x.ndim - 1, x.ndim - 2])
/** x xᵀ + n I: symmetric positive-definite. */
const spd = (x: T) => Tensor.add(Tensor.matmul(x, mT(x)), Tensor.mul(eyeLike(x.shape[x.ndim - 1]!, x.dtype as "float64"), x.shape[x.ndim - 1]!))
/** A well-conditioned square matrix: x + 3 I. */
const wellConditioned = (x: T) => Tensor.add(x, Tensor.mul(eyeLike(x.shape[x.ndim - 1]!, x.dtype as "float64"), 3))
/** Symmetric with well-separated eigenvalues: ½(x + xᵀ)·0.3 + diag(0, 2, 4, ...). */
const separated = (x: T) => {
  const n = x.shape[x.ndim - 1]!
  const d = Tensor.make(Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 2 * i : 0))), f64)
  return Tensor.add(Tensor.mul(Tensor.add(x, mT(x)), 0.15), d)
}

const expectClose = async (got: T, want: T, tol: number) => {
  expect(got.shape).toEqual(want.shape)
  const [g, w] = await Promise.all([data(got), data(want)])
  const scale = Math.max(1, ...w.map(Math.abs))
  g.forEach((v, i) => {
    if (!(Math.abs(v - w[i]!) <= tol * scale)) throw new Error(`element ${i}: got ${v}, want ${w[i]} (tol ${tol * scale}); got ${g}, want ${w}`)
  })
}

const arbDims = fc.record({ batch: fc.constantFrom<ReadonlyArray<number>>([], [2], [2, 1]), n: fc.integer({ min: 1, max: 5 }), seed: fc.integer() })
const runs = { numRuns: 15 }

// ------------------------------------------------------------------ identities

describe("Linalg identities (float64, random batched matrices)", () => {
  it("cholesky: l lᵀ = a, l lower triangular with a positive diagonal", () =>
    fc.assert(
      fc.asyncProperty(arbDims, async ({ batch, n, seed }) => {
        const a = spd(randomMatrix(seed, [...batch, n, n]))
        const l = Linalg.cholesky(a)
        await expectClose(Tensor.matmul(l, mT(l)), a, 1e-12)
        const ld = await data(l)
        for (let b = 0; b < ld.length / (n * n); b++)
          for (let i = 0; i < n; i++)
            for (let j = 0; j < n; j++) {
              const v = ld[b * n * n + i * n + j]!
              if (j > i) expect(v).toBe(0)
              if (j === i) expect(v).toBeGreaterThan(0)
            }
      }),
      runs
    ))

  it("solve, inv, det, slogdet: a x = b, a a⁻¹ = I, det = sign · exp(logAbsDet)", () =>
    fc.assert(
      fc.asyncProperty(arbDims, fc.integer({ min: 1, max: 3 }), async ({ batch, n, seed }, k) => {
        const a = wellConditioned(randomMatrix(seed, [...batch, n, n]))
        const b = randomMatrix(seed + 1, [...batch, n, k])
        await expectClose(Tensor.matmul(a, Linalg.solve(a, b)), b, 1e-12)
        await expectClose(Tensor.matmul(a, Linalg.inv(a)), Tensor.broadcastTo(eyeLike(n), a.shape), 1e-12)
        const [sign, logAbsDet] = Linalg.slogdet(a)
        await expectClose(Linalg.det(a), Tensor.mul(sign, Tensor.exp(logAbsDet)), 1e-12)
        // det of a triangular matrix is the product of its diagonal; det(a b) = det a det b
        const c = wellConditioned(randomMatrix(seed + 2, [...batch, n, n]))
        await expectClose(Linalg.det(Tensor.matmul(a, c)), Tensor.mul(Linalg.det(a), Linalg.det(c)), 1e-10)
      }),
      runs
    ))

  it("solveTriangular: op(a) x = b for lower/upper, transposed or not, unit diagonal", () =>
    fc.assert(
      fc.asyncProperty(arbDims, fc.boolean(), fc.boolean(), fc.boolean(), async ({ batch, n, seed }, lower, transpose, unitDiagonal) => {
        const raw = wellConditioned(randomMatrix(seed, [...batch, n, n]))
        const ad = await data(raw)
        const tri = ad.map((v, idx) => {
          const i = Math.floor(idx / n) % n, j = idx % n
          return i === j ? (unitDiagonal ? 1 : v) : (lower ? j < i : j > i) ? v : 0
        })
        const t = Tensor.make(Float64Array.from(tri), { shape: raw.shape, dtype: "float64" })
        const b = randomMatrix(seed + 1, [...batch, n, 2])
        const x = Linalg.solveTriangular(raw, b, { lower, transpose, unitDiagonal })
        await expectClose(Tensor.matmul(transpose ? mT(t) : t, x), b, 1e-12)
      }),
      runs
    ))

  it("qr: q r = a, qᵀ q = I, r upper triangular (tall, square, wide)", () =>
    fc.assert(
      fc.asyncProperty(arbDims, fc.integer({ min: 1, max: 5 }), async ({ batch, n, seed }, m) => {
        const a = randomMatrix(seed, [...batch, m, n])
        const [q, r] = Linalg.qr(a)
        const k = Math.min(m, n)
        expect(q.shape).toEqual([...batch, m, k])
        expect(r.shape).toEqual([...batch, k, n])
        await expectClose(Tensor.matmul(q, r), a, 1e-12)
        await expectClose(Tensor.matmul(mT(q), q), Tensor.broadcastTo(eyeLike(k), [...batch, k, k]), 1e-12)
        const rd = await data(r)
        rd.forEach((v, idx) => {
          const i = Math.floor(idx / n) % k, j = idx % n
          if (j < i) expect(v).toBe(0)
        })
      }),
      runs
    ))

  it("eigh: a v = v diag(w), vᵀ v = I, w ascending", () =>
    fc.assert(
      fc.asyncProperty(arbDims, async ({ batch, n, seed }) => {
        const x = randomMatrix(seed, [...batch, n, n])
        const a = Tensor.add(x, mT(x))
        const [w, v] = Linalg.eigh(a)
        await expectClose(Tensor.matmul(a, v), Tensor.mul(v, Tensor.expandDims(w, -2)), 1e-11)
        await expectClose(Tensor.matmul(mT(v), v), Tensor.broadcastTo(eyeLike(n), a.shape), 1e-12)
        const wd = await data(w)
        for (let i = 0; i < wd.length; i++) if (i % n > 0) expect(wd[i]!).toBeGreaterThanOrEqual(wd[i - 1]!)
      }),
      runs
    ))

  it("svd: u diag(s) vt = a, uᵀ u = vt vtᵀ = I, s descending and nonnegative (also rank-deficient)", () =>
    fc.assert(
      fc.asyncProperty(arbDims, fc.integer({ min: 1, max: 5 }), fc.boolean(), async ({ batch, n, seed }, m, deficient) => {
        let a = randomMatrix(seed, [...batch, m, n])
        if (deficient) a = Tensor.mul(a, Tensor.make(Array.from({ length: n }, (_, j) => (j === 0 ? 0 : 1)), f64)) // a zero column
        const [u, s, vt] = Linalg.svd(a)
        const k = Math.min(m, n)
        await expectClose(Tensor.matmul(Tensor.mul(u, Tensor.expandDims(s, -2)), vt), a, 1e-12)
        await expectClose(Tensor.matmul(mT(u), u), Tensor.broadcastTo(eyeLike(k), [...batch, k, k]), 1e-12)
        await expectClose(Tensor.matmul(vt, mT(vt)), Tensor.broadcastTo(eyeLike(k), [...batch, k, k]), 1e-12)
        const sd = await data(s)
        for (let i = 0; i < sd.length; i++) {
          expect(sd[i]!).toBeGreaterThanOrEqual(0)
          if (i % k > 0) expect(sd[i]!).toBeLessThanOrEqual(sd[i - 1]!)
        }
      }),
      runs
    ))

  it("float32 inputs give float32 results within float32 rounding of float64", async () => {
    const a64 = wellConditioned(randomMatrix(7, [4, 4]))
    const a32 = Tensor.cast(a64, "float32")
    const b32 = Tensor.cast(randomMatrix(8, [4, 2]), "float32")
    const x = Linalg.solve(a32, b32)
    expect(x.dtype).toBe("float32")
    await expectClose(Tensor.cast(x, "float64"), Linalg.solve(a64, Tensor.cast(b32, "float64")), 1e-5)
    const l = Linalg.cholesky(spd(a32))
    expect(l.dtype).toBe("float32")
    await expectClose(Tensor.cast(l, "float64"), Linalg.cholesky(spd(a64)), 1e-5)
    const [w] = Linalg.eigh(Tensor.add(a32, mT(a32)))
    await expectClose(Tensor.cast(w, "float64"), Linalg.eigh(Tensor.add(a64, mT(a64)))[0], 1e-5)
    // int32 matrices are computed in float32
    expect(Linalg.det(Tensor.make([[2, 1], [1, 3]], { dtype: "int32" })).dtype).toBe("float32")
    expect(await run(Tensor.item(Linalg.det(Tensor.make([[2, 1], [1, 3]], { dtype: "int32" }))))).toBeCloseTo(5, 5)
  })
})

// ------------------------------------------------------------------ derivatives

const opts: CheckGradsOptions = { order: 2, modes: ["fwd", "rev"], rtol: 1e-4, atol: 1e-5 }
const check = (f: (...xs: ReadonlyArray<T>) => unknown, args: ReadonlyArray<T>, o: CheckGradsOptions = opts) =>
  run(checkGrads(f as (...xs: ReadonlyArray<T>) => T, args, o))

describe("Linalg derivatives: checkGrads order 2, fwd and rev (float64)", () => {
  const x3 = randomMatrix(11, [3, 3])
  const b3 = randomMatrix(12, [3, 2])
  it("cholesky (of x xᵀ + 3 I, batched)", () => check((x) => Linalg.cholesky(spd(x)), [randomMatrix(13, [2, 3, 3])]))
  it("solveTriangular, every variant", async () => {
    for (const lower of [true, false])
      for (const transpose of [true, false])
        for (const unitDiagonal of [false, true])
          await check((a, b) => Linalg.solveTriangular(wellConditioned(a), b, { lower, transpose, unitDiagonal }), [x3, b3])
  })
  it("solve (matrix and vector right-hand sides)", async () => {
    await check((a, b) => Linalg.solve(wellConditioned(a), b), [x3, b3])
    await check((a, b) => Linalg.solve(wellConditioned(a), b), [x3, randomMatrix(14, [3])])
  })
  it("inv, det, slogdet", async () => {
    await check((a) => Linalg.inv(wellConditioned(a)), [x3])
    await check((a) => Linalg.det(a), [randomMatrix(15, [2, 3, 3])])
    await check((a) => Linalg.slogdet(wellConditioned(a))[1], [x3])
  })
  it("qr: q and r themselves (fixed sign convention), tall, square and wide", async () => {
    for (const [m, n] of [[4, 3], [3, 3], [2, 4]] as const) await check((a) => [...Linalg.qr(a)], [randomMatrix(16 + m * n, [m, n])])
  })
  it("eigh: eigenvalues and v ∘ v (sign-invariant), batched", () =>
    check((a) => {
      const [w, v] = Linalg.eigh(separated(a))
      return [w, Tensor.mul(v, v)]
    }, [randomMatrix(17, [2, 3, 3])]))
  it("svd: s, u ∘ u, vt ∘ vt (sign-invariant), tall, square and wide", async () => {
    for (const [m, n] of [[4, 3], [3, 3], [2, 4]] as const)
      await check((a) => {
        const [u, s, vt] = Linalg.svd(a)
        return [s, Tensor.mul(u, u), Tensor.mul(vt, vt)]
      }, [Tensor.add(randomMatrix(18 + m, [m, n]), Tensor.make(Array.from({ length: m }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 3 - i : 0))), f64))])
  })
  it("grad of logdet is a⁻ᵀ; the gradient of cholesky is symmetric", async () => {
    const a = wellConditioned(x3)
    await expectClose(await run(grad((x: T) => Linalg.slogdet(x)[1])(a)), mT(Linalg.inv(a)), 1e-12)
    const g = await run(grad((x: T) => Tensor.sum(Tensor.mul(Linalg.cholesky(x), randomMatrix(3, [3, 3]))))(spd(x3)))
    await expectClose(g, mT(g), 1e-12)
  })
})

/** det of a host matrix by cofactor expansion (float64, small n). */
const hostDet = (m: ReadonlyArray<ReadonlyArray<number>>): number =>
  m.length === 0 ? 1 : m[0]!.reduce((acc, v, j) => acc + (j % 2 === 0 ? 1 : -1) * v * hostDet(m.slice(1).map((r) => r.filter((_, c) => c !== j))), 0)
/** adj(m)ᵀ, the cofactor matrix: C_ij = (−1)^(i+j) det(m without row i and column j). */
const cofactors = (m: ReadonlyArray<ReadonlyArray<number>>): number[][] =>
  m.map((_, i) => m.map((__, j) => ((i + j) % 2 === 0 ? 1 : -1) * hostDet(m.filter((_, r) => r !== i).map((r) => r.filter((_, c) => c !== j)))))

describe("det's derivative is the adjugate, at singular matrices too", () => {
  const r = rng(31)
  const random4 = Array.from({ length: 4 }, () => Array.from({ length: 4 }, r))
  const cases: ReadonlyArray<readonly [string, number[][]]> = [
    ["a random 4 × 4", random4],
    ["two equal rows (rank 3: a zero last pivot)", [random4[0]!, random4[1]!, random4[0]!, random4[3]!]],
    ["a zero first column (rank 3: the zero pivot comes first)", random4.map((row) => [0, ...row.slice(1)])],
    ["two pairs of equal rows (rank 2: the adjugate is zero)", [random4[0]!, random4[1]!, random4[0]!, random4[1]!]],
    ["a 1 × 1 zero", [[0]]],
    ["a singular 2 × 2", [[1, 2], [2, 4]]]
  ]
  for (const [name, m] of cases)
    it(`${name}: grad (reverse) and jacfwd (forward) equal adj(a)ᵀ, float64 and float32`, async () => {
      const want = Tensor.make(cofactors(m), f64)
      const a = Tensor.make(m, f64)
      const g = await run(grad((x: T) => Linalg.det(x))(a))
      await expectClose(g, want, 1e-12)
      await expectClose(await run(jacfwd((x: T) => Linalg.det(x))(a)), want, 1e-12)
      const g32 = await run(grad((x: T) => Linalg.det(x))(Tensor.make(m)))
      await expectClose(Tensor.cast(g32, "float64"), want, 1e-5)
    })
  it("batched, a singular matrix among regular ones", async () => {
    const ms = [random4.slice(0, 3).map((row) => row.slice(0, 3)), [random4[0]!.slice(0, 3), random4[0]!.slice(0, 3), random4[2]!.slice(0, 3)]]
    const g = await run(grad((x: T) => Tensor.sum(Linalg.det(x)))(Tensor.make(ms, f64)))
    await expectClose(g, Tensor.make(ms.map(cofactors), f64), 1e-12)
  })
  it("second order (at a regular matrix: the LU's own derivative needs one): the Hessian of a d − b c", async () => {
    // ∂²det/∂a_ij∂a_kl: 1 for (a, d) pairs, −1 for (b, c) pairs, 0 elsewhere
    const h = await run(jacfwd(grad((x: T) => Linalg.det(x)))(Tensor.make([[1, 2], [3, 4]], f64)))
    const want = [[[[0, 0], [0, 1]], [[0, 0], [-1, 0]]], [[[0, -1], [0, 0]], [[1, 0], [0, 0]]]]
    await expectClose(h, Tensor.make(want, f64), 1e-12)
  })
})

describe("Linalg under vmap", () => {
  it("vmap of solve over b with a shared a, and of det / eigh over a batch, equal the batched calls", async () => {
    const a = wellConditioned(randomMatrix(21, [3, 3]))
    const bs = randomMatrix(22, [4, 3])
    const mapped = await run(vmap((b: T) => Linalg.solve(a, b))(bs))
    await expectClose(mapped, mT(Linalg.solve(a, mT(bs))), 1e-12)
    const as = wellConditioned(randomMatrix(23, [5, 3, 3]))
    await expectClose(await run(vmap((x: T) => Linalg.det(x))(as)), Linalg.det(as), 1e-12)
    await expectClose(await run(vmap((x: T) => Linalg.eigh(x)[0])(Tensor.add(as, mT(as)))), Linalg.eigh(Tensor.add(as, mT(as)))[0], 1e-12)
  })
  it("vmap of grad, and jacfwd, of a Gaussian log-likelihood through cholesky", async () => {
    const nll = (k: T) => {
      const l = Linalg.cholesky(k)
      const y = Tensor.make([0.3, -1, 0.5], f64)
      const alpha = Linalg.solveTriangular(l, y, { lower: true })
      return Tensor.add(Tensor.mul(Tensor.sum(Tensor.square(alpha)), 0.5), Tensor.sum(Tensor.log(Tensor.abs(Tensor.mul(Tensor.sum(Tensor.mul(l, eyeLike(3)), { axis: -1 }), 1)))))
    }
    const ks = spd(randomMatrix(24, [2, 3, 3]))
    const gs = await run(vmap(grad(nll))(ks))
    for (let i = 0; i < 2; i++) {
      const ki = Tensor.slice(ks, [i, 0, 0], [i + 1, 3, 3]).pipe(Tensor.reshape([3, 3]))
      await expectClose(Tensor.reshape(Tensor.slice(gs, [i, 0, 0], [i + 1, 3, 3]), [3, 3]), await run(grad(nll)(ki)), 1e-12)
    }
    const j = await run(jacfwd((k: T) => Linalg.cholesky(k))(spd(x3Global)))
    expect(j.shape).toEqual([3, 3, 3, 3])
  })
})
const x3Global = randomMatrix(25, [3, 3])

// ------------------------------------------------------------------ PyTorch reference

interface JsonArray {
  readonly shape: ReadonlyArray<number>
  readonly data: ReadonlyArray<number>
}
interface Case {
  readonly name: string
  readonly inputs: Readonly<Record<string, JsonArray>>
  readonly weights: Readonly<Record<string, JsonArray>>
  readonly outputs: Readonly<Record<string, JsonArray>>
}
const fixture = JSON.parse(readFileSync(fileURLToPath(new URL("../fixtures/torch_linalg.json", import.meta.url)), "utf8")) as {
  meta: { source: string }
  cases: ReadonlyArray<Case>
}
const tensorOf = (j: JsonArray): T => Tensor.make(Float64Array.from(j.data), { shape: j.shape, dtype: "float64" })
const wsum = (x: T, c: T) => Tensor.sum(Tensor.mul(x, c))
const sq = (x: T) => Tensor.mul(x, x)
const posQr = (a: T) => {
  const [q, r] = Linalg.qr(a)
  const k = r.shape[r.ndim - 2]!
  const s = Tensor.sign(Tensor.sum(Tensor.mul(Tensor.slice(r, [0, 0], [k, k]), eyeLike(k)), { axis: -1 }))
  return { q_pos: Tensor.mul(q, s), r_pos: Tensor.mul(r, Tensor.expandDims(s, -1)) }
}

/** diffect's version of each fixture case: its outputs and the loss whose gradient is compared. */
const cases: Record<string, (x: Record<string, T>, w: Record<string, T>) => { outs: Record<string, T>; loss: T }> = {
  cholesky: ({ a }, { c }) => {
    const l = Linalg.cholesky(a!)
    return { outs: { l }, loss: wsum(l, c!) }
  },
  solve: ({ a, b }, { c }) => {
    const x = Linalg.solve(a!, b!)
    return { outs: { x }, loss: wsum(x, c!) }
  },
  inv: ({ a }, { c }) => {
    const x = Linalg.inv(a!)
    return { outs: { inv: x }, loss: wsum(x, c!) }
  },
  det: ({ a }, { c }) => {
    const d = Linalg.det(a!)
    return { outs: { det: d }, loss: wsum(d, c!) }
  },
  slogdet: ({ a }, { c }) => {
    const [sign, logabsdet] = Linalg.slogdet(a!)
    return { outs: { sign, logabsdet }, loss: wsum(logabsdet, c!) }
  },
  qr: ({ a }, { c1, c2 }) => {
    const [q, r] = Linalg.qr(a!)
    return { outs: posQr(a!), loss: Tensor.add(wsum(sq(q), c1!), wsum(sq(r), c2!)) }
  },
  eigh: ({ a }, { c1, c2 }) => {
    const [w, v] = Linalg.eigh(a!)
    return { outs: { w }, loss: Tensor.add(wsum(w, c1!), wsum(sq(v), c2!)) }
  },
  svd: ({ a }, { c1, c2, c3 }) => {
    const [u, s, vt] = Linalg.svd(a!)
    return { outs: { s }, loss: Tensor.add(Tensor.add(wsum(s, c1!), wsum(sq(u), c2!)), wsum(sq(vt), c3!)) }
  }
}
const triangular = (lower: boolean, transpose: boolean) => ({ a, b }: Record<string, T>, { c }: Record<string, T>) => {
  const x = Linalg.solveTriangular(a!, b!, { lower, transpose })
  return { outs: { x }, loss: wsum(x, c!) }
}

describe("Linalg against PyTorch (float64 fixtures)", () => {
  it("the fixture is PyTorch's", () => expect(fixture.meta.source).toBe("torch"))
  for (const c of fixture.cases) {
    it(c.name, async () => {
      const tri = /^solveTriangular_lower(\d)_transpose(\d)$/.exec(c.name)
      const impl = tri ? triangular(tri[1] === "1", tri[2] === "1") : cases[c.name.split("_")[0]!]!
      const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, tensorOf(v)]))
      const weights = Object.fromEntries(Object.entries(c.weights).map(([k, v]) => [k, tensorOf(v)]))
      const { outs } = impl(inputs, weights)
      for (const [k, v] of Object.entries(outs)) await expectClose(v, tensorOf(c.outputs[k]!), 1e-10)
      const names = Object.keys(inputs)
      const grads = await run(
        grad((...xs: ReadonlyArray<T>) => impl(Object.fromEntries(names.map((k, i) => [k, xs[i]!])), weights).loss, {
          argnums: names.map((_, i) => i)
        })(...names.map((k) => inputs[k]!))
      )
      for (const [i, k] of names.entries()) await expectClose((grads as ReadonlyArray<T>)[i]!, tensorOf(c.outputs[`grad_${k}`]!), 1e-9)
    })
  }
})

// ------------------------------------------------------------------ bad input

const failure = async (t: T) => {
  const r = await Effect.runPromise(Effect.flip(Tensor.data(t)))
  return { tag: r._tag, message: r.message }
}

describe("Linalg bad input: typed failures naming shapes and dtypes", () => {
  it("non-square matrices are LinalgError", async () => {
    const a = Tensor.ones([2, 3], f64)
    for (const t of [Linalg.cholesky(a), Linalg.solve(a, Tensor.ones([2], f64)), Linalg.inv(a), Linalg.det(a), Linalg.slogdet(a)[1], Linalg.eigh(a)[0]]) {
      const f = await failure(t)
      expect(f.tag).toBe("LinalgError")
      expect(f.message).toContain("[2, 3]")
      expect(f.message).toContain("float64")
    }
  })
  it("a matrix that is not positive-definite is a LinalgError from cholesky, in plain use and under grad", async () => {
    const a = Tensor.make([[1, 2], [2, 1]], f64)
    const f = await failure(Linalg.cholesky(a))
    expect(f.tag).toBe("LinalgError")
    expect(f.message).toMatch(/not positive-definite.*float64 \[2, 2\]/)
    const g = await Effect.runPromise(Effect.flip(grad((x: T) => Tensor.sum(Linalg.cholesky(x)))(a)))
    expect(g._tag).toBe("LinalgError")
  })
  it("right-hand sides that do not fit are ShapeError; complex64 and non-tensors are DTypeError; vectors are ShapeError", async () => {
    const a = Tensor.eye(3, 3, f64)
    const f = await failure(Linalg.solve(a, Tensor.ones([2, 2], f64)))
    expect(f.tag).toBe("ShapeError")
    expect(f.message).toContain("[3, 3]")
    expect(f.message).toContain("[2, 2]")
    expect((await failure(Linalg.solveTriangular(a, Tensor.ones([4], f64)))).tag).toBe("ShapeError")
    expect((await failure(Linalg.qr(Tensor.ones([3], f64))[0])).tag).toBe("ShapeError")
    const z = Tensor.make({ re: [1, 0, 0, 1], im: [0, 0, 0, 0] }, { shape: [2, 2], dtype: "complex64" })
    const fz = await failure(Linalg.svd(z)[1])
    expect(fz.tag).toBe("DTypeError")
    expect(fz.message).toContain("complex64")
    expect((await failure(Linalg.det("x" as unknown as T))).tag).toBe("DTypeError")
  })
})
