/**
 * conv, maxPool, avgPool: against a direct-loop float64 reference on random
 * shapes and options (fast-check), against PyTorch (test/fixtures/torch_conv.json,
 * written by test/fixtures/generate_torch_conv.py), checkGrads to order 2 in
 * both modes, vmap over kernels / inputs / both, a Hessian-vector product
 * through a small conv net, and the typed failures.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad, jvp, vmap } from "@diffect/transforms"
import { checkGrads } from "@diffect/transforms/testing"
import { rng as uniformRng } from "../conformance/data.js"

type T = Tensor.Tensor
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
const data = (t: T) => run(Tensor.data(t)).then((d) => Array.from(d as ArrayLike<number>))

/** A deterministic PRNG (the conformance data's mulberry32) in [-1, 1). */
const rng = (seed: number) => {
  const r = uniformRng(seed)
  return () => r() * 2 - 1
}
const sizeOf = (s: ReadonlyArray<number>) => s.reduce((a, b) => a * b, 1)
const random = (seed: number, shape: ReadonlyArray<number>, dtype: "float32" | "float64" = "float64"): T => {
  const r = rng(seed)
  return Tensor.make(Float64Array.from({ length: sizeOf(shape) }, r), { shape, dtype })
}

const expectClose = async (got: T, want: T | ReadonlyArray<number>, tol: number, wantShape?: ReadonlyArray<number>) => {
  const w = Array.isArray(want) ? want : await data(want as T)
  expect(got.shape).toEqual(wantShape ?? (want as T).shape)
  const g = await data(got)
  const scale = Math.max(1, ...w.map(Math.abs))
  g.forEach((v, i) => {
    if (!(Math.abs(v - w[i]!) <= tol * scale)) throw new Error(`element ${i}: got ${v}, want ${w[i]} (tol ${tol * scale})`)
  })
}

// ------------------------------------------------------------------ a direct reference

interface Spec {
  readonly n: number
  readonly c: number
  readonly o: number
  readonly groups: number
  readonly xs: ReadonlyArray<number>
  readonly ks: ReadonlyArray<number>
  readonly strides: ReadonlyArray<number>
  readonly padding: ReadonlyArray<readonly [number, number]>
  readonly dilation: ReadonlyArray<number>
}

/** y[n, o, p] = Σ_{c in o's group, t} x[n, c, p·s − lo + t·d] w[o, c', t], straight from the definition. */
const refConv = (x: ReadonlyArray<number>, w: ReadonlyArray<number>, s: Spec): { shape: number[]; data: number[] } => {
  const sd = s.xs.length
  const os = s.xs.map((n, d) => Math.floor((n + s.padding[d]![0] + s.padding[d]![1] - ((s.ks[d]! - 1) * s.dilation[d]! + 1)) / s.strides[d]!) + 1)
  const cg = s.c / s.groups, og = s.o / s.groups
  const out: number[] = []
  const unravel = (i: number, shape: ReadonlyArray<number>) => {
    const idx: number[] = []
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = i % shape[d]!
      i = Math.floor(i / shape[d]!)
    }
    return idx
  }
  for (let b = 0; b < s.n; b++)
    for (let o = 0; o < s.o; o++)
      for (let p = 0; p < sizeOf(os); p++) {
        const pi = unravel(p, os)
        let acc = 0
        const g = Math.floor(o / og)
        for (let ci = 0; ci < cg; ci++)
          for (let t = 0; t < sizeOf(s.ks); t++) {
            const ti = unravel(t, s.ks)
            const xi = pi.map((q, d) => q * s.strides[d]! - s.padding[d]![0] + ti[d]! * s.dilation[d]!)
            if (xi.some((v, d) => v < 0 || v >= s.xs[d]!)) continue
            let xo = b * s.c + g * cg + ci
            for (let d = 0; d < sd; d++) xo = xo * s.xs[d]! + xi[d]!
            let wo = o * cg + ci
            for (let d = 0; d < sd; d++) wo = wo * s.ks[d]! + ti[d]!
            acc += x[xo]! * w[wo]!
          }
        out.push(acc)
      }
  return { shape: [s.n, s.o, ...os], data: out }
}

const arbSpec: fc.Arbitrary<Spec> = fc
  .record({
    sd: fc.integer({ min: 1, max: 3 }),
    n: fc.integer({ min: 1, max: 2 }),
    cg: fc.integer({ min: 1, max: 3 }),
    og: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 2 }),
    dims: fc.array(fc.record({ x: fc.integer({ min: 1, max: 6 }), k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 3 }), d: fc.integer({ min: 1, max: 2 }), lo: fc.integer({ min: 0, max: 2 }), hi: fc.integer({ min: 0, max: 2 }) }), { minLength: 3, maxLength: 3 })
  })
  .map(({ sd, n, cg, og, groups, dims }) => {
    const ds = dims.slice(0, sd).map((d) => ({ ...d, x: Math.max(d.x, (d.k - 1) * d.d + 1 - d.lo - d.hi) }))
    return {
      n,
      c: cg * groups,
      o: og * groups,
      groups,
      xs: ds.map((d) => d.x),
      ks: ds.map((d) => d.k),
      strides: ds.map((d) => d.s),
      padding: ds.map((d) => [d.lo, d.hi] as const),
      dilation: ds.map((d) => d.d)
    }
  })

