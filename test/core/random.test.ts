/**
 * Random: the Threefry-2x32 hash (known answers), keys as state,
 * reproducibility, key advance, moments of every sampler, ranges,
 * independence of successive draws and of split keys, and argument errors.
 */
import { Cause, Effect, Exit } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Random, Tensor, Variable } from "@diffect/core"
import { hashPair } from "../../packages/core/src/internal/threefry.js"

const run = <A, E>(eff: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(eff)
const values = async (t: Tensor.Tensor): Promise<number[]> => Array.from((await run(Tensor.data(t))) as ArrayLike<number>)
const keyWords = async (k: Random.Key): Promise<number[]> => values(await run(Variable.get(k)))

/** The typed failure of an effect (it must fail, not die). */
const failure = async (eff: Effect.Effect<unknown, unknown>): Promise<{ _tag: string; message: string }> => {
  const exit = await Effect.runPromiseExit(eff)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  expect(Cause.hasDies(exit.cause), "no defect").toBe(false)
  return Cause.squash(exit.cause) as { _tag: string; message: string }
}

const meanOf = (xs: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < xs.length; i++) s += xs[i]!
  return s / xs.length
}
const varOf = (xs: ArrayLike<number>): number => {
  const m = meanOf(xs)
  let s = 0
  for (let i = 0; i < xs.length; i++) s += (xs[i]! - m) ** 2
  return s / (xs.length - 1)
}
const corr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  const ma = meanOf(a), mb = meanOf(b)
  let sab = 0, saa = 0, sbb = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! - ma, y = b[i]! - mb
    sab += x * y
    saa += x * x
    sbb += y * y
  }
  return sab / Math.sqrt(saa * sbb)
}
const N = 100_000
/** Five standard errors of a correlation estimated from N pairs. */
const corrTol = 5 / Math.sqrt(N)

describe("Threefry-2x32-20", () => {
  it("matches the Random123 known-answer vectors", () => {
    const hex = (p: [number, number]) => p.map((x) => x.toString(16).padStart(8, "0"))
    expect(hex(hashPair(0, 0, 0, 0))).toEqual(["6b200159", "99ba4efe"])
    expect(hex(hashPair(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff))).toEqual(["1cb996fc", "bb002be7"])
    expect(hex(hashPair(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3))).toEqual(["c4923a9c", "483df7a0"])
  })
})

describe("keys", () => {
  it("a key is a Variable holding int32[2]: the seed's high and low words", async () => {
    const k = await run(Random.key(42))
    expect(Variable.isVariable(k)).toBe(true)
    const t = await run(Variable.get(k))
    expect([t.dtype, [...t.shape]]).toEqual(["int32", [2]])
    expect(await values(t)).toEqual([0, 42])
    expect(await keyWords(await run(Random.key(2 ** 40 + 5)))).toEqual([256, 5])
    expect(await keyWords(await run(Random.key(-1)))).toEqual([-1, -1]) // two's complement of the 64-bit seed
  })

  it("a fractional or unsafe seed is a DTypeError", async () => {
    for (const s of [1.5, Number.NaN, 2 ** 60]) {
      const e = await failure(Random.key(s))
      expect(e._tag).toBe("DTypeError")
      expect(e.message).toContain("seed")
    }
  })

  it("a key of the wrong dtype or shape fails with a typed error naming it", async () => {
    const f = await run(Variable.make(Tensor.zeros([2]), { name: "notAKey" }))
    const e1 = await failure(Random.uniform(f, [3]))
    expect([e1._tag, e1.message]).toEqual(["DTypeError", expect.stringContaining("notAKey")])
    expect(e1.message).toContain("float32[2]")
    const g = await run(Variable.make(Tensor.zeros([3], { dtype: "int32" })))
    const e2 = await failure(Random.normal(g, [3]))
    expect(e2._tag).toBe("ShapeError")
    expect(e2.message).toContain("int32[3]")
  })
})

