/**
 * Fused evaluation gives exactly what evaluating every node on its own
 * gives: random graphs of elementwise ops (masks and selects read by
 * several consumers, broadcasts, NaN and ±0 among the values), read
 * directly, under jit and under grad, compared bit for bit with a CPU
 * backend that has neither fusion nor views.
 */
import { fc, it } from "@fast-check/vitest"
import { Backend, type BackendShape, CpuBackend, Tensor } from "@diffect/core"
import { grad, jit } from "@diffect/transforms"
import { Effect } from "effect"
import { describe, expect } from "vitest"

const { fusion: _fusion, viewKernels: _views, ...cpu } = CpuBackend.backend
const plain: BackendShape = { ...cpu, name: "cpu-unfused" }

type T = Tensor.Tensor
/** One node: an op on earlier nodes (indices taken modulo the number made so far). */
type Step = { readonly op: number; readonly a: number; readonly b: number; readonly c: number }

const ROWS = 48
const COLS = 96 // 4,608 elements: above the size at which groups are fused

const build = (x: T, bias: T, steps: ReadonlyArray<Step>): T[] => {
  const nodes: T[] = [x, Tensor.add(x, bias)]
  const pick = (i: number) => nodes[i % nodes.length]!
  for (const s of steps) {
    const a = pick(s.a), b = pick(s.b), c = pick(s.c)
    const ops: Array<() => T> = [
      () => Tensor.add(a, b),
      () => Tensor.mul(a, b),
      () => Tensor.sub(a, 0.25),
      () => Tensor.where(Tensor.greater(a, 0), b, c),
      () => Tensor.where(Tensor.equal(a, a), 0, a),
      () => Tensor.relu(a),
      () => Tensor.maximum(a, b),
      () => Tensor.tanh(a),
      () => Tensor.neg(a)
    ]
    nodes.push(ops[s.op % ops.length]!())
  }
  return nodes
}

/** Some outputs: the last node, one read by a non-elementwise op, a reduction. */
const outputs = (nodes: ReadonlyArray<T>, k: number): T[] => {
  const last = nodes[nodes.length - 1]!
  const mid = nodes[Math.max(1, k % nodes.length)]!
  return [last, Tensor.matmul(Tensor.transpose(mid), last), Tensor.sum(mid, { axis: 0 })]
}

const input = (seed: number): T => {
  const data = new Float32Array(ROWS * COLS)
  let s = seed >>> 0
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    data[i] = (s / 2 ** 32 - 0.5) * 4
  }
  // special values where masks and selects differ: NaN, both zeros, infinities
  data[3] = NaN
  data[7] = -0
  data[11] = 0
  data[13] = Infinity
  data[17] = -Infinity
  return Tensor.make(data, { shape: [ROWS, COLS] })
}

const bits = (a: ArrayLike<number>): string[] => Array.from(a, (v) => (Number.isNaN(v) ? "NaN" : Object.is(v, -0) ? "-0" : String(v)))

const readAll = (ts: ReadonlyArray<T>) => Effect.all(ts.map((t) => Tensor.data(t)))

const stepArb = fc.record({ op: fc.nat(), a: fc.nat(), b: fc.nat(), c: fc.nat() })

describe("fused evaluation", () => {
  it.prop([fc.array(stepArb, { minLength: 1, maxLength: 24 }), fc.nat(), fc.nat()], { numRuns: 30 })(
    "equals node-by-node evaluation bit for bit (direct, jit, grad)",
    async (steps, seed, k) => {
      const x = input(seed)
      const bias = Tensor.mul(Tensor.ones([COLS]), 0.125)
      const f = (x: T) => outputs(build(x, bias, steps), k)
      const loss = (x: T) => {
        const os = f(x)
        return Tensor.add(Tensor.sum(Tensor.mul(os[0]!, os[0]!)), Tensor.sum(os[2]!))
      }
      const program = Effect.gen(function* () {
        const direct = yield* readAll(f(x))
        const jitted = yield* Effect.flatMap(jit(f)(x), readAll)
        const g = yield* Effect.flatMap(grad(loss)(x), (t) => Tensor.data(t))
        return [...direct, ...jitted, g]
      })
      const fused = await Effect.runPromise(program)
      const reference = await Effect.runPromise(program.pipe(Effect.provideService(Backend, plain)))
      expect(fused.map(bits)).toEqual(reference.map(bits))
    }
  )
})