const tensors = (s: Spec, seed: number) => ({
  x: random(seed, [s.n, s.c, ...s.xs]),
  w: random(seed + 1, [s.o, s.c / s.groups, ...s.ks])
})
const optionsOf = (s: Spec) => ({ strides: s.strides, padding: s.padding, dilation: s.dilation, groups: s.groups })

describe("conv against a direct float64 reference", () => {
  it("random shapes, strides, padding, dilation, groups (1 to 3 spatial axes)", () =>
    fc.assert(
      fc.asyncProperty(arbSpec, fc.integer(), async (s, seed) => {
        const { x, w } = tensors(s, seed)
        const want = refConv(await data(x), await data(w), s)
        await expectClose(Tensor.conv(x, w, optionsOf(s)), want.data, 1e-12, want.shape)
      }),
      { numRuns: 40 }
    ))

  it("float32 matches float64 within float32 rounding; data-last form; SAME keeps ⌈n / s⌉", async () => {
    const x = random(1, [2, 3, 9, 8]), w = random(2, [5, 3, 3, 3])
    const y64 = Tensor.conv(x, w, { padding: "SAME", strides: 2 })
    expect(y64.shape).toEqual([2, 5, 5, 4])
    const y32 = Tensor.conv(Tensor.cast(x, "float32"), Tensor.cast(w, "float32"), { padding: "SAME", strides: 2 })
    expect(y32.dtype).toBe("float32")
    await expectClose(Tensor.cast(y32, "float64"), y64, 1e-5)
    await expectClose(x.pipe(Tensor.conv(w, { padding: "SAME", strides: 2 })), y64, 0)
  })
})

describe("conv derivatives", () => {
  it("checkGrads order 2, fwd and rev, on random specs", () =>
    fc.assert(
      fc.asyncProperty(arbSpec, fc.integer(), async (s, seed) => {
        const { x, w } = tensors(s, seed)
        await run(checkGrads((a: T, b: T) => Tensor.conv(a, b, optionsOf(s)), [x, w], { order: 2, rtol: 1e-5, atol: 1e-6 }))
      }),
      { numRuns: 12 }
    ))

  it("maxPool and avgPool: checkGrads order 2 (distinct values, so no ties)", async () => {
    const vals = Array.from({ length: 2 * 2 * 5 * 6 }, (_, i) => ((i * 37) % 120) / 10 - 6)
    const x = Tensor.make(Float64Array.from(vals), { shape: [2, 2, 5, 6], dtype: "float64" })
    await run(checkGrads((a: T) => Tensor.maxPool(a, [2, 3], { strides: [2, 1], padding: "SAME" }), [x], { order: 2 }))
    await run(checkGrads((a: T) => Tensor.avgPool(a, [3, 2], { strides: 2, padding: [[1, 1], [0, 1]] }), [x], { order: 2 }))
  })

  it("a Hessian-vector product through a conv → tanh → avgPool → conv net equals central differences of its gradient", async () => {
    const x = random(3, [2, 2, 6, 6])
    const w1 = random(4, [3, 2, 3, 3]), w2 = random(5, [1, 3, 2, 2])
    const loss = (w: T) => Tensor.sum(Tensor.square(Tensor.conv(Tensor.avgPool(Tensor.tanh(Tensor.conv(x, w, { padding: "SAME" })), 2, { strides: 2 }), w2)))
    const v = random(6, w1.shape)
    const [, hv] = await run(jvp(grad(loss), [w1], [v]))
    const eps = 1e-5
    const gp = await run(grad(loss)(Tensor.add(w1, Tensor.mul(v, eps))))
    const gm = await run(grad(loss)(Tensor.sub(w1, Tensor.mul(v, eps))))
    await expectClose(hv as T, Tensor.div(Tensor.sub(gp, gm), 2 * eps), 1e-6)
  })
})

describe("conv under vmap", () => {
  const x = random(7, [2, 4, 5, 5])
  const ws = random(8, [3, 6, 2, 3, 3]) // a batch of 3 kernels, groups 2
  const xs = random(9, [3, 2, 4, 5, 5])
  const opts = { groups: 2, padding: "SAME" as const, strides: [1, 2] }
  const each = async (f: (i: number) => T, n: number) => Promise.all(Array.from({ length: n }, (_, i) => data(f(i)))).then((ds) => ds.flat())
  const at = (t: T, i: number) => Tensor.reshape(Tensor.slice(t, t.shape.map((_, d) => (d === 0 ? i : 0)), t.shape.map((s, d) => (d === 0 ? i + 1 : s))), t.shape.slice(1))
  it("over a batch of kernels, of inputs, and of both, equals one call per entry", async () => {
    const byKernel = await run(vmap((w: T) => Tensor.conv(x, w, opts))(ws))
    await expectClose(byKernel, await each((i) => Tensor.conv(x, at(ws, i), opts), 3), 1e-12, byKernel.shape)
    const byInput = await run(vmap((xi: T) => Tensor.conv(xi, at(ws, 0), opts))(xs))
    await expectClose(byInput, await each((i) => Tensor.conv(at(xs, i), at(ws, 0), opts), 3), 1e-12, byInput.shape)
    const both = await run(vmap((xi: T, w: T) => Tensor.conv(xi, w, opts))(xs, ws))
    await expectClose(both, await each((i) => Tensor.conv(at(xs, i), at(ws, i), opts), 3), 1e-12, both.shape)
    // per-example gradients of a conv layer
    const pe = await run(vmap((xi: T) => grad((w: T) => Tensor.sum(Tensor.square(Tensor.conv(Tensor.expandDims(xi, 0), w, opts))))(at(ws, 0)))(at(xs, 0)))
    expect(pe.shape).toEqual([2, 6, 2, 3, 3])
  })
})

