/**
 * The ops of issue 14 as a user meets them: data-first and data-last forms
 * agree, JAX's semantics at the edges (argmax ties, clamped and negative
 * indices, accumulating scatter-add, empty axes, saturating casts), and
 * typed failures naming the op, the shapes and the dtypes for bad input.
 */
import { Effect, pipe } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { expectFailure } from "./helpers.js"

type T = Tensor.Tensor
const arr = (t: T) => Effect.runPromise(Tensor.toArray(t))
const i32 = (data: number[]) => Tensor.make(Int32Array.from(data), { dtype: "int32" })
const x = Tensor.make([[3, 1, 2], [0.5, -1, 4]])

describe("data-first and data-last forms agree", () => {
  const pairs: ReadonlyArray<readonly [string, T, T]> = [
    ["clip", Tensor.clip(x, 0, 2), pipe(x, Tensor.clip(0, 2))],
    ["mod", Tensor.mod(x, 2), pipe(x, Tensor.mod(2))],
    ["atan2", Tensor.atan2(x, 2), pipe(x, Tensor.atan2(2))],
    ["gelu", Tensor.gelu(x, { approximate: false }), pipe(x, Tensor.gelu({ approximate: false }))],
    ["elu", Tensor.elu(x, { alpha: 2 }), pipe(x, Tensor.elu({ alpha: 2 }))],
    ["leakyRelu", Tensor.leakyRelu(x), pipe(x, Tensor.leakyRelu())],
    ["prod", Tensor.prod(x, { axis: 1 }), pipe(x, Tensor.prod({ axis: 1 }))],
    ["variance", Tensor.variance(x, { ddof: 1 }), pipe(x, Tensor.variance({ ddof: 1 }))],
    ["norm", Tensor.norm(x, { ord: 1 }), pipe(x, Tensor.norm({ ord: 1 }))],
    ["argmax", Tensor.argmax(x, { axis: 0 }), pipe(x, Tensor.argmax({ axis: 0 }))],
    ["cumsum", Tensor.cumsum(x, { axis: 1, reverse: true }), pipe(x, Tensor.cumsum({ axis: 1, reverse: true }))],
    ["stack", Tensor.stack([x, x], 2), pipe([x, x], Tensor.stack(2))],
    ["tile", Tensor.tile(x, [2]), pipe(x, Tensor.tile([2]))],
    ["flip", Tensor.flip(x, 1), pipe(x, Tensor.flip(1))],
    ["pad", Tensor.pad(x, [[1, 1]], { value: 5 }), pipe(x, Tensor.pad([[1, 1]], { value: 5 }))],
    ["triu", Tensor.triu(x, 1), pipe(x, Tensor.triu(1))],
    ["take", Tensor.take(x, i32([1, 0]), { axis: 1 }), pipe(x, Tensor.take(i32([1, 0]), { axis: 1 }))],
    ["take (no options)", Tensor.take(x, i32([1])), pipe(x, Tensor.take(i32([1])))],
    ["takeAlongAxis", Tensor.takeAlongAxis(x, Tensor.argsort(x), 1), pipe(x, Tensor.takeAlongAxis(Tensor.argsort(x), 1))],
    ["indexAdd", Tensor.indexAdd(x, i32([1, 1]), 1, { axis: 1 }), pipe(x, Tensor.indexAdd(i32([1, 1]), 1, { axis: 1 }))],
    ["oneHot", Tensor.oneHot(i32([2, 0]), 3), pipe(i32([2, 0]), Tensor.oneHot(3))],
    ["sort", Tensor.sort(x, { descending: true }), pipe(x, Tensor.sort({ descending: true }))],
    ["topk", Tensor.topk(x, 2)[1], pipe(x, Tensor.topk(2))[1]]
  ]
  for (const [name, a, b] of pairs) it(name, async () => expect(await arr(a)).toEqual(await arr(b)))
  it("split", async () => {
    const [a, b] = Tensor.split(x, 3, 1)
    const [c] = pipe(x, Tensor.split([1, 2], 1))
    expect(await arr(a!)).toEqual(await arr(c!))
    expect(b!.shape).toEqual([2, 1])
  })
})

