/** Conformance cases for data movement, matmul, casts and the identity-like primitives. */
import { Internal, Tensor } from "@diffect/core"
import type { Case } from "./cases.js"
import { bools, ints, uniform } from "./data.js"

const bind = Internal.bind

export const movementCases: Case[] = [
  { name: "reshape [3,4] -> [2,6] -> [12]", prims: ["reshape"], run: () => bind("reshape", [bind("reshape", [uniform([3, 4], 1)], { shape: [2, 6] })], { shape: [12] }) },
  { name: "reshape of a 0-size tensor", prims: ["reshape"], run: () => bind("reshape", [uniform([0, 3], 1)], { shape: [3, 0] }) },
  ...(
    [
      [[3], [2, 3], [1]],
      [[3, 1], [3, 4], [0, 1]],
      [[], [5, 5], []],
      [[1], [7], [0]],
      [[2, 3], [2, 4, 3], [0, 2]],
      [[3], [3, 2], [0]],
      [[5], [5, 9], [0]],
      [[9], [5, 9], [1]],
      [[2, 1, 8], [2, 3, 8], [0, 1, 2]],
      [[3], [3, 0], [0]],
      [[0], [4, 0], [1]],
      [[1000], [300, 1000], [1]],
      [[300], [300, 700], [0]]
    ] as const
  ).map(([inShape, shape, dims], i): Case => ({
    name: `broadcast [${inShape}] -> [${shape}] dims [${dims}]`,
    prims: ["broadcast"],
    run: () => bind("broadcast", [uniform(inShape, 20 + i)], { shape, dims })
  })),
  ...(
    [
      [[3, 4], [1, 0]],
      [[2, 3, 4], [2, 0, 1]],
      [[2, 3, 4], [0, 2, 1]],
      [[2, 3, 4], [1, 0, 2]],
      [[2, 3, 4, 5], [3, 1, 0, 2]],
      [[1, 9], [1, 0]],
      [[0, 5], [1, 0]],
      [[300, 203], [1, 0]],
      [[], []]
    ] as const
  ).map(([inShape, perm], i): Case => ({
    name: `transpose [${inShape}] perm [${perm}]`,
    prims: ["transpose"],
    run: () => bind("transpose", [uniform(inShape, 40 + i)], { perm })
  })),
  ...(
    [
      [[10], [2], [7]],
      [[6, 7], [1, 2], [5, 7]],
      [[6, 7], [0, 0], [6, 3]],
      [[4, 5, 6], [1, 0, 2], [3, 5, 6]],
      [[4, 5], [2, 2], [2, 5]],
      [[500, 300], [10, 3], [490, 297]]
    ] as const
  ).map(([inShape, starts, stops], i): Case => ({
    name: `slice [${inShape}] [${starts}]:[${stops}]`,
    prims: ["slice"],
    run: () => bind("slice", [uniform(inShape, 60 + i)], { starts, stops })
  })),
  ...(
    [
      [[3], [2], [1]],
      [[3, 4], [1, 0], [2, 0]],
      [[3, 4], [0, 2], [0, 3]],
      [[2, 3, 4], [1, 1, 1], [1, 1, 1]],
      [[0], [2], [1]],
      [[2, 0], [1, 1], [0, 2]],
      [[], [], []],
      [[200, 200], [3, 0], [5, 0]]
    ] as const
  ).map(([inShape, before, after], i): Case => ({
    name: `pad [${inShape}] before [${before}] after [${after}]`,
    prims: ["pad"],
    run: () => bind("pad", [uniform(inShape, 80 + i)], { before, after })
  })),
  { name: "concat axis 0", prims: ["concat"], run: () => bind("concat", [uniform([2, 3], 1), uniform([4, 3], 2)], { axis: 0 }) },
  { name: "concat axis 1 (last)", prims: ["concat"], run: () => bind("concat", [uniform([2, 3], 1), uniform([2, 5], 2), uniform([2, 1], 3)], { axis: 1 }) },
  { name: "concat middle axis", prims: ["concat"], run: () => bind("concat", [uniform([2, 3, 8], 1), uniform([2, 1, 8], 2)], { axis: 1 }) },
  { name: "concat with a 0-size piece", prims: ["concat"], run: () => bind("concat", [uniform([2, 3], 1), uniform([0, 3], 2), uniform([1, 3], 3)], { axis: 0 }) },
  {
    name: "concat of 11 pieces",
    prims: ["concat"],
    run: () => bind("concat", Array.from({ length: 11 }, (_, i) => uniform([3, i + 1], 100 + i)), { axis: 1 })
  },
  { name: "concat int32 / bool", prims: ["concat"], run: () => [bind("concat", [ints([3], 1), ints([2], 2)], { axis: 0 }), bind("concat", [bools([3], 1), bools([4], 2)], { axis: 0 })] },
  { name: "concat large", prims: ["concat"], run: () => bind("concat", [uniform([300, 100], 1), uniform([300, 77], 2)], { axis: 1 }) }
]

