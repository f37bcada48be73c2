/**
 * Property-based tests of a user's model with diffect's testing kit
 * (`@diffect/transforms/testing`: `checkGrads` and fast-check arbitraries).
 * Run with `npm test` (vitest picks up `examples/**\/*.test.ts`) or alone:
 * `npx vitest run examples/property.test.ts`.
 *
 * The model: a one-hidden-layer classifier with a softmax cross-entropy
 * loss, written once as a pure function of a parameter record, and once
 * reading its parameters from `TrainVar`s, as a training loop would; and a
 * custom derivative rule the user wrote (checked, and a wrong one caught).
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor, TrainVar, Variable } from "@diffect/core"
import { customJvp, grad, vmap } from "@diffect/transforms"
import { arbitraries, checkGrads, GradCheckError } from "@diffect/transforms/testing"

type T = Tensor.Tensor

// ------------------------------------------------------------------ the model under test

interface Params {
  readonly w1: T // [features, hidden]
  readonly b1: T // [hidden]
  readonly w2: T // [hidden, classes]
  readonly b2: T // [classes]
}

const logits = (p: Params, x: T): T => Tensor.add(Tensor.matmul(Tensor.tanh(Tensor.add(Tensor.matmul(x, p.w1), p.b1)), p.w2), p.b2)

/** Mean softmax cross-entropy against one-hot (or soft) labels: mean(logsumexp(z) − Σ y·z). */
const crossEntropy = (z: T, labels: T): T =>
  Tensor.mean(Tensor.sub(Tensor.logsumexp(z, { axis: -1 }), Tensor.sum(Tensor.mul(labels, z), { axis: -1 })))

const loss = (p: Params, x: T, labels: T): T => crossEntropy(logits(p, x), labels)

// ------------------------------------------------------------------ arbitraries

const F = 3, H = 4, C = 3 // features, hidden units, classes

// #region arbitraries
const params: fc.Arbitrary<Params> = fc.record({
  w1: arbitraries.tensor({ shape: [F, H] }),
  b1: arbitraries.tensor({ shape: [H] }),
  w2: arbitraries.tensor({ shape: [H, C] }),
  b2: arbitraries.tensor({ shape: [C] })
})
// #endregion

/** A batch: inputs [n, F] and one-hot labels [n, C], n from 1 to 5. */
const batch = fc.integer({ min: 1, max: 5 }).chain((n) =>
  fc.tuple(
    arbitraries.tensor({ shape: [n, F], min: -2, max: 2 }),
    fc.array(fc.integer({ min: 0, max: C - 1 }), { minLength: n, maxLength: n }).map((ks) =>
      Tensor.make(ks.map((k) => Array.from({ length: C }, (_, j) => (j === k ? 1 : 0))), { dtype: "float64" })
    )
  )
)

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
const toNumbers = (t: T) => run(Effect.map(Tensor.data(t), (d) => Array.from(d)))
const close = (a: ReadonlyArray<number>, b: ReadonlyArray<number>, tol = 1e-9) =>
  a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) <= tol * (1 + Math.abs(b[i]!)))
const options = { numRuns: 25 }

// ------------------------------------------------------------------ properties