describe("reproducibility and key advance", () => {
  const sequence = (seed: number) =>
    Effect.gen(function* () {
      const k = yield* Random.key(seed)
      const out: Tensor.Tensor[] = [
        yield* Random.uniform(k, [5]),
        yield* Random.uniform(k, [3], { dtype: "float64", minval: -2, maxval: 7 }),
        yield* Random.normal(k, [4]),
        yield* Random.normal(k, [2], { dtype: "complex64" }),
        yield* Random.bernoulli(k, 0.3, [6]),
        yield* Random.randint(k, [5], -3, 9),
        yield* Random.permutation(k, 7),
        yield* Random.bits(k, [3])
      ]
      return yield* Effect.forEach(out, Tensor.data)
    })

  it("the same seed gives the same numbers; another seed does not", async () => {
    const a = await run(sequence(7)), b = await run(sequence(7)), c = await run(sequence(8))
    expect(a.map((x) => Array.from(x))).toEqual(b.map((x) => Array.from(x)))
    expect(Array.from(a[0]!)).not.toEqual(Array.from(c[0]!))
  })

  it("property: any seed and shape reproduces, and uniform stays in range", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.maxSafeInteger().map((s) => s),
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: 1e-3, max: 100, noNaN: true }),
        async (seed, shape, lo, width) => {
          const draw = Effect.gen(function* () {
            const k = yield* Random.key(seed)
            return yield* Random.uniform(k, shape, { minval: lo, maxval: lo + width })
          })
          const [x, y] = [await run(draw), await run(draw)]
          expect([...x.shape]).toEqual(shape)
          const xs = await values(x)
          expect(xs).toEqual(await values(y))
          for (const v of xs) expect(v >= Math.fround(lo) - 1e-4 * Math.abs(lo) && v < lo + width).toBe(true)
        }
      ),
      { numRuns: 40 }
    )
  })

  it("every draw advances the key deterministically, and successive draws differ", async () => {
    const k = await run(Random.key(3))
    const k0 = await keyWords(k)
    const a = await values(await run(Random.uniform(k, [8])))
    const k1 = await keyWords(k)
    const b = await values(await run(Random.uniform(k, [8])))
    const k2 = await keyWords(k)
    expect(k1).not.toEqual(k0)
    expect(k2).not.toEqual(k1)
    expect(a).not.toEqual(b)
    // the advance depends only on the key, not on what was drawn
    const j = await run(Random.key(3))
    await run(Random.normal(j, [1000], { dtype: "float64" }))
    expect(await keyWords(j)).toEqual(k1)
  })

  it("a failed argument check neither draws nor advances the key", async () => {
    const k = await run(Random.key(5))
    const before = await keyWords(k)
    expect((await failure(Random.uniform(k, [2], { minval: 1, maxval: 1 })))._tag).toBe("ShapeError")
    expect(await keyWords(k)).toEqual(before)
  })
})

