/**
 * The JAX-parity suite (run by test/parity/jax.test.ts on the CPU backend in
 * float64, and by test/browser/webgpu-parity.test.ts on WebGPU in float32).
 *
 * JAX parity: every case of test/fixtures/jax.json (written by
 * test/fixtures/generate_jax.py with JAX in float64) is recomputed by diffect
 * from the same inputs, through the public API only (`Tensor.make` in
 * float64, `grad`, `valueAndGrad`, `jacrev`, `jacfwd`, `hessian`, `vmap`,
 * state `Variable`s), and compared element by element:
 *
 * - float64: |got − jax| ≤ 1e-10·|jax| + 1e-13·max|jax of that output| (the
 *   absolute floor only absorbs entries that cancel to about 0);
 * - complex64 cases (holomorphic): diffect's complex is single precision,
 *   JAX's reference is complex128, inputs are exact in float32: rtol 1e-6
 *   + 1e-7·max|jax| (observed error ~1e-7: float32 rounding).
 *
 * A missing fixture fails (never skips). The worst relative error of each
 * case is printed at the end.
 *
 * `DIFFECT_JAX_FIXTURE=path` reads another file, e.g. the closed-form numpy
 * numbers of `generate_jax.py --numpy-reference` for checking this suite
 * where JAX is not installed; only a `"source": "jax"` file is accepted at
 * the default path.
 */
import { Cause, Effect, Exit, type Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Backend, CpuBackend, Tensor, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, valueAndGrad, vmap } from "@diffect/transforms"

// ------------------------------------------------------------------ the fixture

interface RealArray {
  readonly shape: ReadonlyArray<number>
  readonly data: ReadonlyArray<number>
}
interface ComplexArray {
  readonly shape: ReadonlyArray<number>
  readonly re: ReadonlyArray<number>
  readonly im: ReadonlyArray<number>
}
type JsonArray = RealArray | ComplexArray
interface Case {
  readonly name: string
  readonly doc?: string
  readonly inputs: Readonly<Record<string, JsonArray>>
  readonly outputs?: Readonly<Record<string, JsonArray>>
  readonly crosscheck_numpy?: number | string
}
export interface Fixture {
  readonly meta: { readonly source?: string; readonly jax?: string; readonly backend?: string; readonly [k: string]: unknown }
  readonly cases: ReadonlyArray<Case>
}

/** The fixture, or why there is none (a missing fixture fails, never skips). */
export type Loaded = { readonly fixture: Fixture } | { readonly error: string }

export const GENERATE = "JAX_PLATFORMS=cpu python3 test/fixtures/generate_jax.py   (on a machine with numpy + jax; it writes test/fixtures/jax.json)"

/** Checks a parsed fixture: cases with outputs, and JAX's numbers at the default path. */
export const validate = (fixture: Fixture, path: string, isDefault: boolean): Loaded => {
  if (!Array.isArray(fixture.cases) || fixture.cases.length === 0) return { error: `JAX parity fixture ${path} has no cases; regenerate it with:\n  ${GENERATE}` }
  const source = fixture.meta?.source
  if (source === "dry-run" || fixture.cases.some((c) => c.outputs === undefined))
    return { error: `JAX parity fixture ${path} holds inputs only (generate_jax.py --dry-run); run it without --dry-run:\n  ${GENERATE}` }
  if (isDefault && source !== "jax")
    return { error: `${path} says "source": ${JSON.stringify(source)}, not "jax": only JAX's numbers belong there. Regenerate it with:\n  ${GENERATE}` }
  return { fixture }
}

/** The dtype real inputs are made in (the suite's), set when a suite starts. */
let REAL: "float64" | "float32" = "float64"


// ------------------------------------------------------------------ inputs

const isComplex = (a: JsonArray): a is ComplexArray => "re" in a