describe("a user's classifier, tested with properties", () => {
  // #region check-grads
  it("its derivatives are right to second order, both modes, at any parameters and batch", async () => {
    await fc.assert(
      fc.asyncProperty(params, batch, (p, [x, y]) => run(checkGrads(loss, [p, x, y], { order: 2 }))),
      options
    )
  })
  // #endregion

  it("gradients through TrainVars (gradVars) equal gradients through arguments (argnums)", async () => {
    await fc.assert(
      fc.asyncProperty(params, batch, async (p, [x, y]) => {
        const program = Effect.gen(function* () {
          const vars = {
            w1: yield* TrainVar.make(p.w1),
            b1: yield* TrainVar.make(p.b1),
            w2: yield* TrainVar.make(p.w2),
            b2: yield* TrainVar.make(p.b2)
          }
          const stateful = () =>
            Effect.gen(function* () {
              const q: Params = { w1: yield* Variable.get(vars.w1), b1: yield* Variable.get(vars.b1), w2: yield* Variable.get(vars.w2), b2: yield* Variable.get(vars.b2) }
              return loss(q, x, y)
            })
          const viaVars = yield* grad(stateful, { gradVars: vars })()
          const viaArgs = yield* grad(loss)(p, x, y)
          return { viaVars, viaArgs }
        })
        const { viaVars, viaArgs } = await run(program)
        for (const k of ["w1", "b1", "w2", "b2"] as const) expect(close(await toNumbers(viaVars[k]), await toNumbers(viaArgs[k]))).toBe(true)
      }),
      options
    )
  })

  it("the batch gradient is the mean of the per-example gradients (vmap of grad)", async () => {
    await fc.assert(
      fc.asyncProperty(params, batch, async (p, [x, y]) => {
        const one = (q: Params, xi: T, yi: T) => loss(q, Tensor.expandDims(xi, 0), Tensor.expandDims(yi, 0))
        const perExample = await run(vmap(grad(one), { inAxes: [null, 0, 0] })(p, x, y)) // each leaf [n, ...]
        const full = await run(grad(loss)(p, x, y))
        for (const k of ["w1", "b1", "w2", "b2"] as const)
          expect(close(await toNumbers(Tensor.mean(perExample[k], { axis: 0 })), await toNumbers(full[k]))).toBe(true)
      }),
      options
    )
  })

  it("cross-entropy ignores a shift of the logits, and its gradient sums to zero over classes", async () => {
    const logitsArb = fc.integer({ min: 1, max: 4 }).chain((n) =>
      fc.tuple(arbitraries.tensor({ shape: [n, C], min: -5, max: 5 }), fc.double({ min: -50, max: 50, noNaN: true }))
    )
    await fc.assert(
      fc.asyncProperty(logitsArb, batch, async ([z, shift], [, y0]) => {
        const y = Tensor.slice(Tensor.concat([y0, y0, y0, y0, y0]), [0, 0], [z.shape[0]!, C]) // labels for each row of z
        const [a, b] = await Promise.all([run(Tensor.item(crossEntropy(z, y))), run(Tensor.item(crossEntropy(Tensor.add(z, shift), y)))])
        expect(Math.abs(a - b)).toBeLessThan(1e-9 * (1 + Math.abs(a)))
        const g = await run(grad(crossEntropy)(z, y))
        const rowSums = await toNumbers(Tensor.sum(g, { axis: -1 }))
        expect(rowSums.every((s) => Math.abs(s) < 1e-12)).toBe(true)
      }),
      options
    )
  })

  it("a custom derivative rule is checked to second order, and a wrong one is caught", async () => {
    // softplus(x) = log(1 + eˣ), with the rule d softplus = sigmoid(x) dx
    const softplus = customJvp(
      (x: T) => Tensor.log1p(Tensor.exp(x)),
      ([x], [t]) => Tensor.mul(t, Tensor.sigmoid(x))
    )
    const wrong = customJvp(
      (x: T) => Tensor.log1p(Tensor.exp(x)),
      ([x], [t]) => Tensor.mul(t, Tensor.sigmoid(Tensor.mul(x, 1.01))) // off by a little
    )
    const xs = arbitraries.tensor({ shape: arbitraries.shape({ minRank: 1, maxRank: 2 }), min: -4, max: 4 })
    await fc.assert(fc.asyncProperty(xs, (x) => run(checkGrads(softplus, [x], { order: 2 }))), options)
    const failure = await run(Effect.flip(checkGrads(wrong, [Tensor.make([1, 2, 3], { dtype: "float64" })], { order: 1 })))
    expect(failure).toBeInstanceOf(GradCheckError) // names the mode, the order and the max error
  })
})
