/**
 * Primitive-level conformance cases: every primitive of the closed set, on
 * plain values, broadcasting, edge sizes (0-size, 1×N, scalars) and sizes
 * that span many texture rows. Each case builds fresh tensors, so it can run
 * once per backend and the results be compared.
 */
import { Internal, type Prim, Tensor } from "@diffect/core"
import { Effect } from "effect"
import { bools, ints, type Tolerance, uniform } from "./data.js"

type T = Tensor.Tensor

/** A result tree: tensors in arrays and records. */
export type Output = T | Effect.Effect<Output, unknown> | ReadonlyArray<Output> | { readonly [k: string]: Output }

export interface Case {
  readonly name: string
  /** The primitives the case exercises (the suite checks that all are covered). */
  readonly prims: ReadonlyArray<Prim>
  readonly run: () => Effect.Effect<Output, unknown> | Output
  /** Known values of the flattened outputs, checked on every backend. */
  readonly expected?: ReadonlyArray<ReadonlyArray<number>>
  readonly tol?: Tolerance
  /** Dtypes the case needs; a backend that does not support one must fail with BackendError naming it. */
  readonly needs?: ReadonlyArray<"float64" | "complex64">
}

const bind = Internal.bind

const unaryOps = ["neg", "exp", "log", "sin", "cos", "tanh", "sqrt", "abs", "sign", "log1p", "expm1"] as const
const binaryOps = ["add", "sub", "mul", "div", "pow", "max", "min"] as const
const compareOps = ["greater", "less", "equal"] as const

/** Input values suited to each unary op (log / sqrt want positives). */
const unaryInput = (op: string, shape: ReadonlyArray<number>, seed: number): T =>
  op === "log" || op === "sqrt" ? uniform(shape, seed, 0.01, 10) : op === "log1p" ? uniform(shape, seed, -0.9, 5) : uniform(shape, seed, -4, 4)

const shapes: ReadonlyArray<ReadonlyArray<number>> = [[], [7], [3, 5], [1, 9], [0], [2, 0, 3], [70001]]

export const unaryCases: Case[] = unaryOps.flatMap((op) =>
  shapes.map((shape, i): Case => ({
    name: `${op} float32 [${shape}]`,
    prims: [op],
    run: () => bind(op, [unaryInput(op, shape, 11 + i)], {}),
    tol: { rtol: 2e-4, atol: 2e-5 }
  }))
)

const special = () => Tensor.make([0, -0, 1, -1, 0.5, -0.5, 1e-6, -1e-6, 30, -30, 1e-30, 88])

export const edgeCases: Case[] = [
  ...unaryOps.map((op): Case => ({ name: `${op} of edge values`, prims: [op], run: () => bind(op, [special()], {}), tol: { rtol: 2e-4, atol: 1e-6 } })),
  ...(["neg", "abs", "sign"] as const).map((op): Case => ({ name: `${op} int32`, prims: [op], run: () => bind(op, [ints([5, 7], 3)], {}) })),
  {
    name: "log and sqrt of 0 and negatives, log1p of -1",
    prims: ["log", "sqrt", "log1p"],
    run: () => {
      const x = Tensor.make([0, -1, 4])
      return [bind("log", [x], {}), bind("sqrt", [x], {}), bind("log1p", [Tensor.make([-1, -2, 0])], {})]
    },
    expected: [[-Infinity, NaN, Math.log(4)], [0, NaN, 2], [-Infinity, NaN, 0]]
  }
]

const binaryInputs = (op: string, shape: ReadonlyArray<number>, seed: number): [T, T] =>
  op === "pow" ? [uniform(shape, seed, 0.1, 3), uniform(shape, seed + 1, -2, 2)] : op === "div" ? [uniform(shape, seed), uniform(shape, seed + 1, 0.5, 2)] : [uniform(shape, seed), uniform(shape, seed + 1)]