describe("moments over 10^5 samples", () => {
  it.each(["float32", "float64"] as const)("uniform %s on [-2, 5): mean, variance, range", async (dtype) => {
    const k = await run(Random.key(11))
    const t = await run(Random.uniform(k, [N], { minval: -2, maxval: 5, dtype }))
    expect(t.dtype).toBe(dtype)
    const xs = await run(Tensor.data(t))
    const [mean, variance] = [meanOf(xs), varOf(xs)]
    expect(Math.abs(mean - 1.5)).toBeLessThan(5 * Math.sqrt(49 / 12 / N))
    expect(Math.abs(variance - 49 / 12) / (49 / 12)).toBeLessThan(0.02)
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(-2)
    expect(Math.max(...xs)).toBeLessThan(5)
  })

  it("uniform on an interval narrower than float32 resolution still excludes maxval", async () => {
    const k = await run(Random.key(1))
    const maxval = 1 + 2 ** -22
    const xs = await values(await run(Random.uniform(k, [10_000], { minval: 1, maxval })))
    for (const x of xs) expect(x >= 1 && x < maxval).toBe(true)
    const ys = await values(await run(Random.uniform(k, [10_000], { minval: 1, maxval: 1 + 2 ** -50, dtype: "float64" })))
    for (const y of ys) expect(y >= 1 && y < 1 + 2 ** -50).toBe(true)
  })

  it.each(["float32", "float64"] as const)("normal %s with mean 3, stddev 2: mean, variance, skew, tails", async (dtype) => {
    const k = await run(Random.key(12))
    const xs = await run(Tensor.data(await run(Random.normal(k, [N], { mean: 3, stddev: 2, dtype }))))
    expect(Math.abs(meanOf(xs) - 3)).toBeLessThan(5 * 2 / Math.sqrt(N))
    expect(Math.abs(varOf(xs) - 4) / 4).toBeLessThan(0.03)
    let skew = 0, beyond2 = 0
    for (const x of xs) {
      skew += ((x - 3) / 2) ** 3
      if (Math.abs(x - 3) > 4) beyond2++
    }
    expect(Math.abs(skew / N)).toBeLessThan(0.05)
    expect(Math.abs(beyond2 / N - 0.0455)).toBeLessThan(0.005) // P(|z| > 2)
  })

  it("complex64 normal: each part has variance stddev²/2, the mean goes to the real part", async () => {
    const k = await run(Random.key(13))
    const t = await run(Random.normal(k, [N], { dtype: "complex64", mean: 1, stddev: 2 }))
    const z = await run(Tensor.data(t))
    const re = z.filter((_, i) => i % 2 === 0), im = z.filter((_, i) => i % 2 === 1)
    expect(Math.abs(meanOf(re) - 1)).toBeLessThan(0.03)
    expect(Math.abs(meanOf(im))).toBeLessThan(0.03)
    expect(Math.abs(varOf(re) - 2) / 2).toBeLessThan(0.03)
    expect(Math.abs(varOf(im) - 2) / 2).toBeLessThan(0.03)
    expect(Math.abs(corr(re, im))).toBeLessThan(corrTol)
  })

  it("bernoulli: the rate of true is p; p = 0 and p = 1 are exact", async () => {
    const k = await run(Random.key(14))
    for (const p of [0.3, 0.5, 0.01]) {
      const t = await run(Random.bernoulli(k, p, [N]))
      expect(t.dtype).toBe("bool")
      const rate = meanOf(await run(Tensor.data(t)))
      expect(Math.abs(rate - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N))
    }
    expect(meanOf(await values(await run(Random.bernoulli(k, 0, [1000]))))).toBe(0)
    expect(meanOf(await values(await run(Random.bernoulli(k, 1, [1000]))))).toBe(1)
    expect((await run(Random.bernoulli(k))).shape).toEqual([])
  })

  it("bernoulli with a tensor of probabilities broadcasts it to the shape", async () => {
    const k = await run(Random.key(15))
    const p = Tensor.make([0.1, 0.9])
    const t = await run(Random.bernoulli(k, p, [N / 2, 2]))
    expect([t.dtype, [...t.shape]]).toEqual(["bool", [N / 2, 2]])
    const xs = await values(t)
    expect(Math.abs(meanOf(xs.filter((_, i) => i % 2 === 0)) - 0.1)).toBeLessThan(0.01)
    expect(Math.abs(meanOf(xs.filter((_, i) => i % 2 === 1)) - 0.9)).toBeLessThan(0.01)
    expect((await run(Random.bernoulli(k, p))).shape).toEqual([2])
  })

  it("randint: every value in [minval, maxval), each about equally often (chi-square)", async () => {
    const k = await run(Random.key(16))
    const t = await run(Random.randint(k, [N], -3, 7))
    expect(t.dtype).toBe("int32")
    const counts = new Array<number>(10).fill(0)
    let outside = 0
    for (const x of await values(t)) {
      if (Number.isInteger(x) && x >= -3 && x < 7) counts[x + 3]!++
      else outside++
    }
    expect(outside).toBe(0)
    const chi2 = counts.reduce((s, c) => s + (c - N / 10) ** 2 / (N / 10), 0)
    expect(chi2).toBeLessThan(33.7) // 9 degrees of freedom, p = 1e-4
    const wide = await values(await run(Random.randint(k, [1000], -(2 ** 31), 2 ** 31)))
    expect(wide.some((x) => x < 0) && wide.some((x) => x > 0)).toBe(true)
  })

  it("bits are uniform over 32-bit patterns (each bit set half the time)", async () => {
    const k = await run(Random.key(17))
    const xs = await run(Tensor.data(await run(Random.bits(k, [N]))))
    for (let b = 0; b < 32; b += 7) {
      let ones = 0
      for (const x of xs) ones += (x >>> b) & 1
      expect(Math.abs(ones / N - 0.5)).toBeLessThan(5 * 0.5 / Math.sqrt(N))
    }
  })
})

