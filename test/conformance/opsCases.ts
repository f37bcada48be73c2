/**
 * Conformance cases of issue 14: the erf, floor and atan2 primitives, the
 * indexing, sorting and scanning primitives (gather, scatterAdd, argsort,
 * cumsum: clamping and negative indices, repeated indices, ties and NaN,
 * batch axes, sizes that span many texture rows), the composed public ops,
 * and the edge cases (empty axes, saturating float → int32 casts).
 */
import { Internal, Tensor } from "@diffect/core"
import type { Case } from "./cases.js"
import { ints, uniform } from "./data.js"

const bind = Internal.bind
const i32 = (data: ReadonlyArray<number>, shape?: ReadonlyArray<number>) => Tensor.make(Int32Array.from(data), { dtype: "int32", ...(shape ? { shape } : {}) })
const f32 = (data: ReadonlyArray<number>) => Tensor.make(Float32Array.from(data))
const tol = { rtol: 2e-4, atol: 2e-5 }

const elementwise: Case[] = [
  ...[[7], [3, 5], [0], [3001]].map((shape, i): Case => ({
    name: `erf, floor float32 [${shape}]`,
    prims: ["erf", "floor"],
    run: () => {
      const x = uniform(shape, 71 + i, -4, 4)
      return [bind("erf", [x], {}), bind("floor", [x], {})]
    },
    tol
  })),
  {
    name: "erf and floor of edge values",
    prims: ["erf", "floor"],
    run: () => {
      const x = f32([0, -0, 1e-6, -1e-6, 0.5, -2.5, 6, -30, Infinity, -Infinity, NaN, 2.999999])
      return [bind("erf", [x], {}), bind("floor", [x], {})]
    },
    expected: [
      [0, 0, 1.1283791e-6, -1.1283791e-6, 0.52049988, -0.99959305, 1, -1, 1, -1, NaN, 0.99997791],
      [0, -0, 0, -1, 0, -3, 6, -30, Infinity, -Infinity, NaN, 2]
    ],
    tol: { rtol: 2e-6, atol: 2e-7 }
  },
  ...[[7], [3001]].map((shape, i): Case => ({
    name: `atan2 float32 [${shape}]`,
    prims: ["atan2"],
    run: () => bind("atan2", [uniform(shape, 81 + i, -3, 3), uniform(shape, 91 + i, -3, 3)], {}),
    tol
  })),
  {
    name: "atan2 quadrants and zeros",
    prims: ["atan2"],
    run: () => bind("atan2", [f32([1, 1, -1, -1, 0, 0, 1, -1]), f32([1, -1, 1, -1, 1, -1, 0, 0])], {}),
    expected: [[Math.PI / 4, (3 * Math.PI) / 4, -Math.PI / 4, (-3 * Math.PI) / 4, 0, Math.PI, Math.PI / 2, -Math.PI / 2]],
    tol
  }
]

const indexing: Case[] = [
  {
    name: "gather: negative and out-of-range indices clamp, any index shape",
    prims: ["gather"],
    run: () => {
      const x = Tensor.reshape(Tensor.arange(0, 12, 1, { dtype: "float32" }), [3, 4])
      const idx = i32([0, -1, 3, 7, -9, 2], [2, 3])
      return [bind("gather", [x, idx], { axis: 1, batchDims: 0 }), bind("gather", [x, i32([2, 0, -1])], { axis: 0, batchDims: 0 })]
    },
    expected: [
      [0, 3, 3, 3, 0, 2, 4, 7, 7, 7, 4, 6, 8, 11, 11, 11, 8, 10],
      [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]
    ]
  },
  {
    name: "gather: int32 and bool values, batch axes",
    prims: ["gather"],
    run: () => {
      const x = ints([2, 3, 5], 5)
      const idx = ints([2, 4], 6, -6, 6)
      return [bind("gather", [x, idx], { axis: 2, batchDims: 1 }), bind("gather", [Tensor.greater(x, 0), idx], { axis: 2, batchDims: 1 })]
    }
  },
  {
    name: "gather: a large table (an embedding lookup)",
    prims: ["gather"],
    run: () => bind("gather", [uniform([500, 9], 7), ints([300], 8, -600, 600)], { axis: 0, batchDims: 0 })
  },
  {
    name: "scatterAdd: repeated and clamped indices accumulate",
    prims: ["scatterAdd"],
    run: () => {
      const x = Tensor.zeros([4, 2])
      const idx = i32([0, 0, -1, 9, 1])
      const u = Tensor.reshape(Tensor.arange(0, 10, 1, { dtype: "float32" }), [5, 2])
      return bind("scatterAdd", [x, idx, u], { axis: 0, batchDims: 0 })
    },
    expected: [[2, 4, 8, 9, 0, 0, 10, 12]]
  },
  {
    name: "scatterAdd: int32, batch axes",
    prims: ["scatterAdd"],
    run: () => bind("scatterAdd", [ints([3, 4], 3), i32([1, 1, 2], [1, 3]).pipe(Tensor.broadcastTo([3, 3])), ints([3, 3], 4)], { axis: 1, batchDims: 1 })
  },
  {
    name: "scatterAdd: many rows",
    prims: ["scatterAdd"],
    run: () => bind("scatterAdd", [uniform([40, 30], 9), ints([70], 10, 0, 39), uniform([70, 30], 11)], { axis: 0, batchDims: 0 }),
    tol
  },
  {
    name: "argsort: ties by position, NaN last (first descending)",
    prims: ["argsort"],
    run: () => {
      const x = f32([3, NaN, 1, 3, -0, 0, NaN, -5])
      return [bind("argsort", [x], { descending: false }), bind("argsort", [x], { descending: true })]
    },
    expected: [
      [7, 4, 5, 2, 0, 3, 1, 6],
      [1, 6, 0, 3, 2, 4, 5, 7]
    ]
  },
  {
    name: "argsort: rows, int32, many rows",
    prims: ["argsort"],
    run: () => [bind("argsort", [uniform([64, 33], 12)], { descending: false }), bind("argsort", [ints([5, 7], 13)], { descending: true }), bind("argsort", [uniform([3, 0], 1)], { descending: false })]
  },
  {
    name: "cumsum: axes, reverse, int32",
    prims: ["cumsum"],
    run: () => {
      const x = Tensor.reshape(Tensor.arange(0, 6, 1, { dtype: "float32" }), [2, 3])
      return [bind("cumsum", [x], { axis: 1, reverse: false }), bind("cumsum", [x], { axis: 0, reverse: true })]
    },
    expected: [
      [0, 1, 3, 3, 7, 12],
      [3, 5, 7, 3, 4, 5]
    ]
  },
  { name: "cumsum: int32", prims: ["cumsum"], run: () => bind("cumsum", [ints([4, 5, 3], 14)], { axis: 1, reverse: false }) },
  {
    name: "cumsum: a long axis",
    prims: ["cumsum"],
    run: () => bind("cumsum", [uniform([3, 700], 15)], { axis: 1, reverse: true }),
    tol: { rtol: 1e-4, atol: 1e-4 }
  }
]