describe("JAX's semantics at the edges", () => {
  it("argmax and argmin: ties go to the first index, NaN wins, int32 results", async () => {
    const t = Tensor.make([1, 3, 3, 0, 0])
    expect(await arr(Tensor.argmax(t))).toBe(1)
    expect(await arr(Tensor.argmin(t))).toBe(3)
    expect(await arr(Tensor.argmax(Tensor.make([1, NaN, 5, NaN])))).toBe(1)
    expect(Tensor.argmax(x, { axis: 1, keepdims: true }).shape).toEqual([2, 1])
    expect(Tensor.argmax(x).dtype).toBe("int32")
  })
  it("take: negative indices count from the end, out-of-range ones clamp", async () => {
    expect(await arr(Tensor.take(Tensor.make([10, 20, 30]), i32([-1, -3, 3, -4, 100])))).toEqual([30, 10, 30, 10, 30])
  })
  it("indexAdd: repeated indices accumulate", async () => {
    expect(await arr(Tensor.indexAdd(Tensor.zeros([3]), i32([2, 2, 2, 0]), Tensor.make([1, 2, 3, 4])))).toEqual([4, 0, 6])
  })
  it("sort and topk: stable, NaN last ascending, largest first", async () => {
    expect(await arr(Tensor.argsort(Tensor.make([2, NaN, 1, 2])))).toEqual([2, 0, 3, 1])
    const [v, i] = Tensor.topk(Tensor.make([[1, 5, 5, 2]]), 3)
    expect(await arr(v)).toEqual([[5, 5, 2]])
    expect(await arr(i)).toEqual([[1, 2, 3]])
  })
  it("empty axes: softmax and logSoftmax give empty tensors, logsumexp −∞, sum 0", async () => {
    expect(Tensor.softmax(Tensor.zeros([3, 0])).shape).toEqual([3, 0])
    expect(await arr(Tensor.logSoftmax(Tensor.zeros([0])))).toEqual([])
    expect(await arr(Tensor.logsumexp(Tensor.zeros([2, 0]), { axis: -1 }))).toEqual([-Infinity, -Infinity])
    expect(await arr(Tensor.logsumexp(Tensor.zeros([0])))).toBe(-Infinity)
    expect(await arr(Tensor.sum(Tensor.zeros([0])))).toBe(0)
  })
  it("float → int32 casts saturate, NaN → 0", async () => {
    expect(await arr(Tensor.cast(Tensor.make([NaN, 1e10, -1e10, Infinity, -2.9]), "int32"))).toEqual([0, 2147483647, -2147483648, 2147483647, -2])
  })
  it("prod of an empty axis is 1, floor of int32 is itself", async () => {
    expect(await arr(Tensor.prod(Tensor.zeros([2, 0]), { axis: 1 }))).toEqual([1, 1])
    expect(await arr(Tensor.floor(i32([3, -4])))).toEqual([3, -4])
  })
})

