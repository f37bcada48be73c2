/**
 * Shape and dtype mistakes never throw: the op returns a tensor that fails
 * with a typed `ShapeError` / `DTypeError` when read (`data`, `toArray`,
 * `item`), whose message names the op and the shapes or dtypes involved. The
 * error propagates through further ops.
 */
import { Effect, pipe } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { arbShape, expectFailure, failureOf, runs } from "./helpers.js"

const a23 = Tensor.ones([2, 3])

describe("shape errors name the op and the shapes", () => {
  const cases: ReadonlyArray<readonly [string, () => Tensor.Tensor, ReadonlyArray<string>]> = [
    ["add", () => Tensor.add(Tensor.ones([2]), Tensor.ones([3])), ["add", "[2]", "[3]"]],
    ["sub data-last", () => pipe(Tensor.ones([4, 2]), Tensor.sub(Tensor.ones([3]))), ["sub", "[4, 2]", "[3]"]],
    ["mul", () => Tensor.mul(Tensor.ones([2, 3]), Tensor.ones([3, 2])), ["mul", "[2, 3]", "[3, 2]"]],
    ["div", () => Tensor.div(Tensor.ones([0]), Tensor.ones([2])), ["div", "[0]", "[2]"]],
    ["pow", () => Tensor.pow(Tensor.ones([2]), Tensor.ones([5])), ["pow", "[2]", "[5]"]],
    ["maximum", () => Tensor.maximum(Tensor.ones([2]), Tensor.ones([5])), ["max", "[2]", "[5]"]],
    ["greater", () => Tensor.greater(Tensor.ones([2]), Tensor.ones([5])), ["greater", "[2]", "[5]"]],
    ["equal", () => Tensor.equal(Tensor.ones([2]), Tensor.ones([5])), ["equal", "[2]", "[5]"]],
    ["where", () => Tensor.where(Tensor.ones([2], { dtype: "bool" }), Tensor.ones([3]), 0), ["where", "[2]", "[3]"]],
    ["matmul inner", () => Tensor.matmul(Tensor.ones([3]), Tensor.ones([2, 2])), ["matmul: inner dimensions differ: [3] @ [2, 2]"]],
    ["matmul inner 2-D", () => Tensor.matmul(a23, a23), ["matmul", "[2, 3] @ [2, 3]"]],
    ["matmul batch", () => Tensor.matmul(Tensor.ones([2, 2, 3]), Tensor.ones([3, 3, 1])), ["matmul", "batch", "[2, 2, 3]", "[3, 3, 1]"]],
    ["matmul scalar", () => Tensor.matmul(Tensor.ones([]), a23), ["matmul", "[]", "[2, 3]"]],
    ["reshape size", () => Tensor.reshape(a23, [4, 2]), ["reshape", "[2, 3]", "[4, 2]"]],
    ["reshape -1", () => Tensor.reshape(a23, [4, -1]), ["reshape", "[2, 3]", "[4, -1]"]],
    ["reshape two -1", () => Tensor.reshape(a23, [-1, -1]), ["reshape", "[-1, -1]"]],
    ["reshape data-last", () => pipe(a23, Tensor.reshape([7])), ["reshape", "[2, 3]", "[7]"]],
    ["transpose short", () => Tensor.transpose(a23, [0]), ["transpose", "[0]", "[2, 3]"]],
    ["transpose repeated", () => Tensor.transpose(a23, [1, 1]), ["transpose", "[1, 1]", "[2, 3]"]],
    ["transpose out of range", () => Tensor.transpose(a23, [0, 2]), ["transpose", "[0, 2]", "[2, 3]"]],
    ["slice arity", () => Tensor.slice(a23, [0], [1]), ["slice", "[2, 3]"]],
    ["slice non-integer", () => Tensor.slice(a23, [0, 0.5], [1, 2]), ["slice", "0.5"]],
    ["concat shapes", () => Tensor.concat([a23, Tensor.ones([2, 4])]), ["concat", "[2, 3]", "[2, 4]"]],
    ["concat rank", () => Tensor.concat([a23, Tensor.ones([6])]), ["concat", "[2, 3]", "[6]"]],
    ["concat axis", () => Tensor.concat([a23, a23], 2), ["concat", "axis 2"]],
    ["concat empty", () => Tensor.concat([]), ["concat"]],
    ["concat scalars", () => Tensor.concat([1, 2]), ["concat"]],
    ["sum axis", () => Tensor.sum(a23, { axis: 2 }), ["sum", "2", "[2, 3]"]],
    ["sum repeated axis", () => Tensor.sum(a23, { axis: [0, -2] }), ["sum", "[2, 3]"]],
    ["mean axis", () => Tensor.mean(a23, { axis: -3 }), ["mean", "-3", "[2, 3]"]],
    ["max axis", () => Tensor.max(a23, { axis: 1.5 }), ["max", "[2, 3]"]],
    ["max empty", () => Tensor.max(Tensor.zeros([2, 0]), { axis: 1 }), ["max", "empty", "[2, 0]"]],
    ["min empty", () => Tensor.min(Tensor.zeros([0])), ["empty", "[0]"]],
    ["logsumexp axis", () => Tensor.logsumexp(a23, { axis: 5 }), ["logsumexp", "[2, 3]"]],
    ["softmax axis", () => Tensor.softmax(a23, { axis: 2 }), ["[2, 3]"]],
    ["broadcastTo", () => Tensor.broadcastTo(Tensor.ones([3]), [2, 2]), ["broadcastTo", "[3]", "[2, 2]"]],
    ["broadcastTo fewer axes", () => Tensor.broadcastTo(a23, [3]), ["broadcastTo", "[2, 3]", "[3]"]],
    ["expandDims past the end", () => Tensor.expandDims(a23, 3), ["expandDims", "3", "[2, 3]"]],
    ["expandDims before the start", () => Tensor.expandDims(a23, -4), ["expandDims", "-4", "[2, 3]"]],
    ["zeros negative", () => Tensor.zeros([2, -1]), ["[2, -1]"]],
    ["full fractional", () => Tensor.full([1.5], 0), ["[1.5]"]],
    ["arange step 0", () => Tensor.arange(0, 5, 0), ["arange", "step"]],
    ["arange infinite stop", () => Tensor.arange(0, Infinity), ["arange", "Infinity"]],
    ["arange NaN stop", () => Tensor.arange(NaN), ["arange", "NaN"]],
    ["broadcastTo negative", () => Tensor.broadcastTo(Tensor.ones([1]), [-1]), ["broadcastTo", "[1]", "[-1]"]],
    ["broadcastTo fractional", () => Tensor.broadcastTo(Tensor.ones([]), [2, 1.5]), ["broadcastTo", "[2, 1.5]"]],
    ["linspace num", () => Tensor.linspace(0, 1, -2), ["linspace", "-2"]],
    ["eye negative", () => Tensor.eye(-1), ["eye", "-1"]]
  ]
  for (const [name, make, fragments] of cases) {
    it(name, async () => {
      await expectFailure(make, "ShapeError", ...fragments)
    })
  }
})