/** The inputs of one case as diffect tensors: float64, or complex64 for { re, im }. */
const inputsOf = (c: Case) => {
  const get = (name: string): JsonArray => {
    const a = c.inputs[name]
    if (a === undefined) throw new Error(`case ${c.name}: the fixture has no input ${name} (has ${Object.keys(c.inputs).join(", ")})`)
    return a
  }
  return {
    /** A real tensor, in the suite's dtype (float64 on the CPU). */
    f64: (name: string): Tensor.Tensor => {
      const a = get(name)
      if (isComplex(a)) throw new Error(`case ${c.name}: input ${name} is complex`)
      return Tensor.make(Float64Array.from(a.data), { shape: a.shape, dtype: REAL })
    },
    /** A complex64 tensor. */
    c64: (name: string): Tensor.Tensor => {
      const a = get(name)
      if (!isComplex(a)) throw new Error(`case ${c.name}: input ${name} is not complex`)
      return Tensor.make({ re: Float64Array.from(a.re), im: Float64Array.from(a.im) }, { shape: a.shape, dtype: "complex64" })
    },
    /** The raw numbers (real part) of an input. */
    numbers: (name: string): ReadonlyArray<number> => {
      const a = get(name)
      return isComplex(a) ? a.re : a.data
    },
    complexNumbers: (name: string): ComplexArray => {
      const a = get(name)
      if (!isComplex(a)) throw new Error(`case ${c.name}: input ${name} is not complex`)
      return a
    }
  }
}
type Inputs = ReturnType<typeof inputsOf>

// ------------------------------------------------------------------ the cases in diffect

/**
 * Each runner computes a case's outputs. A key `out` is compared with the
 * fixture's output `out`; `out@how` is another way of computing the same
 * output (another transform, Variables instead of arguments...), compared
 * with the same numbers.
 */
type Outputs = Record<string, Tensor.Tensor>
// R is `unknown`: a transform of a function returning a plain tensor leaves
// its error and context types uninferred; the runners need no services.
type Runner = (i: Inputs) => Effect.Effect<Outputs, unknown, unknown>

const T = Tensor

/** Scalars computed one by one, as one tensor of the suite's dtype. */
const stack = (xs: ReadonlyArray<number>): Tensor.Tensor => T.make(Float64Array.from(xs), { shape: [xs.length], dtype: REAL })

const sigmoidCase: Runner = (i) =>
  Effect.gen(function* () {
    const x = i.f64("x")
    return { value: T.sigmoid(x), grad: yield* grad((x: Tensor.Tensor) => T.sum(T.sigmoid(x)))(x) }
  })

