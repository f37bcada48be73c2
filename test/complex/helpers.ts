/**
 * Helpers of the complex64 suite: an independent float64 complex reference
 * (plain JavaScript arithmetic on `[re, im]` pairs; it never calls the
 * library), reading complex tensors, closeness with float32 tolerances, and
 * checking typed failures.
 */
import { Cause, Effect, Exit } from "effect"
import fc from "fast-check"
import { expect } from "vitest"
import { Tensor } from "@diffect/core"

export type T = Tensor.Tensor

/** A complex number of the reference: [re, im] in float64. */
export type Cx = readonly [number, number]

// ------------------------------------------------------------------ reference arithmetic

export const cx = (re: number, im = 0): Cx => [re, im]
export const cadd = (a: Cx, b: Cx): Cx => [a[0] + b[0], a[1] + b[1]]
export const csub = (a: Cx, b: Cx): Cx => [a[0] - b[0], a[1] - b[1]]
export const cmul = (a: Cx, b: Cx): Cx => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]]
export const cscale = (a: Cx, s: number): Cx => [a[0] * s, a[1] * s]
export const cneg = (a: Cx): Cx => [-a[0], -a[1]]
export const cconj = (a: Cx): Cx => [a[0], -a[1]]
export const cabs = (a: Cx): number => Math.sqrt(a[0] * a[0] + a[1] * a[1])
/** a / b = a · conj(b) / |b|² (the textbook formula, not Smith's). */
export const cdiv = (a: Cx, b: Cx): Cx => {
  const d = b[0] * b[0] + b[1] * b[1]
  return [(a[0] * b[0] + a[1] * b[1]) / d, (a[1] * b[0] - a[0] * b[1]) / d]
}
export const cexp = (a: Cx): Cx => [Math.exp(a[0]) * Math.cos(a[1]), Math.exp(a[0]) * Math.sin(a[1])]
/** The principal logarithm, from the polar form. */
export const clog = (a: Cx): Cx => [Math.log(cabs(a)), Math.atan2(a[1], a[0])]
/** sin z = (e^{iz} − e^{−iz}) / 2i. */
export const csin = (z: Cx): Cx => {
  const p = cexp([-z[1], z[0]])
  const m = cexp([z[1], -z[0]])
  return cdiv(csub(p, m), [0, 2])
}
/** cos z = (e^{iz} + e^{−iz}) / 2. */
export const ccos = (z: Cx): Cx => {
  const p = cexp([-z[1], z[0]])
  const m = cexp([z[1], -z[0]])
  return cscale(cadd(p, m), 0.5)
}
/** tanh z = (1 − e^{−2z}) / (1 + e^{−2z}) for Re z ≥ 0, odd otherwise. */
export const ctanh = (z: Cx): Cx => {
  if (z[0] < 0) return cneg(ctanh(cneg(z)))
  const e = cexp(cscale(z, -2))
  return cdiv(csub([1, 0], e), cadd([1, 0], e))
}
/** The principal square root from the polar form: √r · e^{iθ/2}, θ in [−π, π]. */
export const csqrt = (z: Cx): Cx => {
  const r = Math.sqrt(cabs(z))
  const th = Math.atan2(z[1], z[0]) / 2
  return [r * Math.cos(th), r * Math.sin(th)]
}
/** a^b = e^{b log a} (principal branch). */
export const cpow = (a: Cx, b: Cx): Cx => cexp(cmul(b, clog(a)))

// ------------------------------------------------------------------ tensors

/** A complex64 tensor from reference values (flat, row-major) and a shape. */
export const ctensor = (values: ReadonlyArray<Cx>, shape: ReadonlyArray<number> = [values.length]): T =>
  Tensor.make({ re: values.map((v) => v[0]), im: values.map((v) => v[1]) }, { dtype: "complex64", shape })

/** A complex64 scalar. */
export const cscalar = (z: Cx): T => ctensor([z], [])

/** The value a number takes once stored as float32. */
export const f32 = Math.fround
/** A reference value rounded to complex64 (what a tensor made from it holds). */
export const round32 = (z: Cx): Cx => [f32(z[0]), f32(z[1])]

export const run = <A, E>(eff: Effect.Effect<A, E, never>): Promise<A> => Effect.runPromise(eff)

