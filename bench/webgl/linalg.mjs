// `node bench/webgl/run.mjs --linalg`: the WebGL backend's linear-algebra
// shaders (cholesky, LU + triangular solves, float32, one draw per step)
// against its host path (`linalgOnHost: true`: operands read back, the CPU
// backend's float64 kernels, the result uploaded) in the same page, called
// alternately, one call of each per round. Inputs are made on the GPU (an
// upload above the host threshold) and every result is read back, as a
// program that keeps its tensors on the GPU would. Results are checked
// against float64 references computed here.
import { Linalg, Tensor } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import { Effect, ManagedRuntime } from "effect"
import { median, solveReference, uniform } from "../common.mjs"

export const linalgWorkloads = [
  { id: "cholesky64", label: "cholesky 64×64", n: 64 },
  { id: "cholesky256", label: "cholesky 256×256", n: 256 },
  { id: "solve64", label: "solve 64×64 (LU, 1 rhs)", n: 64 },
  { id: "solve256", label: "solve 256×256 (LU, 1 rhs)", n: 256 },
  { id: "choleskyBatch", label: "cholesky of 64 matrices 16×16", n: 16, batch: 64 }
]

const inputsOf = (w) => {
  const { n } = w
  const batch = w.batch ?? 1
  if (w.id.startsWith("solve")) {
    const a = uniform(51 + n, n * n)
    for (let i = 0; i < n; i++) a[i * n + i] += 2 * Math.sqrt(n) // well conditioned
    return { n, batch, a, b: uniform(52 + n, n) }
  }
  // m mᵀ / n + I, symmetric positive-definite
  const a = new Float32Array(batch * n * n)
  for (let q = 0; q < batch; q++) {
    const m = uniform(53 + n + q, n * n)
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let s = i === j ? 1 : 0
        for (let p = 0; p < n; p++) s += (m[i * n + p] * m[j * n + p]) / n
        a[q * n * n + i * n + j] = s
        a[q * n * n + j * n + i] = s
      }
  }
  return { n, batch, a }
}

/** float64 references: Cholesky–Banachiewicz, and Gaussian elimination with partial pivoting. */
const referenceOf = (w, I) => {
  const { n, batch } = I
  if (w.id.startsWith("solve")) {
    return solveReference(I.a, I.b, n)
  }
  const l = new Float64Array(batch * n * n)
  for (let q = 0; q < batch; q++) {
    const o = q * n * n
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let s = I.a[o + i * n + j]
        for (let p = 0; p < j; p++) s -= l[o + i * n + p] * l[o + j * n + p]
        l[o + i * n + j] = i === j ? Math.sqrt(s) : s / l[o + j * n + j]
      }
  }
  return l
}

/** max |got − want| / (1 + max |want|). */
const errorOf = (got, want) => {
  let e = 0, m = 0
  for (let i = 0; i < want.length; i++) {
    e = Math.max(e, Math.abs(got[i] - want[i]))
    m = Math.max(m, Math.abs(want[i]))
  }
  return e / (1 + m)
}

export const runLinalgBench = async ({ ids, minReps = 5, minMs = 1500, mtw }) => {
  const libs = [
    ["diffect-webgl", ManagedRuntime.make(WebGLBackend.layer({ ...(mtw ? { maxTextureWidth: mtw } : {}) }))],
    ["diffect-webgl-host", ManagedRuntime.make(WebGLBackend.layer({ ...(mtw ? { maxTextureWidth: mtw } : {}), linalgOnHost: true }))]
  ]
  for (const [, rt] of libs) await rt.runPromise(Effect.void)
  const rows = []
  for (const w of linalgWorkloads.filter((w) => ids.includes(w.id))) {
    const I = inputsOf(w)
    const want = referenceOf(w, I)
    const row = { id: w.id, label: w.label, results: {} }
    const fns = libs.map(([name, rt]) => {
      const shape = I.batch > 1 ? [I.batch, I.n, I.n] : [I.n, I.n]
      const a = Tensor.make(I.a, { shape })
      const out = w.id.startsWith("solve") ? () => Linalg.solve(a, Tensor.make(I.b, { shape: [I.n] })) : () => Linalg.cholesky(a)
      return [name, () => rt.runPromise(Tensor.data(out()))]
    })
    const times = Object.fromEntries(fns.map(([name]) => [name, []]))
    const last = {}
    const first = {}
    // first calls (compilation), then rounds of one call each, alternating
    for (const [name, fn] of fns) {
      const t0 = performance.now()
      last[name] = await fn()
      first[name] = performance.now() - t0
    }
    const start = performance.now()
    for (let r = 0; r < 200 && (r < minReps || performance.now() - start < minMs * fns.length); r++)
      for (const [name, fn] of r % 2 === 0 ? fns : [...fns].reverse()) {
        const t0 = performance.now()
        last[name] = await fn()
        times[name].push(performance.now() - t0)
      }
    for (const [name] of fns) {
      const err = errorOf(last[name], want)
      row.results[name] = { first: first[name], median: median(times[name]), reps: times[name].length, ok: err < 2e-3, err, why: `error ${err.toExponential(2)}` }
    }
    rows.push(row)
  }
  for (const [, rt] of libs) await rt.dispose()
  return { rows }
}
