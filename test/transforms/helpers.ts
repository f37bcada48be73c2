/**
 * Shared helpers of the @diffect/transforms suite: running effects,
 * reading tensors, closeness with tolerances, typed failures, and small
 * float64 references (finite differences) that never call the transforms.
 */
import { Cause, Effect, Exit } from "effect"
import { expect } from "vitest"
import { Pytree, Tensor } from "@diffect/core"

export type T = Tensor.Tensor

/** A float64 tensor. */
export const f64 = (data: Tensor.NestedArray): T => Tensor.make(data, { dtype: "float64" })

export const run = <A, E>(eff: Effect.Effect<A, E, never>): Promise<A> => Effect.runPromise(eff)

/** Flat values of a tensor. */
export const flat = async (t: T): Promise<number[]> => Array.from((await run(Tensor.data(t))) as ArrayLike<number>)

/** Nested values of a tensor. */
export const nested = (t: T): Promise<unknown> => run(Tensor.toArray(t))

export interface Tol {
  readonly rtol: number
  readonly atol: number
}
export const tight: Tol = { rtol: 1e-12, atol: 1e-12 }
export const f32tol: Tol = { rtol: 1e-5, atol: 1e-6 }

const flattenNumbers = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flattenNumbers) : [x as number])

/** Elementwise closeness of a tensor to expected values (nested arrays or a flat list), with its shape. */
export const expectClose = async (t: T, expected: unknown, tol: Tol = tight, label = "", shape?: ReadonlyArray<number>): Promise<void> => {
  expect(t, `${label}: a tensor`).toBeInstanceOf(Tensor.Tensor)
  if (shape) expect([...t.shape], `${label} shape`).toEqual([...shape])
  const actual = await flat(t)
  const want = typeof expected === "number" ? [expected] : flattenNumbers(expected)
  expect(actual.length, `${label} size`).toBe(want.length)
  const bad: Array<{ i: number; actual: number; expected: number }> = []
  want.forEach((e, i) => {
    const a = actual[i]!
    const ok = Number.isNaN(e) ? Number.isNaN(a) : Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e)
    if (!ok && bad.length < 5) bad.push({ i, actual: a, expected: e })
  })
  expect(bad, `${label} mismatches`).toEqual([])
}

/** Two tensors agree (same shape, close values). */
export const expectSame = async (a: T, b: T, tol: Tol = tight, label = ""): Promise<void> => {
  expect([...a.shape], `${label} shape`).toEqual([...b.shape])
  await expectClose(a, await flat(b), tol, label)
}

/** Two pytrees of tensors agree leaf by leaf, with the same structure. */
export const expectSameTree = async (a: unknown, b: unknown, tol: Tol = tight, label = ""): Promise<void> => {
  const [la, da] = Pytree.flatten(a)
  const [lb, db] = Pytree.flatten(b)
  expect(Pytree.describe(da), `${label} structure`).toBe(Pytree.describe(db))
  for (let i = 0; i < la.length; i++) await expectSame(la[i]!, lb[i]!, tol, `${label} leaf ${i}`)
}

/** The typed failure of an effect (which must fail, not die, and not succeed). */
export const failureOf = async <E>(eff: Effect.Effect<unknown, E, never>): Promise<E> => {
  const exit = await Effect.runPromiseExit(eff)
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got a success`)
  expect(Cause.hasDies(exit.cause), `no defect: ${Cause.pretty(exit.cause)}`).toBe(false)
  expect(Cause.hasFails(exit.cause), "a typed failure").toBe(true)
  return Cause.squash(exit.cause) as E
}

/** Expects a typed failure with a tag and message fragments; returns the message. */
export const expectFailure = async (eff: Effect.Effect<unknown, unknown, never>, tag: string, ...fragments: ReadonlyArray<string | RegExp>): Promise<string> => {
  const e = (await failureOf(eff)) as { _tag: string; message: string }
  expect(e._tag, e.message).toBe(tag)
  for (const f of fragments) {
    if (typeof f === "string") expect(e.message).toContain(f)
    else expect(e.message).toMatch(f)
  }
  return e.message
}

// ------------------------------------------------------------------ float64 finite differences (host side)

/** Central differences of a host function R^n -> R^m at x: an m×n matrix (row-major, flat). */
export const fdJacobian = (g: (x: Float64Array) => Float64Array, x: ArrayLike<number>, eps = 1e-5): number[][] => {
  const x0 = Float64Array.from(x)
  const cols: Float64Array[] = []
  for (let j = 0; j < x0.length; j++) {
    const p = Float64Array.from(x0), m = Float64Array.from(x0)
    p[j]! += eps
    m[j]! -= eps
    const fp = g(p), fm = g(m)
    cols.push(fp.map((v, i) => (v - fm[i]!) / (2 * eps)))
  }
  const rows = cols[0]?.length ?? 0
  return Array.from({ length: rows }, (_, i) => cols.map((c) => c[i]!))
}

/** Runs an effectful tensor function on host data (for finite differences of transformed functions). */
export const hostFn = (f: (x: T) => Effect.Effect<T, unknown, never>, shape: ReadonlyArray<number>) => {
  return async (x: Float64Array): Promise<Float64Array> => {
    const out = await Effect.runPromise(f(Tensor.make(x, { shape, dtype: "float64" })))
    return Float64Array.from((await Effect.runPromise(Tensor.data(out))) as ArrayLike<number>)
  }
}

/** Async central differences: an m×n jacobian of an async host function. */
export const fdJacobianAsync = async (g: (x: Float64Array) => Promise<Float64Array>, x: ArrayLike<number>, eps = 1e-5): Promise<number[][]> => {
  const x0 = Float64Array.from(x)
  const cols: Float64Array[] = []
  for (let j = 0; j < x0.length; j++) {
    const p = Float64Array.from(x0), m = Float64Array.from(x0)
    p[j]! += eps
    m[j]! -= eps
    const fp = await g(p), fm = await g(m)
    cols.push(fp.map((v, i) => (v - fm[i]!) / (2 * eps)))
  }
  const rows = cols[0]?.length ?? 0
  return Array.from({ length: rows }, (_, i) => cols.map((c) => c[i]!))
}