const mm = (a: ReadonlyArray<number>, b: ReadonlyArray<number>, seed: number): Case => ({
  name: `matmul [${a}] @ [${b}]`,
  prims: ["matmul"],
  run: () => bind("matmul", [uniform(a, seed), uniform(b, seed + 1)], {}),
  tol: { rtol: 1e-4, atol: 1e-4 }
})

export const matmulCases: Case[] = [
  mm([2, 3], [3, 4], 1),
  mm([4, 8], [8, 4], 2),
  mm([5, 7], [7, 1], 3),
  mm([8, 4], [4, 1], 4),
  mm([1, 12], [12, 5], 5),
  mm([3, 0], [0, 4], 6),
  mm([0, 3], [3, 2], 7),
  mm([2, 3, 4], [2, 4, 5], 8),
  mm([2, 2, 3, 8], [2, 2, 8, 12], 9),
  mm([64, 64], [64, 64], 10),
  mm([37, 61], [61, 29], 11),
  mm([128, 784], [784, 32], 12),
  mm([128, 256], [256, 10], 13),
  mm([2, 32, 64], [2, 64, 20], 15),
  mm([36, 40], [40, 48], 16),
  mm([3, 16, 32], [3, 32, 44], 17),
  mm([1, 1], [1, 1], 14),
  { name: "matmul int32", prims: ["matmul"], run: () => bind("matmul", [ints([4, 6], 1), ints([6, 3], 2)], {}) },
  {
    name: "matmul known values",
    prims: ["matmul"],
    run: () => bind("matmul", [Tensor.make([[1, 2], [3, 4]]), Tensor.make([[5, 6], [7, 8]])], {}),
    expected: [[19, 22, 43, 50]]
  },
  { name: "public matmul: vector @ matrix, broadcast batch", prims: ["matmul"], run: () => [Tensor.matmul(uniform([5], 1), uniform([5, 3], 2)), Tensor.matmul(uniform([4, 2, 3], 3), uniform([3, 6], 4))] }
]

export const castCases: Case[] = [
  {
    name: "cast float32 -> int32 truncates, -> bool",
    prims: ["cast"],
    run: () => {
      const x = Tensor.make([-2.7, -0.5, 0, 0.5, 1.9, 3])
      return [bind("cast", [x], { dtype: "int32" }), bind("cast", [x], { dtype: "bool" })]
    },
    expected: [[-2, 0, 0, 0, 1, 3], [1, 1, 0, 1, 1, 1]]
  },
  {
    name: "cast int32 / bool -> others",
    prims: ["cast"],
    run: () => {
      const i = ints([9], 3)
      const b = bools([9], 4)
      return [bind("cast", [i], { dtype: "float32" }), bind("cast", [i], { dtype: "bool" }), bind("cast", [b], { dtype: "int32" }), bind("cast", [b], { dtype: "float32" }), bind("cast", [i], { dtype: "int32" })]
    }
  },
  { name: "cast large float32 -> int32", prims: ["cast"], run: () => bind("cast", [uniform([50000], 5, -100, 100)], { dtype: "int32" }) },
  { name: "stopGradient is the identity", prims: ["stopGradient"], run: () => [bind("stopGradient", [uniform([3, 3], 1)], {}), bind("stopGradient", [ints([4], 1)], {})] },
  {
    name: "real / imag / conj of real tensors",
    prims: ["real", "imag", "conj"],
    run: () => {
      const x = uniform([2, 5], 9)
      return [bind("real", [x], {}), bind("imag", [x], {}), bind("conj", [x], {})]
    }
  },
  {
    name: "a chain of identity-like kernels keeps values (shared textures)",
    prims: ["reshape", "stopGradient", "cast"],
    run: () => {
      const x = uniform([4, 6], 3)
      const y = bind("stopGradient", [bind("reshape", [x], { shape: [24] })], {})
      return [y, bind("add", [y, y], {}), Tensor.exp(bind("cast", [y], { dtype: "float32" }))]
    }
  }
]
