/**
 * Shared helpers of the state suite: running effects, reading tensors and
 * pytrees of tensors as nested numbers, comparing them with tolerances,
 * checking the exact structure of results, and typed failures.
 */
import { Cause, Effect, Exit } from "effect"
import { expect } from "vitest"
import { Pytree, Tensor, Variable } from "@diffect/core"

export const f64 = (data: Parameters<typeof Tensor.make>[0]): Tensor.Tensor => Tensor.make(data, { dtype: "float64" })

export const run = <A, E>(eff: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(eff)

/** Nested numbers of a tensor. */
export const arr = (t: unknown): Promise<unknown> => {
  if (!(t instanceof Tensor.Tensor)) throw new Error(`expected a Tensor, got ${describe(t)}`)
  return run(Tensor.toArray(t))
}

/** The committed value of a variable (outside transforms), as nested numbers. */
export const now = <A>(v: Variable.Variable<A>): Promise<unknown> => run(Effect.flatMap(Variable.get(v), (x) => Effect.promise(() => numbers(x))))

const describe = (u: unknown): string =>
  u === null ? "null" : Array.isArray(u) ? `array(${u.length})` : typeof u === "object" ? (u.constructor?.name ?? "object") : typeof u

/** A pytree of tensors with each leaf read to nested numbers (structure kept). */
export const numbers = async (tree: unknown): Promise<unknown> => {
  if (tree instanceof Tensor.Tensor) return Effect.runPromise(Tensor.toArray(tree))
  if (Array.isArray(tree)) return Promise.all(tree.map(numbers))
  if (typeof tree === "object" && tree !== null) {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(tree)) out[k] = await numbers((tree as Record<string, unknown>)[k])
    return out
  }
  throw new Error(`expected a pytree of tensors, got ${describe(tree)}`)
}

/**
 * The structure of a result: "T[shape]" for a tensor leaf, arrays and
 * records as they are. Checking it with `toEqual` checks array lengths,
 * record keys (exactly) and every leaf's shape.
 */
export const structure = (tree: unknown): unknown => {
  if (tree instanceof Tensor.Tensor) return `T[${tree.shape.join(",")}]`
  if (Array.isArray(tree)) return tree.map(structure)
  if (typeof tree === "object" && tree !== null && Object.getPrototypeOf(tree) === Object.prototype) {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(tree)) out[k] = structure((tree as Record<string, unknown>)[k])
    return out
  }
  return `?${describe(tree)}`
}

/** Deep closeness of nested numbers (same nesting, same lengths, same keys). */
export const expectNear = (actual: unknown, expected: unknown, tol = 1e-10, path = "$"): void => {
  if (typeof expected === "number") {
    expect(typeof actual, `${path} is a number`).toBe("number")
    const a = actual as number
    expect(Math.abs(a - expected) <= tol * (1 + Math.abs(expected)), `${path}: got ${a}, expected ${expected}`).toBe(true)
    return
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), `${path} is an array`).toBe(true)
    expect((actual as unknown[]).length, `${path} length`).toBe(expected.length)
    expected.forEach((e, i) => expectNear((actual as unknown[])[i], e, tol, `${path}[${i}]`))
    return
  }
  const keys = Object.keys(expected as object).sort()
  expect(Object.keys(actual as object).sort(), `${path} keys`).toEqual(keys)
  for (const k of keys) expectNear((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], tol, `${path}.${k}`)
}

/** Reads a pytree of tensors and compares it with nested numbers. */
export const expectTree = async (actual: unknown, expected: unknown, tol = 1e-10): Promise<void> => expectNear(await numbers(actual), expected, tol)

/** The exit of an effect. */
export const exitOf = <A, E>(eff: Effect.Effect<A, E>): Promise<Exit.Exit<A, E>> => Effect.runPromiseExit(eff)

/** The typed failure of an effect (which must fail, not die). */
export const failureOf = async <E>(eff: Effect.Effect<unknown, E>): Promise<E> => {
  const exit = await Effect.runPromiseExit(eff)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  expect(Cause.hasDies(exit.cause), `no defect: ${Cause.pretty(exit.cause)}`).toBe(false)
  expect(Cause.hasInterrupts(exit.cause), "no interruption").toBe(false)
  return Cause.squash(exit.cause) as E
}

/** Whether a committed value holds data (no pending graph): every leaf a const. */
export const isSettled = (value: unknown): boolean => Pytree.flatten(value)[0].every((t) => t.op === "const" && !t.symbolic)

/** Identity matrix as nested numbers. */
export const eye = (n: number): number[][] => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)))
/** A diagonal matrix as nested numbers. */
export const diag = (d: ReadonlyArray<number>): number[][] => d.map((x, i) => d.map((_, j) => (i === j ? x : 0)))
export const zerosM = (r: number, c: number): number[][] => Array.from({ length: r }, () => new Array<number>(c).fill(0))