describe("dtype errors", () => {
  it("cast to an unknown dtype", async () => {
    await expectFailure(() => Tensor.cast(a23, "int8" as never), "DTypeError", "cast", "int8")
    await expectFailure(() => pipe(a23, Tensor.cast("uint8" as never)), "DTypeError", "cast", "uint8")
  })

  it("constructors with an unknown dtype fail when read instead of throwing", async () => {
    await expectFailure(() => Tensor.zeros([2], { dtype: "int8" as never }), "DTypeError", "zeros", "int8")
    await expectFailure(() => Tensor.ones([2], { dtype: "int8" as never }), "DTypeError", "ones", "int8")
    await expectFailure(() => Tensor.full([2], 1, { dtype: "uint8" as never }), "DTypeError", "full", "uint8")
    await expectFailure(() => Tensor.zerosLike(a23, { dtype: "int8" as never }), "DTypeError", "int8")
    await expectFailure(() => Tensor.onesLike(a23, { dtype: "int8" as never }), "DTypeError", "int8")
    await expectFailure(() => Tensor.arange(3, undefined, 1, { dtype: "int8" as never }), "DTypeError", "arange", "int8")
    await expectFailure(() => Tensor.linspace(0, 1, 3, { dtype: "int8" as never }), "DTypeError", "linspace", "int8")
    await expectFailure(() => Tensor.eye(2, 2, { dtype: "int8" as never }), "DTypeError", "eye", "int8")
  })

  it("ordering complex numbers", async () => {
    const z = Tensor.make({ re: [1, 2], im: [0, 1] }, { dtype: "complex64" })
    await expectFailure(() => Tensor.max(z), "DTypeError", "max", "complex")
    await expectFailure(() => Tensor.greater(z, 0), "DTypeError", "greater", "complex")
    await expectFailure(() => Tensor.logsumexp(z), "DTypeError", "logsumexp", "complex64")
  })
})

