/**
 * The ops of issue 14 against PyTorch float64 (test/fixtures/torch_ops.json,
 * from test/fixtures/generate_torch_ops.py): values, and the gradient of
 * sum(out · w) for each differentiable one.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { readFileSync } from "node:fs"
import { Tensor } from "@diffect/core"
import { grad } from "@diffect/transforms"

type T = Tensor.Tensor
interface Arr {
  readonly shape: number[]
  readonly data: number[]
  readonly dtype?: "int32"
}
interface Case {
  readonly name: string
  readonly params: Record<string, any>
  readonly inputs: Arr[]
  readonly output: Arr
  readonly w?: Arr
  readonly grads?: Arr[]
}

const fixture = JSON.parse(readFileSync(new URL("../fixtures/torch_ops.json", import.meta.url), "utf8")) as { cases: Case[] }
const toT = (a: Arr): T => Tensor.make(a.dtype === "int32" ? Int32Array.from(a.data) : Float64Array.from(a.data), { shape: a.shape, dtype: a.dtype ?? "float64" })

const ops: Record<string, (xs: T[], p: Record<string, any>) => T> = {
  tan: ([x]) => Tensor.tan(x!), asin: ([x]) => Tensor.asin(x!), acos: ([x]) => Tensor.acos(x!), atan: ([x]) => Tensor.atan(x!),
  sinh: ([x]) => Tensor.sinh(x!), cosh: ([x]) => Tensor.cosh(x!), asinh: ([x]) => Tensor.asinh(x!), acosh: ([x]) => Tensor.acosh(x!),
  atanh: ([x]) => Tensor.atanh(x!), erf: ([x]) => Tensor.erf(x!), softplus: ([x]) => Tensor.softplus(x!),
  logSigmoid: ([x]) => Tensor.logSigmoid(x!), gelu: ([x]) => Tensor.gelu(x!), geluExact: ([x]) => Tensor.gelu(x!, { approximate: false }),
  silu: ([x]) => Tensor.silu(x!), elu: ([x]) => Tensor.elu(x!), leakyRelu: ([x]) => Tensor.leakyRelu(x!),
  floor: ([x]) => Tensor.floor(x!), ceil: ([x]) => Tensor.ceil(x!), round: ([x]) => Tensor.round(x!),
  atan2: ([a, b]) => Tensor.atan2(a!, b!), logaddexp: ([a, b]) => Tensor.logaddexp(a!, b!), mod: ([a, b]) => Tensor.mod(a!, b!),
  clip: ([x]) => Tensor.clip(x!, -1, 0.5),
  prod: ([x]) => Tensor.prod(x!), prodAxis1: ([x], p) => Tensor.prod(x!, p), variance: ([x], p) => Tensor.variance(x!, p),
  std: ([x], p) => Tensor.std(x!, p), norm2: ([x]) => Tensor.norm(x!), norm1: ([x], p) => Tensor.norm(x!, p), normInf: ([x], p) => Tensor.norm(x!, p),
  argmax: ([x], p) => Tensor.argmax(x!, p), argmin: ([x], p) => Tensor.argmin(x!, p),
  cumsum: ([x], p) => Tensor.cumsum(x!, p), cumprod: ([x], p) => Tensor.cumprod(x!, p), logcumsumexp: ([x], p) => Tensor.logcumsumexp(x!, p),
  take: ([x, i], p) => Tensor.take(x!, i!, p), indexAdd: ([x, i, u], p) => Tensor.indexAdd(x!, i!, u!, p),
  takeAlongAxis: ([x, i], p) => Tensor.takeAlongAxis(x!, i!, p.axis),
  sort: ([x], p) => Tensor.sort(x!, p), sortDescending: ([x], p) => Tensor.sort(x!, p), argsort: ([x], p) => Tensor.argsort(x!, p),
  topkValues: ([x], p) => Tensor.topk(x!, p.k)[0], topkIndices: ([x], p) => Tensor.topk(x!, p.k)[1],
  einsumBatchMatmul: (xs, p) => Tensor.einsum(p.spec, ...xs), einsumTrace: (xs, p) => Tensor.einsum(p.spec, ...xs),
  einsumOuterSum: (xs, p) => Tensor.einsum(p.spec, ...xs), einsumImplicit: (xs, p) => Tensor.einsum(p.spec, ...xs),
  einsumEllipsis: (xs, p) => Tensor.einsum(p.spec, ...xs),
  flip: ([x]) => Tensor.flip(x!, [0, 1]), tile: ([x], p) => Tensor.tile(x!, p.reps), triu: ([x], p) => Tensor.triu(x!, p.k),
  tril: ([x], p) => Tensor.tril(x!, p.k), pad: ([x], p) => Tensor.pad(x!, p.widths, { value: p.value })
}

const close = (got: ArrayLike<number>, want: Arr, label: string, tol = 1e-10) => {
  expect(got.length, `${label}: size`).toBe(want.data.length)
  const bad: string[] = []
  want.data.forEach((w, i) => {
    const g = got[i]!
    if (!(Math.abs(g - w) <= tol * (1 + Math.abs(w))) && bad.length < 4) bad.push(`[${i}] ${g} vs ${w}`)
  })
  expect(bad, label).toEqual([])
}

describe("the new ops against PyTorch float64", () => {
  it("has a diffect op for every fixture case", () => {
    expect(fixture.cases.map((c) => c.name).filter((n) => !(n in ops))).toEqual([])
  })
  for (const c of fixture.cases) {
    it(c.name, async () => {
      const f = ops[c.name]!
      const xs = c.inputs.map(toT)
      const out = f(xs, c.params)
      expect([...out.shape], `${c.name} shape`).toEqual(c.output.shape)
      expect(out.dtype).toBe(c.output.dtype ?? "float64")
      close(await Effect.runPromise(Tensor.data(out)) as ArrayLike<number>, c.output, `${c.name} value`)
      if (c.grads && c.w) {
        const w = toT(c.w)
        const floats = xs.map((x, i) => (x.dtype === "float64" ? i : -1)).filter((i) => i >= 0)
        const gs = await Effect.runPromise(
          grad((...fs: T[]) => {
            const all = xs.slice()
            floats.forEach((k, j) => (all[k] = fs[j]!))
            return Tensor.sum(Tensor.mul(f(all, c.params), w))
          }, { argnums: floats.map((_, j) => j) })(...floats.map((k) => xs[k]!))
        ) as T[]
        for (let j = 0; j < floats.length; j++) close(await Effect.runPromise(Tensor.data(gs[j]!)) as ArrayLike<number>, c.grads[j]!, `${c.name} grad ${j}`)
      }
    })
  }
})
