/**
 * Seeded random configurations of the shape-heavy primitives (ranks 0–4,
 * sizes 0–9 with some long axes, random permutations, axis subsets, slices,
 * paddings, broadcasts, concats and batched matmuls), to catch index
 * arithmetic that the hand-written cases miss. The same seed gives the same
 * cases on every backend.
 */
import { Internal, Tensor } from "@diffect/core"
import type { Case } from "./cases.js"
import { rng, uniform } from "./data.js"

const bind = Internal.bind

const make = (seed: number): Case[] => {
  const r = rng(seed)
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1))
  const dim = () => (r() < 0.08 ? 0 : r() < 0.15 ? int(30, 70) : int(1, 9))
  const shape = (rank: number) => Array.from({ length: rank }, dim)
  const shuffle = (xs: number[]) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = int(0, i)
      ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
    }
    return xs
  }
  const cases: Case[] = []
  for (let c = 0; c < 12; c++) {
    const s = shape(int(1, 4))
    const seedOf = 1000 + c
    const perm = shuffle(s.map((_, i) => i))
    cases.push({ name: `random transpose [${s}] perm [${perm}]`, prims: ["transpose"], run: () => bind("transpose", [uniform(s, seedOf)], { perm }) })

    const axes = s.map((_, i) => i).filter(() => r() < 0.5)
    const kind = r() < 0.5 ? "sum" : "reduceMax"
    cases.push({ name: `random ${kind} [${s}] axes [${axes}]`, prims: [kind], run: () => bind(kind, [uniform(s, seedOf)], { axes }), tol: { atol: 1e-4 } })

    const starts = s.map((d) => int(0, d))
    const stops = s.map((d, i) => int(starts[i]!, d))
    cases.push({ name: `random slice [${s}] [${starts}]:[${stops}]`, prims: ["slice"], run: () => bind("slice", [uniform(s, seedOf)], { starts, stops }) })

    const before = s.map(() => int(0, 3))
    const after = s.map(() => (r() < 0.5 ? 0 : int(0, 3)))
    cases.push({ name: `random pad [${s}] [${before}] [${after}]`, prims: ["pad"], run: () => bind("pad", [uniform(s, seedOf)], { before, after }) })

    // broadcast: keep a sorted subset of output axes, with size 1 or the output size
    const out = shape(int(1, 4))
    const dims = out.map((_, i) => i).filter(() => r() < 0.6)
    const inShape = dims.map((d) => (r() < 0.3 ? 1 : out[d]!))
    cases.push({
      name: `random broadcast [${inShape}] -> [${out}] dims [${dims}]`,
      prims: ["broadcast"],
      run: () => bind("broadcast", [uniform(inShape, seedOf)], { shape: out, dims })
    })

    const axis = int(0, s.length - 1)
    const pieces = Array.from({ length: int(1, 4) }, () => s.map((d, i) => (i === axis ? int(0, 6) : d)))
    cases.push({
      name: `random concat axis ${axis} of ${pieces.map((p) => `[${p}]`).join(" ")}`,
      prims: ["concat"],
      run: () => bind("concat", pieces.map((p, i) => uniform(p, seedOf + i)), { axis })
    })

    const batch = shape(int(0, 2)).map((d) => Math.min(d, 3))
    const [m, k, n] = [int(1, 9), r() < 0.5 ? 4 * int(1, 4) : int(0, 9), r() < 0.5 ? 4 * int(1, 3) : int(1, 9)]
    cases.push({
      name: `random matmul [${[...batch, m, k]}] @ [${[...batch, k, n]}]`,
      prims: ["matmul"],
      run: () => bind("matmul", [uniform([...batch, m, k], seedOf), uniform([...batch, k, n], seedOf + 1)], {}),
      tol: { atol: 1e-4 }
    })

    const t = shape(int(0, 3))
    cases.push({
      name: `random elementwise chain [${t}]`,
      prims: ["mul", "sub", "tanh"],
      run: () => Tensor.tanh(Tensor.sub(Tensor.mul(uniform(t, seedOf), uniform(t, seedOf + 1)), 0.25))
    })
  }
  return cases
}

const key = (words: ReadonlyArray<number>, shape: ReadonlyArray<number>) => Tensor.make(Int32Array.from(words), { shape, dtype: "int32" })
const draw = (kind: Internal.RandomParams["kind"], shape: ReadonlyArray<number>, dtype: "float32" | "int32" | "bool", a = 0, b = 0) =>
  ({ kind, shape, dtype, a, b }) as Internal.RandomParams

/** The `random` primitive: every kind, one key and a batch of keys (small words, exact in any storage). */
const drawCases: Case[] = [
  // Threefry-2x32 of the zero key and counter: Salmon et al.'s known answer 0x6b200159 0x99ba4efe
  { name: "random hash of the zero key", prims: ["random"], run: () => bind("random", [key([0, 0], [2])], draw("hash", [], "int32")), expected: [[0x6b200159 | 0, 0x99ba4efe | 0]] },
  { name: "random hash, a batch of keys", prims: ["random"], run: () => bind("random", [key([0, 1, 2, 3, 4, 5], [3, 2])], draw("hash", [], "int32", 0, 1)) },
  { name: "random uniform, a batch of keys", prims: ["random"], run: () => bind("random", [key([0, 7, 1, 9], [2, 2])], draw("uniform", [3, 4], "float32", -1, 2)) },
  { name: "random normal", prims: ["random"], run: () => bind("random", [key([5, 6], [2])], draw("normal", [7], "float32", 0.5, 2)), tol: { rtol: 1e-5, atol: 1e-6 } },
  { name: "random bernoulli", prims: ["random"], run: () => bind("random", [key([5, 6], [2])], draw("bernoulli", [20], "bool", 0.3)) },
  { name: "random randint", prims: ["random"], run: () => bind("random", [key([5, 6], [2])], draw("randint", [20], "int32", -3, 10)) },
  { name: "random permutation, a batch of keys", prims: ["random"], run: () => bind("random", [key([1, 2, 3, 4], [2, 2])], draw("permutation", [9], "int32")) }
]

export const randomCases: ReadonlyArray<Case> = [...make(20240601), ...drawCases]