describe("propagation", () => {
  it("an error tensor flows through every later op, data-first and data-last, and keeps its message", async () => {
    const bad = Tensor.add(Tensor.ones([2]), Tensor.ones([3]))
    const later: ReadonlyArray<Tensor.Tensor> = [
      Tensor.exp(bad),
      Tensor.mul(bad, 2),
      Tensor.mul(2, bad),
      pipe(a23, Tensor.add(bad)),
      Tensor.sum(bad, { axis: 0 }),
      Tensor.mean(bad),
      Tensor.max(bad),
      Tensor.softmax(bad),
      Tensor.logSoftmax(bad),
      Tensor.matmul(bad, a23),
      Tensor.reshape(bad, [6]),
      Tensor.transpose(bad),
      Tensor.slice(bad, [0], [1]),
      Tensor.concat([bad, a23]),
      Tensor.cast(bad, "int32"),
      Tensor.where(bad, 1, 0),
      Tensor.expandDims(bad, 0),
      Tensor.broadcastTo(bad, [2, 3]),
      Tensor.sigmoid(bad),
      Tensor.zerosLike(bad),
      Tensor.onesLike(bad, { dtype: "int32" }),
      Tensor.relu(bad),
      pipe(bad, Tensor.sum(), Tensor.add(1), Tensor.reshape([1]))
    ]
    for (const t of later) await expectFailure(() => t, "ShapeError", "add: shapes [2] and [3] do not broadcast")
  })

  it("random incompatible shapes fail with a message naming both", async () => {
    const arb = fc
      .tuple(arbShape(3, 2, 4), arbShape(3, 2, 4))
      .filter(([a, b]) => {
        const n = Math.min(a.length, b.length)
        return n > 0 && a.slice(-n).some((d, i) => d !== b.slice(-n)[i])
      })
    await fc.assert(
      fc.asyncProperty(arb, async ([sa, sb]) => {
        const fmt = (s: ReadonlyArray<number>) => `[${s.join(", ")}]`
        await expectFailure(() => Tensor.add(Tensor.ones(sa), Tensor.ones(sb)), "ShapeError", "add", fmt(sa), fmt(sb))
      }),
      runs(30)
    )
  })

  it("the failure is catchable by tag", async () => {
    const program = Tensor.toArray(Tensor.matmul(Tensor.ones([3]), Tensor.ones([2, 2]))).pipe(
      Effect.catchTag("ShapeError", (e) => Effect.succeed(`caught: ${e.message}`))
    )
    expect(await Effect.runPromise(program)).toBe("caught: matmul: inner dimensions differ: [3] @ [2, 2]")
    const e = await failureOf(Tensor.item(Tensor.reshape(a23, [5])))
    expect(e._tag).toBe("ShapeError")
  })
})