const RUNNERS: Record<string, Runner> = {
  mlp_softmax_xent: (i) =>
    Effect.gen(function* () {
      const [x, y] = [i.f64("x"), i.f64("y")]
      const loss = (W1: Tensor.Tensor, b1: Tensor.Tensor, W2: Tensor.Tensor, b2: Tensor.Tensor, x: Tensor.Tensor, y: Tensor.Tensor) => {
        const h = T.tanh(T.add(T.matmul(x, W1), b1))
        const z = T.add(T.matmul(h, W2), b2)
        return T.neg(T.mean(T.sum(T.mul(y, T.logSoftmax(z, { axis: -1 })), { axis: -1 })))
      }
      const [value, [W1, b1, W2, b2]] = yield* valueAndGrad(loss, { argnums: [0, 1, 2, 3] })(i.f64("W1"), i.f64("b1"), i.f64("W2"), i.f64("b2"), x, y)
      // the same loss with the parameters as state Variables
      const params = {
        W1: yield* Variable.make(i.f64("W1")),
        b1: yield* Variable.make(i.f64("b1")),
        W2: yield* Variable.make(i.f64("W2")),
        b2: yield* Variable.make(i.f64("b2"))
      }
      const stateLoss = (x: Tensor.Tensor, y: Tensor.Tensor) =>
        Effect.gen(function* () {
          return loss(yield* Variable.get(params.W1), yield* Variable.get(params.b1), yield* Variable.get(params.W2), yield* Variable.get(params.b2), x, y)
        })
      const [vValue, g] = yield* valueAndGrad(stateLoss, { gradVars: params })(x, y)
      return { value, W1, b1, W2, b2, "value@gradVars": vValue, "W1@gradVars": g.W1, "b1@gradVars": g.b1, "W2@gradVars": g.W2, "b2@gradVars": g.b2 }
    }),

  hessian_logsumexp: (i) =>
    Effect.gen(function* () {
      const x = i.f64("x")
      const lse = (x: Tensor.Tensor) => T.logsumexp(x)
      return {
        value: lse(x),
        grad: yield* grad(lse)(x),
        hessian: yield* hessian(lse)(x),
        "hessian@jacrev(grad)": yield* jacrev(grad(lse))(x),
        "hessian@jacfwd(grad)": yield* jacfwd(grad(lse))(x)
      }
    }),

  jacobian_tanh_Ax: (i) =>
    Effect.gen(function* () {
      const [A, x] = [i.f64("A"), i.f64("x")]
      const f = (A: Tensor.Tensor, x: Tensor.Tensor) => T.tanh(T.matmul(A, x))
      return {
        value: f(A, x),
        jacrev_x: yield* jacrev(f, { argnums: 1 })(A, x),
        jacfwd_x: yield* jacfwd(f, { argnums: 1 })(A, x),
        jacrev_A: yield* jacrev(f, { argnums: 0 })(A, x),
        jacfwd_A: yield* jacfwd(f, { argnums: 0 })(A, x)
      }
    }),

  vmap_per_example_grads: (i) =>
    Effect.gen(function* () {
      const args = [i.f64("w"), i.f64("b"), i.f64("X"), i.f64("Y")] as const
      const f = (w: Tensor.Tensor, b: Tensor.Tensor, x: Tensor.Tensor, y: Tensor.Tensor) => T.mul(0.5, T.pow(T.sub(T.add(T.matmul(x, w), b), y), 2))
      const [gw, gb] = yield* vmap(grad(f, { argnums: [0, 1] }), { inAxes: [null, null, 0, 0] })(...args)
      return { losses: yield* vmap(f, { inAxes: [null, null, 0, 0] })(...args), grad_w: gw, grad_b: gb }
    }),

  third_derivative_sin_x2: (i) =>
    Effect.gen(function* () {
      const f = (x: Tensor.Tensor) => T.mul(T.sin(x), T.pow(x, 2))
      const d1 = grad(f)
      const d2 = grad(d1)
      const d3 = grad(d2)
      const out: Record<"d1" | "d2" | "d3", number[]> = { d1: [], d2: [], d3: [] }
      for (const v of i.numbers("x")) {
        const x = T.make(v, { dtype: REAL })
        out.d1.push(yield* T.item(yield* d1(x)))
        out.d2.push(yield* T.item(yield* d2(x)))
        out.d3.push(yield* T.item(yield* d3(x)))
      }
      const xs = i.f64("x")
      return { value: f(xs), d1: stack(out.d1), d2: stack(out.d2), d3: stack(out.d3), "d3@vmap": yield* vmap(d3)(xs) }
    }),

  max_axis: (i) =>
    Effect.gen(function* () {
      const [x, w, v] = [i.f64("x"), i.f64("w"), i.f64("v")]
      const f1 = (x: Tensor.Tensor, w: Tensor.Tensor) => T.sum(T.mul(w, T.max(x, { axis: 1 })))
      const f2 = (x: Tensor.Tensor, v: Tensor.Tensor) => T.sum(T.mul(v, T.max(x, { axis: 0, keepdims: true })))
      return {
        value_axis1: f1(x, w),
        grad_axis1: yield* grad(f1)(x, w),
        value_axis0_keepdims: f2(x, v),
        grad_axis0_keepdims: yield* grad(f2)(x, v)
      }
    }),

  mean_axes: (i) =>
    Effect.gen(function* () {
      const x = i.f64("x")
      const f = (x: Tensor.Tensor) => T.add(T.sum(T.sin(T.mean(x, { axis: [0, 2] }))), T.mean(T.mul(x, x)))
      return { value: f(x), grad: yield* grad(f)(x) }
    }),

  where: (i) =>
    Effect.gen(function* () {
      const x = i.f64("x")
      const f = (x: Tensor.Tensor) => T.sum(T.where(T.greater(x, 0), T.mul(T.sin(x), x), T.sub(T.mul(T.mul(0.5, x), x), x)))
      return { value: f(x), grad: yield* grad(f)(x) }
    }),

  slice_concat: (i) =>
    Effect.gen(function* () {
      const [x, W] = [i.f64("x"), i.f64("W")]
      const f = (x: Tensor.Tensor, W: Tensor.Tensor) => {
        const c = T.concat([T.mul(2, T.slice(x, [1, 0], [3, 5])), T.sin(T.slice(x, [2, 0], [4, 5]))], 0)
        const d = T.concat([T.slice(x, [0, 0], [4, 2]), T.slice(x, [0, 3], [4, 5])], 1)
        return T.add(T.sum(T.mul(T.mul(c, c), W)), T.sum(T.mul(d, T.slice(x, [0, 1], [4, 5]))))
      }
      return { value: f(x, W), grad: yield* grad(f)(x, W) }
    }),

  transpose_rank3: (i) =>
    Effect.gen(function* () {
      const [x, W] = [i.f64("x"), i.f64("W")]
      const f = (x: Tensor.Tensor, W: Tensor.Tensor) => T.sum(T.mul(T.sin(T.transpose(x, [2, 0, 1])), W))
      return { value: f(x, W), grad: yield* grad(f)(x, W) }
    }),

  broadcast_add: (i) =>
    Effect.gen(function* () {
      const [a, b] = [i.f64("a"), i.f64("b")]
      const f = (a: Tensor.Tensor, b: Tensor.Tensor) => T.sum(T.square(T.add(a, b)))
      const [ga, gb] = yield* grad(f, { argnums: [0, 1] })(a, b)
      return { value: f(a, b), grad_a: ga, grad_b: gb }
    }),

  softmax_axis0: (i) =>
    Effect.gen(function* () {
      const [x, w] = [i.f64("x"), i.f64("w")]
      const f = (x: Tensor.Tensor, w: Tensor.Tensor) => T.sum(T.mul(T.softmax(x, { axis: 0 }), w))
      return { softmax: T.softmax(x, { axis: 0 }), value: f(x, w), grad: yield* grad(f)(x, w) }
    }),

  pow: (i) =>
    Effect.gen(function* () {
      const [x, p] = [i.f64("x"), i.f64("p")]
      const f = (x: Tensor.Tensor, p: Tensor.Tensor) => T.sum(T.pow(x, p))
      const [gx, gp] = yield* grad(f, { argnums: [0, 1] })(x, p)
      return {
        value: f(x, p),
        grad_x: gx,
        grad_p: gp,
        grad_x_scalar_exponent: yield* grad((x: Tensor.Tensor) => T.sum(T.pow(x, 2.5)))(x)
      }
    }),

  logsumexp_large: (i) =>
    Effect.gen(function* () {
      const [x, X, c] = [i.f64("x"), i.f64("X"), i.f64("c")]
      const lse = (x: Tensor.Tensor) => T.logsumexp(x)
      const g = (X: Tensor.Tensor, c: Tensor.Tensor) => T.sum(T.mul(c, T.logsumexp(X, { axis: 1 })))
      return {
        value: lse(x),
        grad: yield* grad(lse)(x),
        hessian: yield* hessian(lse)(x),
        value_axis1: g(X, c),
        grad_axis1: yield* grad(g)(X, c)
      }
    }),

  sigmoid_neg: sigmoidCase,
  sigmoid_pos: sigmoidCase,

  holomorphic_grad: (i) =>
    Effect.gen(function* () {
      const f = (z: Tensor.Tensor) => T.add(T.pow(z, 2), T.sin(z))
      const df = grad(f, { holomorphic: true })
      const zs = i.complexNumbers("z")
      const re: number[] = [], im: number[] = []
      for (let k = 0; k < zs.re.length; k++) {
        const z = T.make({ re: [zs.re[k]!], im: [zs.im[k]!] }, { shape: [], dtype: "complex64" })
        const d = yield* T.data(yield* df(z))
        re.push(d[0]!)
        im.push(d[1]!)
      }
      const z = i.c64("z")
      return {
        value: f(z),
        grad: T.make({ re, im }, { shape: [re.length], dtype: "complex64" }),
        "grad@vmap": yield* vmap(df)(z)
      }
    }),

  holomorphic_jacobian: (i) =>
    Effect.gen(function* () {
      const z = i.c64("z")
      const g = (z: Tensor.Tensor) =>
        T.concat([T.mul(T.slice(z, [0], [1]), T.slice(z, [1], [2])), T.add(T.sin(T.slice(z, [1], [3])), T.pow(T.slice(z, [0], [2]), 2))], 0)
      return {
        value: g(z),
        jacfwd: yield* jacfwd(g, { holomorphic: true })(z),
        jacrev: yield* jacrev(g, { holomorphic: true })(z)
      }
    })
}

