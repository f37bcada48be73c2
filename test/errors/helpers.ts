/**
 * Helpers of the error suite: run an effect and get its typed failure,
 * asserting there is no defect (no `Die`) and no interruption; build a value
 * without the builder throwing.
 */
import { Cause, Effect, Exit } from "effect"
import { expect } from "vitest"
import { Tensor, Variable } from "@diffect/core"

export type T = Tensor.Tensor

export const f64 = (data: Parameters<typeof Tensor.make>[0]): T => Tensor.make(data, { dtype: "float64" })

/** The failure of an effect: a typed error in the error channel, never a defect. */
export const failureOf = async (eff: Effect.Effect<unknown, unknown>): Promise<{ readonly _tag: string; readonly message: string }> => {
  const exit = await Effect.runPromiseExit(eff)
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got a success: ${String(exit.value)}`)
  expect(Cause.hasDies(exit.cause), `no defect: ${Cause.pretty(exit.cause)}`).toBe(false)
  expect(Cause.hasInterrupts(exit.cause), "no interruption").toBe(false)
  expect(Cause.hasFails(exit.cause), "a typed failure").toBe(true)
  return Cause.squash(exit.cause) as { _tag: string; message: string }
}

/** Asserts the effect fails with `tag` and a message containing every fragment. */
export const expectFailure = async (eff: Effect.Effect<unknown, unknown>, tag: string, ...fragments: ReadonlyArray<string>): Promise<string> => {
  const e = await failureOf(eff)
  expect(e._tag, e.message).toBe(tag)
  for (const f of fragments) expect(e.message).toContain(f)
  return e.message
}

/**
 * Calls a pure builder (an op with bad arguments): it must not throw, and
 * must give a tensor that fails with `tag` when read.
 */
export const expectBadTensor = async (build: () => unknown, tag: string, ...fragments: ReadonlyArray<string>): Promise<string> => {
  let t: unknown
  expect(() => (t = build())).not.toThrow()
  expect(Tensor.isTensor(t), `a tensor, got ${typeof t}`).toBe(true)
  return expectFailure(Tensor.data(t as T), tag, ...fragments)
}

/** Calls `build` (a transform applied to bad arguments, for example): it must not throw. */
export const noThrow = <A>(build: () => A): A => {
  let out: A | undefined
  expect(() => (out = build())).not.toThrow()
  return out as A
}

/** The committed value of a Variable holding a tensor, as a flat array. */
export const valueOf = async (v: Variable.Variable<T>): Promise<number[]> =>
  Array.from(await Effect.runPromise(Effect.flatMap(Variable.get(v), Tensor.data)))

/** Flat data of a tensor. */
export const dataOf = async (t: unknown): Promise<number[]> => {
  expect(Tensor.isTensor(t), "a tensor").toBe(true)
  return Array.from(await Effect.runPromise(Tensor.data(t as T)))
}
