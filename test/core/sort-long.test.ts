/**
 * Sorting long rows (2048 elements or more: the CPU sorts float32 and int32
 * rows by radix there) gives the same stable permutation as the comparison
 * order of the SPEC: NaN last (first when descending), −0 equal to +0, ties
 * by position; and take's gradient (a scatter-add into zeros) accumulates
 * repeated rows.
 */
import { fc, test } from "@fast-check/vitest"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad } from "@diffect/transforms"

const arr = (t: Tensor.Tensor) => Effect.runPromise(Tensor.toArray(t))

/** The stable permutation by the SPEC's order (plain JavaScript). */
const reference = (xs: ArrayLike<number>, descending: boolean): number[] =>
  Array.from(xs, (_, i) => i).sort((i, j) => {
    const a = xs[i]!, b = xs[j]!
    const an = Number.isNaN(a), bn = Number.isNaN(b)
    if (an || bn) return an && bn ? i - j : an !== descending ? 1 : -1
    if (a === b) return i - j
    return (a < b) !== descending ? -1 : 1
  })

/** Values with many ties, both zeros, infinities and NaNs of both signs. */
const special = [0, -0, NaN, -NaN, Infinity, -Infinity, 1, -1, 1.5, -2.25, 3e38, -3e38, 1e-45, -1e-45]
const floatRow = (seed: number, n: number): Float32Array => {
  let s = seed >>> 0
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
  return Float32Array.from({ length: n }, () => {
    const r = next()
    return r < 0.3 ? special[Math.floor(next() * special.length)]! : r < 0.6 ? Math.round(next() * 20 - 10) : (next() - 0.5) * 1e6
  })
}

describe("argsort and sort of long rows", () => {
  test.prop([fc.integer(), fc.integer({ min: 2048, max: 5000 }), fc.boolean()], { numRuns: 6 })("float32 rows: the stable order", async (seed, n, descending) => {
    const x = floatRow(seed, n)
    const order = await arr(Tensor.argsort(Tensor.make(x, { shape: [n] }), { descending }))
    expect(order).toEqual(reference(x, descending))
    const sorted = (await arr(Tensor.sort(Tensor.make(x, { shape: [n] }), { descending }))) as number[]
    expect(sorted.map((v) => (Number.isNaN(v) ? "NaN" : v === 0 ? 0 : v))).toEqual(reference(x, descending).map((i) => (Number.isNaN(x[i]!) ? "NaN" : x[i] === 0 ? 0 : x[i])))
  })

  test.prop([fc.array(fc.integer(), { minLength: 2 * 2048, maxLength: 2 * 2048 }), fc.boolean()], { numRuns: 4 })("int32, two rows", async (data, descending) => {
    const x = Int32Array.from(data.map((v, i) => (i % 3 === 0 ? v % 5 : v)))
    const order = (await arr(Tensor.argsort(Tensor.make(x, { shape: [2, 2048], dtype: "int32" }), { descending }))) as number[][]
    expect(order[0]).toEqual(reference(x.subarray(0, 2048), descending))
    expect(order[1]).toEqual(reference(x.subarray(2048), descending))
  })

  it("along axis 0 of a [3000, 2] matrix", async () => {
    const x = floatRow(7, 6000)
    const order = (await arr(Tensor.argsort(Tensor.make(x, { shape: [3000, 2] }), { axis: 0 }))) as number[][]
    const col = (c: number) => Float32Array.from({ length: 3000 }, (_, i) => x[2 * i + c]!)
    expect(order.map((r) => r[1])).toEqual(reference(col(1), false))
  })
})

describe("take's gradient", () => {
  it("accumulates repeated rows of a table", async () => {
    const table = Tensor.make(Float32Array.from({ length: 5 * 3 }, (_, i) => i), { shape: [5, 3] })
    const ids = Tensor.make(Int32Array.from([4, 1, 4, 4, -1, 9]), { dtype: "int32" }) // −1 and 9 clamp to 4
    const ct = Tensor.make(Float32Array.from({ length: 6 * 3 }, (_, i) => i + 1), { shape: [6, 3] })
    const g = await Effect.runPromise(Effect.flatMap(grad((t: Tensor.Tensor) => Tensor.sum(Tensor.mul(Tensor.take(t, ids), ct)))(table), Tensor.toArray))
    const want = Array.from({ length: 5 }, () => [0, 0, 0])
    ;[4, 1, 4, 4, 4, 4].forEach((r, i) => want[r]!.forEach((_, c) => (want[r]![c]! += 3 * i + c + 1)))
    expect(g).toEqual(want)
  })
})