// ------------------------------------------------------------------ comparison

export interface Tol {
  /** relative to each expected element */
  readonly rtol: number
  /** absolute, as a fraction of the largest |expected| of the output */
  readonly atolScale: number
}
const FLOAT64: Tol = { rtol: 1e-10, atolScale: 1e-13 }
/** float32 computations of float64 inputs rounded to float32: a few ulps of float32 times the cases' conditioning. */
export const FLOAT32: Tol = { rtol: 2e-4, atolScale: 1e-5 }
const COMPLEX64: Tol = { rtol: 1e-6, atolScale: 1e-7 }

/**
 * Per-case tolerances, where the default does not fit (explained each time).
 * `sigmoid_neg`: the tail (σ(−50) ≈ 1.9e-22 and its derivative) must be right
 * relatively, so no absolute floor. (`sigmoid_pos` keeps the floor: JAX
 * differentiates σ as s·(1 − s), which is exactly 0 at x = 50 and only good
 * to ~1e-8 relatively at x = 20, while the true derivative there is tiny.)
 */
const TOLERANCES: Record<string, Tol> = {
  sigmoid_neg: { rtol: 1e-10, atolScale: 0 }
}

/** Elements as complex pairs (im = 0 for reals). */
const expectedParts = (a: JsonArray): { re: ReadonlyArray<number>; im: ReadonlyArray<number> } =>
  isComplex(a) ? a : { re: a.data, im: a.data.map(() => 0) }

