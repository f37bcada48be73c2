/**
 * The losses against PyTorch (values and gradients, float64), closed forms,
 * stability at logits of ±1000, derivatives by checkGrads (both modes, order
 * 2), and shape mistakes as typed failures.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad } from "@diffect/transforms"
import { checkGrads } from "@diffect/transforms/testing"
import { Loss } from "@diffect/nn"
import { type Arr, expectClose, f64, failureOf, run, torch } from "./helpers.js"

const L = torch.losses as Record<string, any>
const labels = Tensor.make(L.labels as number[], { dtype: "int32" })

const valueAndGradOf = (f: (x: Tensor.Tensor) => Tensor.Tensor, x: Tensor.Tensor) =>
  run(
    Effect.gen(function* () {
      const g = yield* grad(f)(x)
      return { value: yield* Tensor.item(f(x)), grad: Array.from(yield* Tensor.data(g)) }
    })
  )

const cases: ReadonlyArray<readonly [string, (x: Tensor.Tensor) => Tensor.Tensor, Arr]> = [
  ["softmaxCrossEntropy", (x) => Loss.softmaxCrossEntropy(x, labels), L.logits],
  ["softmaxCrossEntropyProbs", (x) => Loss.softmaxCrossEntropy(x, f64(L.probs)), L.logits],
  ["softmaxCrossEntropyBig", (x) => Loss.softmaxCrossEntropy(x, Tensor.make([1, 0], { dtype: "int32" })), L.big],
  ["sigmoidBinaryCrossEntropy", (x) => Loss.sigmoidBinaryCrossEntropy(x, f64(L.t)), L.z],
  ["sigmoidBinaryCrossEntropyBig", (x) => Loss.sigmoidBinaryCrossEntropy(x, Tensor.make([0, 1, 1], { dtype: "float64" })), { shape: [3], data: [1000, -1000, 1000] }],
  ["mse", (x) => Loss.mse(x, f64(L.target)), L.pred],
  ["huber", (x) => Loss.huber(x, f64(L.target)), L.pred],
  ["huberDelta", (x) => Loss.huber(x, f64(L.target), { delta: 2.5 }), L.pred]
]

describe("losses match PyTorch (value and gradient, float64)", () => {
  it.each(cases)("%s", async (name, f, x) => {
    const r = await valueAndGradOf(f, f64(x))
    expect(Number.isFinite(r.value)).toBe(true)
    expectClose([r.value], [L[name].value], 1e-12, `${name} value`)
    expectClose(r.grad, L[name].grad.data, 1e-12, `${name} grad`)
  })
})

describe("closed forms and stability", () => {
  it("cross-entropy of uniform logits is log C; int labels equal their one-hot probabilities", async () => {
    const [uniform, viaInt, viaProbs] = await run(
      Effect.all([
        Tensor.item(Loss.softmaxCrossEntropy(Tensor.zeros([3, 4]), Tensor.make([0, 1, 3], { dtype: "int32" }))),
        Tensor.item(Loss.softmaxCrossEntropy(Tensor.make([[1, 2, 3], [0, -1, 4]]), Tensor.make([2, 0], { dtype: "int32" }))),
        Tensor.item(Loss.softmaxCrossEntropy(Tensor.make([[1, 2, 3], [0, -1, 4]]), Tensor.make([[0, 0, 1], [1, 0, 0]])))
      ])
    )
    expect(uniform).toBeCloseTo(Math.log(4), 6)
    expect(viaInt).toBeCloseTo(viaProbs, 6)
  })

  it("cross-entropy over another axis: the class axis first", async () => {
    const x = Tensor.make([[1, 2, 3], [0, -1, 4]]) // classes on axis 0, 3 positions
    const [a, b] = await run(
      Effect.all([
        Tensor.item(Loss.softmaxCrossEntropy(x, Tensor.make([1, 0, 1], { dtype: "int32" }), { axis: 0 })),
        Tensor.item(Loss.softmaxCrossEntropy(Tensor.transpose(x), Tensor.make([1, 0, 1], { dtype: "int32" })))
      ])
    )
    expect(a).toBeCloseTo(b, 6)
  })

  it("binary cross-entropy is log 2 at z = 0 and -log σ(z) for t = 1; mse and huber", async () => {
    const [zero, pos, m, h] = await run(
      Effect.all([
        Tensor.item(Loss.sigmoidBinaryCrossEntropy(Tensor.zeros([5]), Tensor.make([0, 1, 1, 0, 1]))),
        Tensor.item(Loss.sigmoidBinaryCrossEntropy(Tensor.make([2]), Tensor.make([1]))),
        Tensor.item(Loss.mse(Tensor.make([1, 2, 3]), Tensor.make([1, 0, 0]))),
        Tensor.item(Loss.huber(Tensor.make([0.5, 3, -2]), Tensor.zeros([3])))
      ])
    )
    expect(zero).toBeCloseTo(Math.log(2), 6)
    expect(pos).toBeCloseTo(Math.log(1 + Math.exp(-2)), 6)
    expect(m).toBeCloseTo(13 / 3, 5)
    expect(h).toBeCloseTo((0.125 + 2.5 + 1.5) / 3, 6)
  })

  it("logits of ±1000 in float32: finite losses and gradients", async () => {
    const big = Tensor.make([[1000, -1000, 0], [-1000, 1000, 999]])
    const r = await run(
      Effect.gen(function* () {
        const ce = (x: Tensor.Tensor) => Loss.softmaxCrossEntropy(x, Tensor.make([1, 0], { dtype: "int32" }))
        const bce = (x: Tensor.Tensor) => Loss.sigmoidBinaryCrossEntropy(x, Tensor.make([[0, 1, 1], [1, 0, 0]]))
        return [yield* Tensor.item(ce(big)), ...(yield* Tensor.data(yield* grad(ce)(big))), yield* Tensor.item(bce(big)), ...(yield* Tensor.data(yield* grad(bce)(big)))]
      })
    )
    for (const v of r) expect(Number.isFinite(v)).toBe(true)
    expect(r[0]).toBeCloseTo(2000 + Math.log(1 + Math.exp(-1)) / 2, 2) // (2000 + 2000 + log(1 + e⁻¹)) / 2
  })
})

describe("derivatives (checkGrads, both modes, order 2)", () => {
  const x = Tensor.make([[0.3, -1.2, 2], [1.5, 0.1, -0.7]], { dtype: "float64" })
  const probs = Tensor.make([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]], { dtype: "float64" })
  const targets = Tensor.make([[0, 1, 0.5], [1, 0, 0.25]], { dtype: "float64" })
  const fns: ReadonlyArray<readonly [string, (x: Tensor.Tensor) => Tensor.Tensor]> = [
    ["softmaxCrossEntropy (int labels)", (x) => Loss.softmaxCrossEntropy(x, Tensor.make([2, 0], { dtype: "int32" }))],
    ["softmaxCrossEntropy (probabilities)", (x) => Loss.softmaxCrossEntropy(x, probs)],
    ["sigmoidBinaryCrossEntropy", (x) => Loss.sigmoidBinaryCrossEntropy(x, targets)],
    ["mse", (x) => Loss.mse(x, targets)],
    ["huber (away from the kink at |d| = delta)", (x) => Loss.huber(x, targets, { delta: 0.8 })]
  ]
  it.each(fns)("%s", async (_name, f) => {
    await run(checkGrads(f, [x], { order: 2 }))
  })
})

describe("bad input is a typed failure naming the op", () => {
  const bad: ReadonlyArray<readonly [string, () => Tensor.Tensor, string, RegExp]> = [
    ["labels of another shape", () => Loss.softmaxCrossEntropy(Tensor.zeros([4, 3]), Tensor.zeros([3], { dtype: "int32" })), "ShapeError", /softmaxCrossEntropy: int32 labels must have shape \[4\]/],
    ["probabilities of another shape", () => Loss.softmaxCrossEntropy(Tensor.zeros([4, 3]), Tensor.zeros([4, 2])), "ShapeError", /probability labels must have the logits' shape \[4, 3\]/],
    ["bool labels", () => Loss.softmaxCrossEntropy(Tensor.zeros([4, 3]), Tensor.zeros([4], { dtype: "bool" })), "DTypeError", /labels must be int32/],
    ["int logits", () => Loss.softmaxCrossEntropy(Tensor.zeros([4, 3], { dtype: "int32" }), Tensor.zeros([4], { dtype: "int32" })), "DTypeError", /logits must be float32 or float64/],
    ["a bad axis", () => Loss.softmaxCrossEntropy(Tensor.zeros([4, 3]), Tensor.zeros([4], { dtype: "int32" }), { axis: 2 }), "ShapeError", /axis 2 is out of range/],
    ["mse of [N, 1] and [N]", () => Loss.mse(Tensor.zeros([4, 1]), Tensor.zeros([4])), "ShapeError", /Loss\.mse: pred and target must have the same shape, got float32\[4, 1\] and float32\[4\]/],
    ["bce of other shapes", () => Loss.sigmoidBinaryCrossEntropy(Tensor.zeros([2]), Tensor.zeros([3])), "ShapeError", /logits and targets must have the same shape/],
    ["huber delta 0", () => Loss.huber(Tensor.zeros([2]), Tensor.zeros([2]), { delta: 0 }), "ShapeError", /delta must be a positive number/],
    ["not a tensor", () => Loss.mse([1, 2] as never, Tensor.zeros([2])), "DTypeError", /pred must be a Tensor/]
  ]
  it.each(bad)("%s", async (_name, f, tag, message) => {
    const e = await failureOf(Tensor.data(f()))
    expect(e._tag).toBe(tag)
    expect(e.message).toMatch(message)
  })
})
