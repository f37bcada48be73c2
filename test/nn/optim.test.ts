/**
 * The optimizers against PyTorch (test/fixtures/torch.json, from
 * generate_torch.py, float64): the parameters after each of five steps;
 * schedules; clipping; checkpoints of params + optimizer state that continue
 * bit-identically; all-or-nothing steps; typed failures for bad input.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor, TrainVar, Variable } from "@diffect/core"
import * as Codec from "@diffect/core/Codec"
import { grad } from "@diffect/transforms"
import { Optim } from "@diffect/nn"
import { type Arr, expectClose, f64, failureOf, run, torch } from "./helpers.js"

interface OptimizerCase {
  readonly name: string
  readonly optimizer: "sgd" | "adam" | "adamw" | "rmsprop"
  readonly options: Record<string, unknown>
  readonly init: { readonly w: Arr; readonly b: Arr }
  readonly grads: ReadonlyArray<{ readonly w: Arr; readonly b: Arr }>
  readonly after: ReadonlyArray<{ readonly w: Arr; readonly b: Arr }>
}

const makers = { sgd: Optim.sgd, adam: Optim.adam, adamw: Optim.adamw, rmsprop: Optim.rmsprop } as unknown as Record<
  string,
  (p: Optim.Params, o: Record<string, unknown>) => Effect.Effect<Optim.Optimizer<Optim.Params>, unknown>
>

describe("optimizers match torch.optim (float64, five steps)", () => {
  it.each((torch.optimizers as ReadonlyArray<OptimizerCase>).map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const after = await run(
      Effect.gen(function* () {
        const w = yield* TrainVar.make(f64(c.init.w), { name: "w" })
        const b = yield* TrainVar.make(f64(c.init.b), { name: "b" })
        const opt = yield* makers[c.optimizer]!({ w, b }, c.options)
        const out: Array<{ w: Float64Array; b: Float64Array }> = []
        for (const g of c.grads) {
          yield* opt.step({ w: f64(g.w), b: f64(g.b) })
          out.push({ w: (yield* Tensor.data(yield* Variable.get(w))) as Float64Array, b: (yield* Tensor.data(yield* Variable.get(b))) as Float64Array })
        }
        expect(yield* Tensor.item(yield* Variable.get(opt.count))).toBe(c.grads.length)
        return out
      })
    )
    after.forEach((a, i) => {
      expectClose(a.w, c.after[i]!.w.data, 1e-12, `${c.name} step ${i + 1} w`)
      expectClose(a.b, c.after[i]!.b.data, 1e-12, `${c.name} step ${i + 1} b`)
    })
  })

  it("a step decay schedule gives StepLR's parameters", async () => {
    const s = torch.scheduledSgd as { init: Arr; grads: ReadonlyArray<Arr>; after: ReadonlyArray<Arr> }
    const after = await run(
      Effect.gen(function* () {
        const p = yield* TrainVar.make(f64(s.init))
        const opt = yield* Optim.sgd(p, { lr: Optim.stepDecay(0.1, 2, 0.5) })
        const out: Array<Float64Array> = []
        for (const g of s.grads) {
          yield* opt.step(f64(g))
          out.push((yield* Tensor.data(yield* Variable.get(p))) as Float64Array)
        }
        return out
      })
    )
    after.forEach((a, i) => expectClose(a, s.after[i]!.data, 1e-7, `step ${i + 1}`)) // the schedule computes in float32
  })
})

describe("schedules", () => {
  const at = (schedule: Optim.Schedule, steps: number) =>
    run(Effect.forEach(Array.from({ length: steps }, (_, i) => i), (i) => Tensor.item(schedule(Tensor.make(i, { dtype: "int32" })))))

  it("cosineDecay follows CosineAnnealingLR over its half period, then stays at minLr", async () => {
    const lrs = await at(Optim.cosineDecay(0.1, 10, { minLr: 0.001 }), 13)
    expectClose(lrs.slice(0, 11), (torch.cosineLrs as number[]).slice(0, 11), 1e-6)
    expect(lrs[11]).toBeCloseTo(0.001, 7)
    expect(lrs[12]).toBeCloseTo(0.001, 7)
  })

  it("constant, stepDecay and warmup", async () => {
    expectClose(await at(Optim.constant(0.3), 3), [0.3, 0.3, 0.3], 1e-7)
    expectClose(await at(Optim.stepDecay(1, 3, 0.1), 7), [1, 1, 1, 0.1, 0.1, 0.1, 0.01], 1e-6)
    expectClose(await at(Optim.warmup(0.5, 4), 6), [0.125, 0.25, 0.375, 0.5, 0.5, 0.5], 1e-7)
    // after the warmup the schedule starts from its own step 0
    expectClose(await at(Optim.warmup(Optim.stepDecay(1, 2, 0.5), 2), 6), [0.5, 1, 1, 1, 0.5, 0.5], 1e-7)
  })
})

describe("clipByGlobalNorm", () => {
  it("scales the whole tree to the norm when it is larger, and leaves it alone when not", async () => {
    const grads = { a: Tensor.make([3, 0]), b: [Tensor.make([[0, 4]])] } // norm 5
    const [clipped, kept, norm] = await run(
      Effect.gen(function* () {
        const c = Optim.clipByGlobalNorm(grads, 1)
        const k = Optim.clipByGlobalNorm(grads, 10)
        return [
          [yield* Tensor.toArray(c.a), yield* Tensor.toArray(c.b[0]!)],
          [yield* Tensor.toArray(k.a), yield* Tensor.toArray(k.b[0]!)],
          yield* Tensor.item(Optim.globalNorm(c))
        ] as const
      })
    )
    expectClose((clipped[0] as number[]), [0.6, 0], 1e-6)
    expectClose((clipped[1] as number[][])[0]!, [0, 0.8], 1e-6)
    expect(kept).toEqual([[3, 0], [[0, 4]]])
    expect(norm).toBeCloseTo(1, 6)
  })

  it("a bad maxNorm gives tensors that fail when read, without throwing", async () => {
    const c = Optim.clipByGlobalNorm({ a: Tensor.ones([2]) }, -1)
    const e = await failureOf(Tensor.data(c.a))
    expect(e._tag).toBe("ShapeError")
    expect(e.message).toContain("maxNorm")
  })
})

/** A small regression problem, its params, and one optimizer of each kind. */
const problem = Effect.gen(function* () {
  const x = Tensor.make([[1, 2], [3, -1], [0.5, 0.25], [-2, 1]])
  const y = Tensor.make([[1], [0], [2], [-1]])
  const w = yield* TrainVar.make(Tensor.make([[0.1], [-0.2]]), { name: "w" })
  const b = yield* TrainVar.make(Tensor.make([0.05]), { name: "b" })
  const loss = () =>
    Effect.gen(function* () {
      const pred = Tensor.add(Tensor.matmul(x, yield* Variable.get(w)), yield* Variable.get(b))
      return Tensor.mean(Tensor.square(Tensor.sub(pred, y)))
    })
  return { w, b, loss }
})