interface Stats {
  readonly case: string
  readonly output: string
  /** max |got − jax| / |jax| over elements where jax ≠ 0 */
  readonly maxRel: number
  /** max |got| where jax is exactly 0 */
  readonly maxAbsAtZero: number
  /** max |got − jax| / tolerance (≤ 1 passes) */
  readonly worstRatio: number
  readonly failures: ReadonlyArray<string>
}

const compare = async (
  read: (t: Tensor.Tensor) => Promise<ArrayLike<number>>,
  caseName: string,
  key: string,
  got: Tensor.Tensor,
  want: JsonArray,
  tol: Tol
): Promise<Stats> => {
  const complex = isComplex(want)
  expect(got, `${caseName}.${key} is a Tensor`).toBeInstanceOf(Tensor.Tensor)
  expect(got.dtype, `${caseName}.${key} dtype`).toBe(complex ? "complex64" : REAL)
  expect([...got.shape], `${caseName}.${key} shape`).toEqual([...want.shape])
  const data = await read(got)
  const e = expectedParts(want)
  const n = e.re.length
  expect(data.length, `${caseName}.${key} length`).toBe(complex ? 2 * n : n)
  let scale = 0
  for (let k = 0; k < n; k++) scale = Math.max(scale, Math.hypot(e.re[k]!, e.im[k]!))
  const atol = tol.atolScale * scale
  let maxRel = 0, maxAbsAtZero = 0, worstRatio = 0
  const failures: string[] = []
  for (let k = 0; k < n; k++) {
    const gRe = complex ? data[2 * k]! : data[k]!
    const gIm = complex ? data[2 * k + 1]! : 0
    const mag = Math.hypot(e.re[k]!, e.im[k]!)
    const err = Math.hypot(gRe - e.re[k]!, gIm - e.im[k]!)
    const bound = tol.rtol * mag + atol
    const ok = Number.isFinite(err) && err <= bound
    const ratio = !Number.isFinite(err) ? Infinity : bound > 0 ? err / bound : err > 0 ? Infinity : 0
    worstRatio = Math.max(worstRatio, ratio)
    if (mag > 0) maxRel = Math.max(maxRel, Number.isFinite(err) ? err / mag : Infinity)
    else maxAbsAtZero = Math.max(maxAbsAtZero, Number.isFinite(err) ? err : Infinity)
    if (!ok && failures.length < 6) {
      const fmt = (re: number, im: number) => (complex ? `${re}${im < 0 ? "-" : "+"}${Math.abs(im)}i` : `${re}`)
      failures.push(`[${k}] diffect ${fmt(gRe, gIm)} vs jax ${fmt(e.re[k]!, e.im[k]!)} (|diff| ${err.toExponential(2)}, allowed ${bound.toExponential(2)})`)
    }
  }
  return { case: caseName, output: key, maxRel, maxAbsAtZero, worstRatio, failures }
}

// ------------------------------------------------------------------ the suite

export interface ParityOptions {
  /** The fixture as loaded (test/fixtures/jax.json), or why it is missing. */
  readonly loaded: Loaded
  /** Where it was read from (for messages). */
  readonly path: string
  /** The backend (default: the CPU's). */
  readonly layer?: Layer.Layer<never, unknown>
  /** The dtype of real inputs (default float64). */
  readonly dtype?: "float64" | "float32"
  /** The tolerance of every real case (default: float64's, or the per-case ones). */
  readonly tolerance?: Tol
  /** A suffix for the suite's title. */
  readonly title?: string
}