/** Reads a complex64 tensor as reference pairs (checks the dtype). */
export const readC = async (t: T): Promise<Cx[]> => {
  expect(t.dtype, "dtype").toBe("complex64")
  const d = await run(Tensor.data(t))
  expect(d).toBeInstanceOf(Float32Array)
  expect(d.length).toBe(2 * t.size)
  const out: Cx[] = []
  for (let i = 0; i < t.size; i++) out.push([d[2 * i]!, d[2 * i + 1]!])
  return out
}

/** Reads a real tensor as a flat list of numbers. */
export const readR = async (t: T): Promise<number[]> => Array.from((await run(Tensor.data(t))) as ArrayLike<number>)

export interface Tol {
  readonly rtol: number
  readonly atol: number
}
/** Float32 tolerance: a few ulps of float32 relative to the modulus. */
export const f32tol: Tol = { rtol: 1e-5, atol: 1e-6 }

/** Closeness of complex numbers: |a − e| ≤ atol + rtol · |e| (the modulus, as numpy.allclose on complex). */
export const closeC = (a: Cx, e: Cx, tol: Tol = f32tol): boolean => {
  if (Number.isNaN(e[0]) || Number.isNaN(e[1])) return (Number.isNaN(e[0]) ? Number.isNaN(a[0]) : a[0] === e[0]) && (Number.isNaN(e[1]) ? Number.isNaN(a[1]) : a[1] === e[1])
  if (!Number.isFinite(e[0]) || !Number.isFinite(e[1])) return a[0] === e[0] && a[1] === e[1]
  return cabs(csub(a, e)) <= tol.atol + tol.rtol * cabs(e)
}

/** A complex64 tensor holds the expected values (and has the expected shape). */
export const expectC = async (t: T, expected: ReadonlyArray<Cx>, tol: Tol = f32tol, label = "", shape?: ReadonlyArray<number>): Promise<void> => {
  if (shape) expect([...t.shape], `${label} shape`).toEqual([...shape])
  const got = await readC(t)
  expect(got.length, `${label} size`).toBe(expected.length)
  const bad = expected.flatMap((e, i) => (closeC(got[i]!, e, tol) ? [] : [{ i, got: got[i], expected: e }])).slice(0, 5)
  expect(bad, `${label} mismatches`).toEqual([])
}

/** A real tensor holds the expected values. */
export const expectR = async (t: T, expected: ReadonlyArray<number>, tol: Tol = f32tol, label = ""): Promise<void> => {
  const got = await readR(t)
  expect(got.length, `${label} size`).toBe(expected.length)
  const bad = expected.flatMap((e, i) => (Math.abs(got[i]! - e) <= tol.atol + tol.rtol * Math.abs(e) ? [] : [{ i, got: got[i], expected: e }])).slice(0, 5)
  expect(bad, `${label} mismatches`).toEqual([])
}

/** The effect fails with a tagged error whose message contains every fragment. */
export const expectFailure = async (eff: Effect.Effect<unknown, unknown, never>, tag: string, ...fragments: ReadonlyArray<string>): Promise<string> => {
  const exit = await Effect.runPromiseExit(eff)
  expect(Exit.isFailure(exit), `expected a ${tag} failure`).toBe(true)
  if (!Exit.isFailure(exit)) return ""
  expect(Cause.hasDies(exit.cause), "no defect").toBe(false)
  expect(Cause.hasFails(exit.cause), "a typed failure").toBe(true)
  const err = Cause.squash(exit.cause) as { _tag?: string; message?: string }
  expect(err._tag).toBe(tag)
  for (const f of fragments) expect(err.message).toContain(f)
  return err.message ?? ""
}

// ------------------------------------------------------------------ arbitraries

/** A float32 number in [−m, m] (subnormal-sized values become 0: their reciprocals leave float32's range). */
export const part = (m: number): fc.Arbitrary<number> =>
  fc.float({ min: -Math.fround(m), max: Math.fround(m), noNaN: true, noDefaultInfinity: true }).map((x) => (Math.abs(x) < 1e-30 ? 0 : x))

/** A complex number with float32 parts in [−m, m]. */
export const complexArb = (m: number): fc.Arbitrary<Cx> => fc.tuple(part(m), part(m)).map(([a, b]) => [f32(a), f32(b)] as const)