const kinds = [
  ["sgd", (p: Optim.Params) => Optim.sgd(p, { lr: 0.05, momentum: 0.9, nesterov: true })],
  ["adam", (p: Optim.Params) => Optim.adam(p, { lr: Optim.warmup(Optim.cosineDecay(0.05, 20), 3) })],
  ["adamw", (p: Optim.Params) => Optim.adamw(p, { lr: 0.05 })],
  ["rmsprop", (p: Optim.Params) => Optim.rmsprop(p, { lr: 0.01, momentum: 0.5, centered: true })]
] as const

describe("checkpoints: params and optimizer state", () => {
  it.each(kinds)("%s: training restored from a checkpoint after 4 steps continues bit-identically", async (_kind, makeOpt) => {
    const [straight, resumed] = await run(
      Effect.gen(function* () {
        // 8 steps in one go
        const a = yield* problem
        const optA = yield* makeOpt({ w: a.w, b: a.b })
        for (let i = 0; i < 4; i++) yield* Optim.minimize(optA, a.loss)
        const checkpoint = JSON.parse(JSON.stringify(yield* Codec.saveVariables({ w: a.w, b: a.b, ...optA.state })))
        for (let i = 0; i < 4; i++) yield* Optim.minimize(optA, a.loss)
        // a fresh model and optimizer, restored from the checkpoint, then 4 steps
        const b = yield* problem
        const optB = yield* makeOpt({ w: b.w, b: b.b })
        yield* Codec.restoreVariables({ w: b.w, b: b.b, ...optB.state }, checkpoint)
        for (let i = 0; i < 4; i++) yield* Optim.minimize(optB, b.loss)
        const read = (vars: Record<string, Variable.Variable<any>>) =>
          Effect.gen(function* () {
            const out: Record<string, unknown> = {}
            for (const k of Object.keys(vars).sort()) out[k] = (yield* Codec.saveVariables({ [k]: vars[k]! })).variables[k]
            return out
          })
        return [yield* read({ w: a.w, b: a.b, ...optA.state }), yield* read({ w: b.w, b: b.b, ...optB.state })]
      })
    )
    expect(Object.keys(straight).length).toBeGreaterThan(3)
    expect(resumed).toEqual(straight) // every parameter and moment, to the bit (JSON holds the exact floats)
  })

  it("the state Variables are named after the optimizer (or options.name)", async () => {
    const names = await run(
      Effect.gen(function* () {
        const { w, b } = yield* problem
        return [
          Object.keys((yield* Optim.adam({ w, b })).state).sort(),
          Object.keys((yield* Optim.sgd([w, b], { lr: 0.1, momentum: 0.5, name: "enc" })).state).sort(),
          Object.keys((yield* Optim.sgd(w, { lr: 0.1 })).state)
        ]
      })
    )
    expect(names).toEqual([["adam.m", "adam.step", "adam.v"], ["enc.momentum", "enc.step"], ["sgd.step"]])
  })
})