const composed: Case[] = [
  {
    name: "public ops: trig, hyperbolic, rounding, activations",
    prims: ["atan2", "floor", "erf"],
    run: () => {
      const x = uniform([40], 21, -0.95, 0.95)
      const y = uniform([40], 22, -3, 3)
      return [Tensor.tan(x), Tensor.asin(x), Tensor.acos(x), Tensor.atan(y), Tensor.sinh(y), Tensor.cosh(y), Tensor.asinh(y), Tensor.acosh(Tensor.add(Tensor.abs(y), 1)), Tensor.atanh(x),
        Tensor.ceil(y), Tensor.round(y), Tensor.mod(y, 0.7), Tensor.clip(y, -1, 1), Tensor.softplus(y), Tensor.logSigmoid(y), Tensor.gelu(y), Tensor.gelu(y, { approximate: false }), Tensor.silu(y), Tensor.elu(y), Tensor.leakyRelu(y), Tensor.logaddexp(x, y)]
    },
    tol: { rtol: 5e-4, atol: 5e-5 }
  },
  {
    name: "public ops: round halves to even, integer mod",
    prims: ["floor"],
    run: () => [Tensor.round(f32([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6])), Tensor.mod(i32([-7, 7, -7, 7, 5]), i32([3, 3, -3, -3, 0]))],
    expected: [
      [0, 2, 2, -0, -2, 2, -3],
      [2, 1, -1, -2, 0]
    ]
  },
  {
    name: "public ops: reductions, argmax ties and NaN",
    prims: ["sum"],
    run: () => {
      const x = uniform([6, 7], 23, -2, 2)
      return [Tensor.prod(x, { axis: 1 }), Tensor.variance(x, { axis: 0 }), Tensor.std(x), Tensor.norm(x), Tensor.norm(x, { ord: 1, axis: 1 }), Tensor.norm(x, { ord: "inf" }),
        Tensor.argmax(x, { axis: 1 }), Tensor.argmin(x), Tensor.argmax(f32([1, 3, 3, NaN, 2, NaN])), Tensor.argmin(f32([2, 1, 1, 4]))]
    },
    tol
  },
  {
    name: "public ops: shapes, indexing, sorting, cumulative, einsum",
    prims: ["gather", "scatterAdd", "argsort", "cumsum"],
    run: () => {
      const x = uniform([4, 5], 24, -2, 2)
      const [values, indices] = Tensor.topk(x, 3)
      return [Tensor.stack([x, x], 1), ...Tensor.split(x, [2, 3], 1), Tensor.tile(x, [2, 1]), Tensor.flip(x), Tensor.pad(x, [[1, 0], [2, 1]], { value: -1 }), Tensor.triu(x, 1), Tensor.tril(x),
        Tensor.take(x, i32([3, -1, 0]), { axis: 1 }), Tensor.takeAlongAxis(x, Tensor.argsort(x, { axis: 0 }), 0), Tensor.indexAdd(x, i32([1, 1]), 1), Tensor.oneHot(i32([0, 3, 5, -1]), 4),
        Tensor.sort(x), Tensor.sort(x, { axis: 0, descending: true }), values, indices, Tensor.cumsum(x, { axis: 1 }), Tensor.cumprod(x, { axis: 0 }), Tensor.logcumsumexp(x, { axis: 1, reverse: true }),
        Tensor.einsum("ij,kj->ik", x, x), Tensor.einsum("ij->j", x), Tensor.einsum("ii", Tensor.slice(x, [0, 0], [4, 4]))]
    },
    tol
  },
  {
    name: "edge cases: softmax of an empty axis, logsumexp of one, saturating int32 casts",
    prims: ["cast"],
    run: () => [Tensor.softmax(Tensor.zeros([2, 0])), Tensor.logSoftmax(Tensor.zeros([0])), Tensor.logsumexp(Tensor.zeros([2, 0]), { axis: 1 }), Tensor.sum(Tensor.zeros([0])),
      Tensor.cast(f32([NaN, 3e9, -3e9, 2.7, -2.7, Infinity, -Infinity]), "int32")],
    expected: [[], [], [-Infinity, -Infinity], [0], [0, 2147483647, -2147483648, 2, -2, 2147483647, -2147483648]]
  }
]

export const opsCases: Case[] = [...elementwise, ...indexing, ...composed]