export const binaryCases: Case[] = [
  ...[...binaryOps, ...compareOps].flatMap((op) =>
    shapes.map((shape, i): Case => ({
      name: `${op} float32 [${shape}]`,
      prims: [op],
      run: () => bind(op, binaryInputs(op, shape, 30 + i), {}),
      tol: op === "pow" ? { rtol: 1e-3, atol: 1e-5 } : {}
    }))
  ),
  ...(["add", "sub", "mul", "max", "min", "greater", "less", "equal"] as const).map((op): Case => ({
    name: `${op} int32`,
    prims: [op],
    run: () => bind(op, [ints([6, 5], 1), ints([6, 5], 2)], {})
  })),
  { name: "equal bool", prims: ["equal"], run: () => bind("equal", [bools([33], 4), bools([33], 5)], {}) },
  {
    name: "pow with negative bases and integer exponents",
    prims: ["pow"],
    run: () => bind("pow", [Tensor.make([-2, -2, -3, 2, 0, 0, 5, -1.5]), Tensor.make([2, 3, -1, 0.5, 2, -1, 0, 2])], {}),
    expected: [[4, -8, -1 / 3, Math.SQRT2, 0, Infinity, 1, 2.25]],
    tol: { rtol: 1e-5 }
  },
  {
    name: "max and min propagate NaN",
    prims: ["max", "min"],
    run: () => {
      const x = Tensor.make([NaN, 1, 2, NaN])
      const y = Tensor.make([1, NaN, 3, NaN])
      return [bind("max", [x, y], {}), bind("min", [x, y], {})]
    },
    expected: [[NaN, NaN, 3, NaN], [NaN, NaN, 2, NaN]]
  },
  {
    name: "where float32 / int32 / bool",
    prims: ["where"],
    run: () => [
      bind("where", [bools([4, 9], 1), uniform([4, 9], 2), uniform([4, 9], 3)], {}),
      bind("where", [bools([17], 4), ints([17], 5), ints([17], 6)], {}),
      bind("where", [bools([5], 7), bools([5], 8), bools([5], 9)], {}),
      bind("where", [bools([0], 7), uniform([0], 8), uniform([0], 9)], {}),
      bind("where", [bools([40000], 1), uniform([40000], 2), uniform([40000], 3)], {})
    ]
  }
]

/** NumPy broadcasting through the public ops (frontend broadcast + cast nodes). */
export const broadcastingCases: Case[] = [
  { name: "add [3,1] + [1,4]", prims: ["add", "broadcast"], run: () => Tensor.add(uniform([3, 1], 1), uniform([1, 4], 2)) },
  { name: "mul [2,3,4] * [4]", prims: ["mul", "broadcast"], run: () => Tensor.mul(uniform([2, 3, 4], 1), uniform([4], 2)) },
  { name: "sub scalar - [5,6]", prims: ["sub"], run: () => Tensor.sub(2.5, uniform([5, 6], 3)) },
  { name: "maximum [128,10] with [10]", prims: ["max"], run: () => Tensor.maximum(uniform([128, 10], 3), uniform([10], 4)) },
  { name: "int32 + float32 promotes", prims: ["add", "cast"], run: () => Tensor.add(ints([3, 4], 1), uniform([4], 2)) },
  { name: "where with broadcast condition", prims: ["where"], run: () => Tensor.where(Tensor.greater(uniform([6, 1], 1), 0), uniform([1, 7], 2), 0) },
  { name: "add [1,N] + [N,1] (1×N edge)", prims: ["add"], run: () => Tensor.add(uniform([1, 301], 5), uniform([301, 1], 6)) }
]

const reduceShapes: ReadonlyArray<[ReadonlyArray<number>, ReadonlyArray<number>]> = [
  [[2, 3, 4], []],
  [[2, 3, 4], [0]],
  [[2, 3, 4], [1]],
  [[2, 3, 4], [2]],
  [[2, 3, 4], [0, 1]],
  [[2, 3, 4], [1, 2]],
  [[2, 3, 4], [0, 2]],
  [[2, 3, 4], [0, 1, 2]],
  [[5, 8, 3], [1]],
  [[5, 8, 12], [1]],
  [[3, 0], [1]],
  [[3, 0], [0]],
  [[0, 4], [0]],
  [[], []],
  [[1, 1000], [1]],
  [[300, 129], [0]],
  [[300, 129], [1]],
  [[64, 1000], [1]]
]