describe("bad input is a typed failure naming the op, shapes and dtypes", () => {
  const cases: ReadonlyArray<readonly [string, () => T, "ShapeError" | "DTypeError", ReadonlyArray<string>]> = [
    ["take float indices", () => Tensor.take(x, Tensor.make([0, 1])), "DTypeError", ["take", "int32", "float32[2]", "float32[2, 3]"]],
    ["take axis", () => Tensor.take(x, i32([0]), { axis: 2 }), "ShapeError", ["take", "axis 2", "[2, 3]"]],
    ["take empty axis", () => Tensor.take(Tensor.zeros([0, 2]), i32([0])), "ShapeError", ["take", "empty", "[0, 2]"]],
    ["takeAlongAxis rank", () => Tensor.takeAlongAxis(x, i32([0]), 0), "ShapeError", ["takeAlongAxis", "[1]", "[2, 3]"]],
    ["indexAdd float indices", () => Tensor.indexAdd(x, Tensor.make([0]), 1), "DTypeError", ["indexAdd", "int32", "float32[1]"]],
    ["indexAdd updates", () => Tensor.indexAdd(x, i32([0, 1]), Tensor.ones([3, 3])), "ShapeError", ["indexAdd", "[3, 3]", "[2, 3]"]],
    ["oneHot float", () => Tensor.oneHot(Tensor.make([1]), 3), "DTypeError", ["oneHot", "int32", "float32[1]"]],
    ["einsum operand count", () => Tensor.einsum("ij,jk->ik", x), "ShapeError", ["einsum", "ij,jk->ik", "2 operands, got 1", "[2, 3]"]],
    ["einsum rank", () => Tensor.einsum("ijk->i", x), "ShapeError", ["einsum", "3 labels", "2 axes", "[2, 3]"]],
    ["einsum sizes", () => Tensor.einsum("ij,jk->ik", x, x), "ShapeError", ["einsum", '"j"', "3 and 2", "[2, 3], [2, 3]"]],
    ["einsum output label", () => Tensor.einsum("ij->iz", x), "ShapeError", ["einsum", '"z"']],
    ["einsum characters", () => Tensor.einsum("i1->i", x), "ShapeError", ["einsum", "character"]],
    ["topk k", () => Tensor.topk(x, 4)[0], "ShapeError", ["topk", "k = 4", "float32[2, 3]"]],
    ["sort axis", () => Tensor.sort(x, { axis: 3 }), "ShapeError", ["sort", "axis 3", "[2, 3]"]],
    ["sort complex", () => Tensor.sort(Tensor.make({ re: [1], im: [2] }, { dtype: "complex64" })), "DTypeError", ["sort", "complex"]],
    ["cumsum axis", () => Tensor.cumsum(x, { axis: -3 }), "ShapeError", ["cumsum", "axis -3", "[2, 3]"]],
    ["argmax axis", () => Tensor.argmax(x, { axis: 2 }), "ShapeError", ["argmax", "axis 2", "[2, 3]"]],
    ["argmax empty", () => Tensor.argmax(Tensor.zeros([0])), "ShapeError", ["argmax", "empty", "[0]"]],
    ["prod axis", () => Tensor.prod(x, { axis: 5 }), "ShapeError", ["prod", "5", "[2, 3]"]],
    ["stack shapes", () => Tensor.stack([x, Tensor.ones([3])]), "ShapeError", ["stack", "[2, 3]", "[3]"]],
    ["stack axis", () => Tensor.stack([x, x], 4), "ShapeError", ["stack", "axis 4", "[2, 3]"]],
    ["split sections", () => Tensor.split(x, 2, 1)[0]!, "ShapeError", ["split", "[2, 3]", "2 equal"]],
    ["split sizes", () => Tensor.split(x, [1, 1], 1)[0]!, "ShapeError", ["split", "[1, 1]", "[2, 3]"]],
    ["pad widths", () => Tensor.pad(x, [[1, 1], [0, -1]]), "ShapeError", ["pad", "[2, 3]"]],
    ["triu rank", () => Tensor.triu(Tensor.ones([3])), "ShapeError", ["triu", "[3]"]],
    ["flip axis", () => Tensor.flip(x, 2), "ShapeError", ["flip", "axis 2", "[2, 3]"]],
    ["asin complex", () => Tensor.asin(Tensor.make({ re: [1], im: [2] }, { dtype: "complex64" })), "DTypeError", ["asin", "complex64"]],
    ["take not a tensor", () => Tensor.take(x, "0" as unknown as Tensor.Tensor), "DTypeError", ["take", "indices", "string"]],
    ["norm ord", () => Tensor.norm(x, { ord: 3 as never }), "ShapeError", ["norm", "ord"]]
  ]
  for (const [name, make, tag, fragments] of cases) it(name, () => expectFailure(make, tag, ...fragments).then(() => undefined))
})