describe("independence", () => {
  it("successive draws from one key are uncorrelated", async () => {
    const k = await run(Random.key(21))
    const a = await run(Tensor.data(await run(Random.normal(k, [N]))))
    const b = await run(Tensor.data(await run(Random.normal(k, [N]))))
    expect(Math.abs(corr(a, b))).toBeLessThan(corrTol)
    // neighbours within one draw too (Box–Muller pairs included)
    expect(Math.abs(corr(a.subarray(0, N - 1), a.subarray(1)))).toBeLessThan(corrTol)
  })

  it("adjacent seeds, split keys and folded keys give uncorrelated streams", async () => {
    const draw = (k: Random.Key) => run(Effect.flatMap(Random.uniform(k, [N]), Tensor.data))
    const s0 = await draw(await run(Random.key(0)))
    const s1 = await draw(await run(Random.key(1)))
    expect(Math.abs(corr(s0, s1))).toBeLessThan(corrTol)
    const parent = await run(Random.key(0))
    const before = await keyWords(parent)
    const [c1, c2, c3] = await run(Random.split(parent, 3))
    expect(await keyWords(parent)).not.toEqual(before)
    const [x1, x2, x3, xp] = [await draw(c1!), await draw(c2!), await draw(c3!), await draw(parent)]
    for (const [a, b] of [[x1, x2], [x2, x3], [x1, x3], [x1, xp], [x1, s0]] as const) expect(Math.abs(corr(a, b))).toBeLessThan(corrTol)
    const root = await run(Random.key(9))
    const rootWords = await keyWords(root)
    const f1 = await run(Random.foldIn(root, 1)), f1again = await run(Random.foldIn(root, 1)), f2 = await run(Random.foldIn(root, 2))
    expect(await keyWords(root)).toEqual(rootWords) // foldIn does not advance
    expect(await keyWords(f1)).toEqual(await keyWords(f1again))
    expect(Math.abs(corr(await draw(f1), await draw(f2)))).toBeLessThan(corrTol)
  })
})

describe("permutation and shuffle", () => {
  it("permutation(n) is a permutation of 0..n-1, with a uniform first element", async () => {
    const k = await run(Random.key(31))
    const p = await values(await run(Random.permutation(k, 50)))
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    const counts = new Array<number>(5).fill(0)
    for (let i = 0; i < 2000; i++) counts[(await values(await run(Random.permutation(k, 5))))[0]!]!++
    for (const c of counts) expect(Math.abs(c - 400)).toBeLessThan(5 * Math.sqrt(2000 * 0.2 * 0.8))
    expect(await values(await run(Random.permutation(k, 0)))).toEqual([])
  })

  it("shuffle permutes the entries along an axis, keeping each entry whole", async () => {
    const k = await run(Random.key(32))
    const x = Tensor.reshape(Tensor.arange(24), [4, 6])
    const y = await run(Random.shuffle(k, x))
    const rows = (await run(Tensor.toArray(y))) as number[][]
    expect(rows.map((r) => r[0]! / 6).sort()).toEqual([0, 1, 2, 3])
    for (const r of rows) expect(r).toEqual(Array.from({ length: 6 }, (_, j) => r[0]! + j))
    const z = await run(Random.shuffle(k, x, { axis: -1 }))
    const cols = (await run(Tensor.toArray(z))) as number[][]
    expect([...cols[0]!].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5])
    for (let i = 1; i < 4; i++) expect(cols[i]).toEqual(cols[0]!.map((v) => v + 6 * i))
    expect((await failure(Random.shuffle(k, Tensor.make(1))))._tag).toBe("ShapeError")
  })
})

describe("argument errors are typed failures", () => {
  it.each([
    ["uniform shape", (k: Random.Key) => Random.uniform(k, [2, -1]), "ShapeError", "[2, -1]"],
    ["uniform dtype", (k: Random.Key) => Random.uniform(k, [2], { dtype: "int32" }), "DTypeError", "int32"],
    ["uniform interval", (k: Random.Key) => Random.uniform(k, [2], { minval: 3, maxval: 1 }), "ShapeError", "[3, 1)"],
    ["normal dtype", (k: Random.Key) => Random.normal(k, [2], { dtype: "bool" }), "DTypeError", "bool"],
    ["normal stddev", (k: Random.Key) => Random.normal(k, [2], { stddev: -1 }), "ShapeError", "stddev -1"],
    ["bernoulli p", (k: Random.Key) => Random.bernoulli(k, 1.5), "ShapeError", "1.5"],
    ["randint bounds", (k: Random.Key) => Random.randint(k, [2], 5, 5), "ShapeError", "[5, 5)"],
    ["randint fractional", (k: Random.Key) => Random.randint(k, [2], 0, 2.5), "ShapeError", "2.5"],
    ["permutation", (k: Random.Key) => Random.permutation(k, -1), "ShapeError", "-1"],
    ["split", (k: Random.Key) => Random.split(k, 1.5), "ShapeError", "1.5"],
    ["foldIn", (k: Random.Key) => Random.foldIn(k, 0.5), "ShapeError", "0.5"]
  ] as const)("%s", async (_, f, tag, fragment) => {
    const k = await run(Random.key(0))
    const e = await failure(f(k) as Effect.Effect<unknown, unknown>)
    expect(e._tag).toBe(tag)
    expect(e.message).toContain(fragment)
  })
})