export const reduceCases: Case[] = [
  ...(["sum", "reduceMax"] as const).flatMap((op) =>
    reduceShapes.map(([shape, axes], i): Case => ({
      name: `${op} [${shape}] axes [${axes}]`,
      prims: [op],
      run: () => bind(op, [uniform(shape, 50 + i)], { axes }),
      tol: { rtol: 1e-4, atol: 1e-4 }
    }))
  ),
  { name: "sum of 10^6 elements", prims: ["sum"], run: () => bind("sum", [uniform([1000000], 7)], { axes: [0] }), tol: { rtol: 1e-4, atol: 0.05 } },
  { name: "reduceMax of 10^6 elements", prims: ["reduceMax"], run: () => bind("reduceMax", [uniform([1000, 1000], 8)], { axes: [0, 1] }) },
  { name: "sum [1000, 1000] axis 0", prims: ["sum"], run: () => bind("sum", [uniform([1000, 1000], 9)], { axes: [0] }), tol: { rtol: 1e-4, atol: 1e-3 } },
  { name: "sum int32", prims: ["sum"], run: () => bind("sum", [ints([7, 9], 3)], { axes: [1] }) },
  { name: "reduceMax int32", prims: ["reduceMax"], run: () => bind("reduceMax", [ints([7, 9], 3)], { axes: [0] }) },
  { name: "reduceMax bool", prims: ["reduceMax"], run: () => bind("reduceMax", [bools([4, 6], 3)], { axes: [1] }) },
  {
    name: "reduceMax propagates NaN; empty max is -inf",
    prims: ["reduceMax"],
    run: () => [bind("reduceMax", [Tensor.make([[1, NaN, 3], [4, 5, 6]])], { axes: [1] }), bind("reduceMax", [uniform([2, 0], 1)], { axes: [1] })],
    expected: [[NaN, 6], [-Infinity, -Infinity]]
  },
  {
    name: "public reductions: mean, min, logsumexp, softmax",
    prims: ["sum", "reduceMax"],
    run: () => {
      const x = uniform([9, 17], 12, -3, 3)
      return [Tensor.mean(x, { axis: 0 }), Tensor.min(x, { axis: 1, keepdims: true }), Tensor.logsumexp(x, { axis: -1 }), Tensor.softmax(x)]
    }
  }
]

/** Cases that need dtypes a backend may not support: elsewhere they must fail with BackendError. */
export const dtypeCases: Case[] = [
  {
    name: "complex64: complex / real / imag / conj",
    prims: ["complex", "real", "imag", "conj"],
    needs: ["complex64"],
    run: () => {
      const z = bind("complex", [Tensor.make([1, 2]), Tensor.make([3, -4])], {})
      return [bind("real", [z], {}), bind("imag", [z], {}), bind("imag", [bind("conj", [z], {})], {})]
    },
    expected: [[1, 2], [3, -4], [-3, 4]]
  },
  {
    name: "float64 arithmetic",
    prims: ["add", "mul"],
    needs: ["float64"],
    run: () => Tensor.mul(Tensor.add(Tensor.make([1, 2], { dtype: "float64" }), 1), 0.5),
    expected: [[1, 1.5]]
  }
]

/**
 * Groups of elementwise ops that a backend with fusion runs as one kernel:
 * mixed dtypes, comparisons and where, casts, and operands that are strided
 * views (broadcast rows and columns, scalars, transposes, slices).
 */
export const fusionCases: Case[] = [
  {
    name: "fused chain with a broadcast bias and a transposed operand",
    prims: ["add", "mul", "tanh", "broadcast", "transpose"],
    run: () => {
      const x = uniform([37, 53], 1)
      const bias = uniform([53], 2)
      const w = uniform([53, 37], 3)
      return Tensor.tanh(Tensor.add(Tensor.mul(Tensor.add(x, bias), Tensor.transpose(w)), 0.5))
    }
  },
  {
    name: "fused chain with column and scalar broadcasts, spanning texture rows",
    prims: ["sub", "exp", "div"],
    run: () => {
      const x = uniform([300, 211], 4)
      const col = uniform([300, 1], 5)
      return Tensor.div(Tensor.exp(Tensor.sub(x, col)), Tensor.add(Tensor.square(col), 1))
    },
    tol: { rtol: 2e-4 }
  },
  {
    name: "fused comparisons, where and casts",
    prims: ["greater", "where", "cast", "equal"],
    run: () => {
      const x = uniform([9, 33], 6)
      const y = uniform([33], 7)
      const mask = Tensor.greater(x, y)
      const picked = Tensor.where(mask, Tensor.mul(x, 2), Tensor.neg(y))
      return [picked, Tensor.cast(mask, "int32"), Tensor.add(Tensor.cast(Tensor.equal(Tensor.sign(x), 1), "float32"), picked)]
    }
  },
  {
    name: "fused int32 arithmetic",
    prims: ["add", "mul", "max", "neg"],
    run: () => {
      const a = ints([40, 10], 8)
      const b = ints([10], 9)
      return Tensor.maximum(Tensor.neg(Tensor.mul(Tensor.add(a, b), 3)), Tensor.sub(a, 2))
    }
  },
  {
    name: "fused chain over a slice of a larger tensor",
    prims: ["slice", "sin", "cos"],
    run: () => {
      const x = uniform([64, 48], 10)
      const s = Tensor.slice(x, [3, 5], [61, 45])
      return Tensor.mul(Tensor.sin(s), Tensor.cos(Tensor.mul(s, 3)))
    },
    // GPU sin / cos are accurate to about 1e-4 absolute
    tol: { rtol: 5e-4, atol: 1e-4 }
  }
]