/**
 * Registers the JAX-parity suite: every fixture case recomputed on the
 * layer's backend and compared element by element. Cases that need a dtype
 * the backend does not support (complex64 on a GPU backend) must fail with a
 * BackendError naming it.
 */
export const jaxParitySuite = ({ loaded, path, layer = CpuBackend.layer, dtype = "float64", tolerance, title = "" }: ParityOptions): void => {
  const report: Stats[] = []
  let runtime: ManagedRuntime.ManagedRuntime<never, unknown>

  beforeAll(async () => {
    REAL = dtype
    runtime = ManagedRuntime.make(layer)
    await runtime.runPromise(Effect.void)
  })

  afterAll(async () => {
    await runtime?.dispose()
    if (report.length === 0) return
    const byCase = new Map<string, Stats[]>()
    for (const s of report) byCase.set(s.case, [...(byCase.get(s.case) ?? []), s])
    const lines = [...byCase].map(([name, ss]) => {
      const worst = ss.reduce((a, b) => (b.maxRel > a.maxRel ? b : a))
      const zero = Math.max(...ss.map((s) => s.maxAbsAtZero))
      const ratio = Math.max(...ss.map((s) => s.worstRatio))
      return `  ${name.padEnd(26)} worst rel ${worst.maxRel.toExponential(2).padStart(9)} (${worst.output})${zero > 0 ? `, |got| where jax=0: ${zero.toExponential(2)}` : ""}, ${ratio <= 1 ? "ok" : `FAIL ×${ratio.toPrecision(3)} tol`}`
    })
    console.log(`JAX parity${title} vs ${path}:\n${lines.join("\n")}`)
  })

  describe(`JAX parity (test/fixtures/jax.json)${title}`, () => {
    if ("error" in loaded) {
      it("has the fixture test/fixtures/jax.json", () => {
        throw new Error(loaded.error)
      })
      return
    }
    const { fixture } = loaded
    const meta = fixture.meta

    it("has a runner for every fixture case and a fixture case for every runner", () => {
      const inFixture = fixture.cases.map((c) => c.name).sort()
      expect(inFixture, "case names in the fixture vs in this suite").toEqual(Object.keys(RUNNERS).sort())
    })

    for (const c of fixture.cases) {
      const run = RUNNERS[c.name]
      const complexCase = [...Object.values(c.outputs ?? {}), ...Object.values(c.inputs)].some(isComplex)
      const tol = complexCase ? COMPLEX64 : (tolerance ?? TOLERANCES[c.name] ?? FLOAT64)
      it(`${c.name}: ${c.doc ?? ""} [${meta.source}${meta.jax ? ` ${meta.jax}` : ""}]`.trim(), async () => {
        REAL = dtype
        if (run === undefined) throw new Error(`no diffect runner for fixture case ${c.name}`)
        const outputs = c.outputs ?? {}
        const supports = await runtime.runPromise(Effect.map(Effect.service(Backend), (b) => b.supports))
        if (complexCase && !supports("complex64")) {
          // the backend must refuse with a typed BackendError naming the dtype
          const exit = await runtime.runPromiseExit(
            Effect.flatMap(run(inputsOf(c)) as Effect.Effect<Outputs, unknown, never>, (got) => Effect.forEach(Object.values(got), Tensor.data))
          )
          expect(Exit.isFailure(exit), "expected a failure").toBe(true)
          if (Exit.isFailure(exit)) {
            const e = Cause.squash(exit.cause) as { _tag?: string; message?: string }
            expect(e._tag).toBe("BackendError")
            expect(e.message).toContain("complex64")
          }
          return
        }
        const got = await runtime.runPromise(run(inputsOf(c)) as Effect.Effect<Outputs, unknown, never>)
        const missing = Object.keys(outputs).filter((k) => !(k in got))
        const extra = Object.keys(got).filter((k) => !(k.split("@")[0]! in outputs))
        expect({ missing, extra }, `${c.name}: outputs computed vs in the fixture`).toEqual({ missing: [], extra: [] })
        const problems: string[] = []
        const read = (t: Tensor.Tensor) => runtime.runPromise(Tensor.data(t))
        for (const [key, t] of Object.entries(got)) {
          const s = await compare(read, c.name, key, t, outputs[key.split("@")[0]!]!, tol)
          report.push(s)
          for (const f of s.failures) problems.push(`${key} ${f}`)
        }
        expect(problems, `${c.name}: elements outside rtol ${tol.rtol} + ${tol.atolScale}·max|jax|`).toEqual([])
      })
    }
  })
}