describe("inside grad: the key is state", () => {
  /** The draws a fresh key of `seed` gives, outside any transform. */
  const reference = (seed: number) =>
    run(
      Effect.gen(function* () {
        const k = yield* Random.key(seed)
        const noise = yield* Random.normal(k, [3])
        const mask = yield* Random.bernoulli(k, 0.5, [3])
        return { noise: yield* Tensor.data(noise), mask: yield* Tensor.data(mask), key: yield* Tensor.data(yield* Variable.get(k)) }
      })
    )

  it("draws are constants, and the advance is committed when the call succeeds", async () => {
    const { grad } = await import("@diffect/transforms")
    const ref = await reference(4)
    const k = await run(Random.key(4))
    const w = await run(Variable.make(Tensor.ones([3]), { name: "w", trainable: true }))
    const f = () =>
      Effect.gen(function* () {
        const noise = yield* Random.normal(k, [3])
        const mask = yield* Random.bernoulli(k, 0.5, [3])
        return Tensor.sum(Tensor.mul(Tensor.where(mask, yield* Variable.get(w), 0), noise))
      })
    const g = await run(grad(f, { gradVars: w })() as Effect.Effect<Tensor.Tensor, unknown>)
    const expected = Array.from(ref.noise, (x, i) => (ref.mask[i] ? x : 0))
    expect(await values(g)).toEqual(expected)
    expect(await keyWords(k)).toEqual(Array.from(ref.key))
  })

  it("the advance is dropped when the call fails, so the next draw repeats", async () => {
    const { grad } = await import("@diffect/transforms")
    const ref = await reference(6)
    const k = await run(Random.key(6))
    const before = await keyWords(k)
    const f = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        const noise = yield* Random.normal(k, [3])
        yield* Random.bernoulli(k, 0.5, [3])
        if (x.ndim === 1) return yield* Effect.fail("user failure" as const)
        return Tensor.sum(Tensor.mul(x, noise))
      })
    const exit = await Effect.runPromiseExit(grad(f)(Tensor.ones([3])) as Effect.Effect<unknown, unknown>)
    expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBe("user failure")
    expect(await keyWords(k)).toEqual(before)
    expect(Array.from(await run(Tensor.data(await run(Random.normal(k, [3])))))).toEqual(Array.from(ref.noise))
  })

  it("a key read inside grad is captured; two draws in one call see the pending advance", async () => {
    const { grad } = await import("@diffect/transforms")
    const k = await run(Random.key(8))
    const now = (t: Tensor.Tensor) => Array.from(Effect.runSync(Tensor.data(t)) as ArrayLike<number>)
    let pair: number[][] = []
    const f = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        const a = yield* Random.uniform(k, [4])
        const b = yield* Random.uniform(k, [4])
        pair = [now(a), now(b)]
        return Tensor.sum(Tensor.mul(x, Tensor.add(a, b)))
      })
    const g = await run(grad(f)(Tensor.zeros([4])) as Effect.Effect<Tensor.Tensor, unknown>)
    expect(pair[0]).not.toEqual(pair[1])
    expect(await values(g)).toEqual(pair[0]!.map((v, i) => Math.fround(v + pair[1]![i]!)))
  })

  it("shuffle is differentiable: its gradient un-shuffles the cotangent", async () => {
    const { grad } = await import("@diffect/transforms")
    const k = await run(Random.key(9))
    const c = Tensor.make([1, 10, 100, 1000, 10000])
    const f = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        const y = yield* Random.shuffle(k, x)
        return Tensor.sum(Tensor.mul(y, c))
      })
    const k2 = await run(Random.key(9))
    const perm = await values(await run(Random.shuffle(k2, Tensor.arange(5))))
    const g = await values(await run(grad(f)(Tensor.zeros([5])) as Effect.Effect<Tensor.Tensor, unknown>))
    // y[i] = x[perm[i]], so d/dx[perm[i]] = c[i]
    const expected = new Array<number>(5)
    perm.forEach((p, i) => (expected[p] = 10 ** i))
    expect(g).toEqual(expected)
  })
})