// ------------------------------------------------------------------ PyTorch

interface JsonArray {
  readonly shape: ReadonlyArray<number>
  readonly data: ReadonlyArray<number>
}
interface Case {
  readonly name: string
  readonly op: "conv" | "maxPool" | "avgPool"
  readonly options: Record<string, any>
  readonly inputs: Record<string, JsonArray>
  readonly c: JsonArray
  readonly outputs: Record<string, JsonArray>
}
const fixture = JSON.parse(readFileSync(fileURLToPath(new URL("../fixtures/torch_conv.json", import.meta.url)), "utf8")) as { meta: { source: string }; cases: ReadonlyArray<Case> }
const tensorOf = (j: JsonArray): T => Tensor.make(Float64Array.from(j.data), { shape: j.shape, dtype: "float64" })

describe("conv and pooling against PyTorch (float64 fixtures)", () => {
  it("the fixture is PyTorch's", () => expect(fixture.meta.source).toBe("torch"))
  for (const c of fixture.cases)
    it(c.name, async () => {
      const x = tensorOf(c.inputs.x!)
      const weight = tensorOf(c.c)
      const o = c.options
      if (c.op === "conv") {
        const w = tensorOf(c.inputs.w!)
        const f = (a: T, b: T) => Tensor.conv(a, b, { strides: o.strides, padding: o.padding, dilation: o.dilation, groups: o.groups })
        await expectClose(f(x, w), tensorOf(c.outputs.y!), 1e-12)
        const [gx, gw] = await run(grad((a: T, b: T) => Tensor.sum(Tensor.mul(f(a, b), weight)), { argnums: [0, 1] })(x, w))
        await expectClose(gx, tensorOf(c.outputs.grad_x!), 1e-12)
        await expectClose(gw, tensorOf(c.outputs.grad_w!), 1e-12)
      } else {
        const op = c.op === "maxPool" ? Tensor.maxPool : Tensor.avgPool
        const f = (a: T) => op(a, o.window, { strides: o.strides, padding: o.padding })
        await expectClose(f(x), tensorOf(c.outputs.y!), 1e-12)
        await expectClose(await run(grad((a: T) => Tensor.sum(Tensor.mul(f(a), weight)))(x)), tensorOf(c.outputs.grad_x!), 1e-12)
      }
    })
})

// ------------------------------------------------------------------ bad input

const failure = async (t: T) => {
  const e = await Effect.runPromise(Effect.flip(Tensor.data(t)))
  return { tag: e._tag, message: e.message }
}

describe("conv bad input: typed failures naming shapes and dtypes", () => {
  it("mismatched channels, a kernel larger than the padded input, bad groups and ranks are ShapeErrors", async () => {
    const x = Tensor.ones([1, 3, 4, 4])
    let f = await failure(Tensor.conv(x, Tensor.ones([2, 2, 3, 3])))
    expect(f.tag).toBe("ShapeError")
    expect(f.message).toContain("x has 3 channels")
    expect(f.message).toContain("float32 [1, 3, 4, 4]")
    expect(f.message).toContain("float32 [2, 2, 3, 3]")
    f = await failure(Tensor.conv(x, Tensor.ones([2, 3, 5, 3])))
    expect(f.tag).toBe("ShapeError")
    expect(f.message).toMatch(/larger than the padded input/)
    expect((await failure(Tensor.conv(x, Tensor.ones([3, 1, 3, 3]), { groups: 2 }))).tag).toBe("ShapeError")
    expect((await failure(Tensor.conv(Tensor.ones([3, 4]), Tensor.ones([3, 4])))).tag).toBe("ShapeError")
    expect((await failure(Tensor.conv(x, Tensor.ones([2, 3, 3, 3]), { strides: 0 }))).tag).toBe("ShapeError")
    expect((await failure(Tensor.conv(x, Tensor.ones([2, 3, 3, 3]), { padding: "FULL" as "SAME" }))).tag).toBe("ShapeError")
    expect((await failure(Tensor.maxPool(x, [5, 5]))).message).toMatch(/maxPool: the window \(5\) is larger than the padded input \(4\)/)
    expect((await failure(Tensor.conv(x, "w" as unknown as T))).tag).toBe("DTypeError")
  })
})
