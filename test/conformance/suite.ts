/**
 * The backend conformance suite: one set of cases run against any backend
 * Layer, each compared with the CPU backend (the reference) within float32
 * tolerance, and with known values where a case has them. Node runs it on
 * `CpuBackend.layer` (test/conformance/cpu.test.ts); headless Chromium runs it
 * on `WebGLBackend.layer()` (test/browser/webgl.test.ts).
 */
import { Backend, CpuBackend, type Prim, prims, Tensor } from "@diffect/core"
import { Cause, Effect, Exit, type Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { binaryCases, broadcastingCases, type Case, dtypeCases, edgeCases, fusionCases, type Output, reduceCases, unaryCases } from "./cases.js"
import { mismatch, type Value } from "./data.js"
import { castCases, matmulCases, movementCases } from "./structureCases.js"
import { convCases } from "./convCases.js"
import { linalgCases } from "./linalgCases.js"
import { randomCases } from "./randomCases.js"
import { opsCases } from "./opsCases.js"
import { transformCases } from "./transformCases.js"
import { controlFlowCases } from "./controlFlowCases.js"
import { grad } from "@diffect/transforms"

export const primitiveCases: ReadonlyArray<Case> = [
  ...unaryCases,
  ...edgeCases,
  ...binaryCases,
  ...broadcastingCases,
  ...fusionCases,
  ...reduceCases,
  ...movementCases,
  ...matmulCases,
  ...castCases,
  ...dtypeCases,
  ...randomCases,
  ...opsCases,
  ...linalgCases,
  ...convCases
]

const flatten = (o: Output, acc: Tensor.Tensor[] = []): Tensor.Tensor[] => {
  if (Tensor.isTensor(o)) acc.push(o)
  else if (Array.isArray(o)) for (const x of o) flatten(x, acc)
  else for (const k of Object.keys(o).sort()) flatten((o as Record<string, Output>)[k]!, acc)
  return acc
}

/** An output with every Effect inside it run (a case may return gradients next to tensors). */
const resolve = (o: Output): Effect.Effect<Output, unknown> =>
  Effect.isEffect(o)
    ? Effect.flatMap(o as Effect.Effect<Output, unknown>, resolve)
    : Tensor.isTensor(o)
      ? Effect.succeed(o)
      : Array.isArray(o)
        ? Effect.forEach(o as ReadonlyArray<Output>, resolve)
        : Effect.map(
            Effect.forEach(Object.keys(o).sort(), (k) => Effect.map(resolve((o as Record<string, Output>)[k]!), (v) => [k, v] as const)),
            (entries) => Object.fromEntries(entries)
          )

/** Runs a case and reads every output tensor back. */
export const readCase = (c: Case) =>
  Effect.gen(function* () {
    const out = yield* resolve(c.run() as Output)
    const values: Value[] = []
    for (const t of flatten(out)) {
      const data = yield* Tensor.data(t)
      values.push({ shape: [...t.shape], dtype: t.dtype, data: Array.from(data as ArrayLike<number>) })
    }
    return values
  })

const compare = (got: ReadonlyArray<Value>, want: ReadonlyArray<Value>, c: Case, what: string): void => {
  expect(got.length, `${what}: number of outputs`).toBe(want.length)
  got.forEach((g, i) => {
    const m = mismatch(g, want[i]!, c.tol)
    if (m !== undefined) expect.fail(`${c.name}: output ${i} vs ${what}: ${m}`)
  })
}

export interface SuiteOptions {
  /** Cases in addition to the primitive cases (e.g. the transform cases). */
  readonly extraCases?: ReadonlyArray<Case>
}

/**
 * Registers the conformance suite for `layer`: every case is evaluated on
 * it and compared with the CPU backend.
 */
export const conformanceSuite = (name: string, layer: Layer.Layer<never, unknown>, options: SuiteOptions = {}): void => {
  const cases = [...primitiveCases, ...transformCases, ...controlFlowCases, ...(options.extraCases ?? [])]
  describe(`backend conformance: ${name}`, () => {
    let runtime: ManagedRuntime.ManagedRuntime<never, unknown>
    beforeAll(async () => {
      runtime = ManagedRuntime.make(layer)
      await runtime.runPromise(Effect.void)
    })
    afterAll(async () => {
      await runtime?.dispose()
    })

    it("covers every primitive", () => {
      const covered = new Set<Prim>(cases.flatMap((c) => c.prims))
      expect(prims.filter((p) => !covered.has(p))).toEqual([])
    })

    it("dataShared reads what data reads, and its array stays valid while later evaluations run", async () => {
      const check = Effect.gen(function* () {
        const backend = yield* Effect.service(Backend)
        const made: Array<[string, Tensor.Tensor, ReadonlyArray<number>]> = [
          ["float32", Tensor.mul(Tensor.make(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]), { shape: [17] }), 2), [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34]],
          ["int32", Tensor.add(Tensor.arange(20), 1), Array.from({ length: 20 }, (_, i) => i + 1)],
          ["bool", Tensor.greater(Tensor.arange(18), 8), Array.from({ length: 18 }, (_, i) => (i > 8 ? 1 : 0))],
          ["a reshape of a const", Tensor.reshape(Tensor.make([[1, 2], [3, 4]]), [4]), [1, 2, 3, 4]]
        ]
        for (const [what, t, want] of made) {
          if (!backend.supports(t.dtype)) continue
          const shared = yield* Tensor.dataShared(t)
          // evaluations of the same shape and dtype: a buffer wrongly given back to a pool would be overwritten here
          for (let i = 0; i < 8; i++) yield* Tensor.data(Tensor.sub(Tensor.mul(t, 3), 7))
          expect(Array.from(shared as ArrayLike<number>), what).toEqual(want)
          expect(Array.from((yield* Tensor.data(t)) as ArrayLike<number>), what).toEqual(want)
          const again = yield* Tensor.dataShared(t)
          if (backend.hostBuffers === true) {
            // host memory: the tensor's own storage, no copy
            expect(again, what).toBe(shared)
          } else {
            // a device read is a fresh array: writing into it leaves the tensor as it was
            expect(again, what).not.toBe(shared)
            again[0] = 99
            expect((yield* Tensor.data(t))[0], what).toBe(want[0])
          }
        }
        // inside a transform a read evaluates a traced value into a buffer of the read's own
        const seen: Array<ArrayLike<number>> = []
        const f = (x: Tensor.Tensor) =>
          Effect.gen(function* () {
            seen.push(yield* Tensor.dataShared(Tensor.mul(x, 2)))
            for (let i = 0; i < 8; i++) yield* Tensor.data(Tensor.sub(Tensor.mul(x, 3), 7))
            return Tensor.sum(Tensor.square(x))
          })
        const x = Tensor.make(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]), { shape: [17] })
        const g = yield* grad(f)(x)
        for (let i = 0; i < 8; i++) yield* Tensor.data(Tensor.mul(g, 5))
        expect(Array.from(seen[0]!)).toEqual(Array.from({ length: 17 }, (_, i) => 2 * (i + 1)))
        const z = Tensor.make([[1, -2]], { dtype: "complex64" })
        if (backend.supports("complex64")) expect(Array.from(yield* Tensor.dataShared(Tensor.mul(z, 2)))).toEqual([2, -4])
        const bad = yield* Effect.flip(Tensor.dataShared(42 as never))
        expect(bad._tag).toBe("DTypeError")
        expect(bad.message).toContain("dataShared: expected a Tensor, got")
      })
      await runtime.runPromise(check)
    })

    for (const c of cases) {
      it(c.name, async () => {
        const supports = await runtime.runPromise(Effect.map(Effect.service(Backend), (b) => b.supports))
        const unsupported = (c.needs ?? []).filter((d) => !supports(d))
        const exit = await runtime.runPromiseExit(readCase(c))
        if (unsupported.length > 0) {
          // the backend must refuse with a typed BackendError naming the dtype
          expect(Exit.isFailure(exit), "expected a failure").toBe(true)
          if (Exit.isFailure(exit)) {
            const e = Cause.squash(exit.cause) as { _tag?: string; message?: string }
            expect(e._tag).toBe("BackendError")
            expect(e.message).toContain(unsupported[0])
          }
          return
        }
        if (Exit.isFailure(exit)) expect.fail(`${c.name} failed: ${Cause.pretty(exit.cause)}`)
        const got = (exit as Exit.Success<Value[]>).value
        if (c.expected !== undefined) {
          const known = c.expected.map((data, i): Value => ({ shape: got[i]?.shape ?? [], dtype: got[i]?.dtype ?? "", data }))
          compare(got, known, c, "known values")
        }
        const want = await Effect.runPromise(readCase(c).pipe(Effect.provide(CpuBackend.layer)))
        compare(got, want, c, "the CPU backend")
      })
    }
  })
}