describe("a step is all or nothing", () => {
  it("a gradient that fails to evaluate writes no parameter and no moment", async () => {
    const result = await run(
      Effect.gen(function* () {
        const { w, b, loss } = yield* problem
        const opt = yield* Optim.adam({ w, b }, { lr: 0.1 })
        yield* Optim.minimize(opt, loss)
        const before = yield* Codec.saveVariables({ w, b, ...opt.state })
        const g = (yield* grad(loss, { gradVars: { w, b } })()) as { w: Tensor.Tensor; b: Tensor.Tensor }
        const broken = { w: g.w, b: Tensor.reshape(Tensor.concat([g.b, g.b]), [2]) } // a shape error hidden in a lazy tensor
        const error = yield* Effect.flip(opt.step(broken as never))
        const after = yield* Codec.saveVariables({ w, b, ...opt.state })
        return { error, same: JSON.stringify(before) === JSON.stringify(after) }
      })
    )
    expect(result.error._tag).toBe("ShapeError")
    expect(result.same).toBe(true)
  })
})

describe("bad input is a typed failure naming the field", () => {
  const cases: ReadonlyArray<readonly [string, (w: Variable.Variable<Tensor.Tensor>) => Effect.Effect<unknown, { _tag: string; message: string }>, string, RegExp]> = [
    ["params not Variables", (w) => Optim.adam({ w, b: Tensor.zeros([1]) as never }), "GradVarsError", /params\.b is not a Variable/],
    ["a params array entry", (w) => Optim.sgd([w, 3 as never], { lr: 0.1 }), "GradVarsError", /params\[1\] is not a Variable/],
    ["empty params", () => Optim.adam({}), "GradVarsError", /empty/],
    ["a negative lr", (w) => Optim.sgd(w, { lr: -0.1 }), "OptionsError", /Optim\.sgd: lr must be a non-negative number/],
    ["sgd without lr", (w) => Optim.sgd(w, {} as never), "OptionsError", /lr is required/],
    ["b1 = 1", (w) => Optim.adam(w, { b1: 1 }), "OptionsError", /Optim\.adam: b1 must be a number in \[0, 1\)/],
    ["b2 < 0", (w) => Optim.adamw(w, { b2: -0.5 }), "OptionsError", /Optim\.adamw: b2 must be a number in \[0, 1\)/],
    ["alpha", (w) => Optim.rmsprop(w, { alpha: 1.5 }), "OptionsError", /alpha must be/],
    ["a negative momentum", (w) => Optim.sgd(w, { lr: 0.1, momentum: -1 }), "OptionsError", /momentum must be/],
    ["nesterov without momentum", (w) => Optim.sgd(w, { lr: 0.1, nesterov: true }), "OptionsError", /nesterov needs momentum/],
    ["an unknown option", (w) => Optim.adam(w, { beta1: 0.9 } as never), "OptionsError", /unknown option "beta1"/],
    ["int32 params", () => Effect.flatMap(TrainVar.make(Tensor.zeros([2], { dtype: "int32" }), { name: "n" }), (n) => Optim.adam(n)), "DTypeError", /params \(n\) holds int32/]
  ]
  it.each(cases)("%s", async (_name, make, tag, message) => {
    const e = await failureOf(Effect.flatMap(TrainVar.make(Tensor.zeros([2]), { name: "w" }), make))
    expect(e._tag).toBe(tag)
    expect(e.message).toMatch(message)
  })

  const stepCases: ReadonlyArray<readonly [string, (g: Tensor.Tensor) => unknown, string, RegExp]> = [
    ["a missing key", (g) => ({ w: g }), "GradVarsError", /grads\.b is missing/],
    ["an extra key", (g) => ({ w: g, b: Tensor.zeros([1]), c: g }), "GradVarsError", /grads has "c"/],
    ["a wrong shape", () => ({ w: Tensor.zeros([3]), b: Tensor.zeros([1]) }), "ShapeError", /grads\.w: expected shape \[2, 1\].*got float32\[3\]/],
    ["a wrong dtype", (g) => ({ w: Tensor.cast(g, "float64"), b: Tensor.zeros([1]) }), "DTypeError", /grads\.w: expected dtype float32/],
    ["a nested structure", (g) => ({ w: [g], b: Tensor.zeros([1]) }), "GradVarsError", /grads\.w: expected Tensor/]
  ]
  it.each(stepCases)("step with %s, and nothing is written", async (_name, grads, tag, message) => {
    const [e, same] = await run(
      Effect.gen(function* () {
        const { w, b } = yield* problem
        const opt = yield* Optim.adam({ w, b })
        const before = JSON.stringify(yield* Codec.saveVariables({ w, b, ...opt.state }))
        const e = yield* Effect.flip(opt.step(grads(Tensor.zeros([2, 1])) as never))
        return [e, before === JSON.stringify(yield* Codec.saveVariables({ w, b, ...opt.state }))] as const
      })
    )
    expect(e._tag).toBe(tag)
    expect(e.message).toMatch(message)
    expect(same).toBe(true)
  })

  it("a schedule that does not return a scalar tensor", async () => {
    const e = await failureOf(
      Effect.gen(function* () {
        const w = yield* TrainVar.make(Tensor.zeros([2]))
        const opt = yield* Optim.sgd(w, { lr: () => Tensor.ones([2]) })
        yield* opt.step(Tensor.ones([2]))
      })
    )
    expect(e._tag).toBe("OptionsError")
    expect(e.message).toMatch(/schedule must return a scalar Tensor, got shape \[2\]/)
  })
})
