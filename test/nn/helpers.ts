/** Shared by the training kit's tests: running effects, fixtures, comparing numbers. */
import { readFileSync } from "node:fs"
import { Cause, Effect, Exit } from "effect"
import { expect } from "vitest"
import { CpuBackend, Tensor } from "@diffect/core"

export const run = <A, E>(e: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(e.pipe(Effect.provide(CpuBackend.layer)))

/** The typed failure of an effect (fails the test if it succeeds or dies). */
export const failureOf = async <A, E>(e: Effect.Effect<A, E>): Promise<E> => {
  const exit = await Effect.runPromiseExit(e.pipe(Effect.provide(CpuBackend.layer)))
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${String(exit.value)}`)
  const failure = exit.cause.reasons.find(Cause.isFailReason)
  if (failure === undefined) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.error
}

/** A fixture array: flat row-major data with its shape. */
export interface Arr {
  readonly shape: ReadonlyArray<number>
  readonly data: ReadonlyArray<number>
}

export const torch = JSON.parse(readFileSync(new URL("../fixtures/torch.json", import.meta.url), "utf8"))

export const f64 = (a: Arr): Tensor.Tensor => Tensor.make(Float64Array.from(a.data), { shape: [...a.shape], dtype: "float64" })

/** Expects `actual` (flat) to equal `expected` within a relative-and-absolute tolerance. */
export const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12, what = "") => {
  expect(actual.length, what).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) expect.fail(`${what}[${i}]: got ${a}, expected ${e} (tolerance ${tol})`)
  }
}
