import { describe, expect, it } from "vitest"
import { cosF, sinF } from "../src/internal/cpu/fastmath.js"

/** Deterministic float32 samples over several ranges, plus special values. */
const samples = (scale: number, n: number, seed: number): number[] => {
  let s = seed >>> 0
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return Math.fround((s / 2 ** 32 - 0.5) * scale)
  })
}
const specials = [0, -0, NaN, Infinity, -Infinity, 1e-40, -1e-40, 1e-8, Math.PI / 4, Math.PI / 2, Math.PI, 1e5, -1e5, 99999.99, 3.4e38, -3.4e38].map(Math.fround)

describe("float32 sin and cos (fastmath)", () => {
  for (const [name, f, g, scales] of [
    ["sin", sinF, Math.sin, [1e-3, 4, 20, 400, 2e5]],
    ["cos", cosF, Math.cos, [1e-3, 4, 20, 400, 2e5]]
  ] as const)
    it(`${name} rounds to the same float32 as Math.${name}`, () => {
      const xs = [...specials, ...scales.flatMap((s, i) => samples(s, 40000, 7 + i))]
      for (const x of xs) {
        const got = Math.fround(f(x)), want = Math.fround(g(x))
        if (!Object.is(got, want)) expect.fail(`${name}(${x}) = ${got}, Math.${name} gives ${want}`)
      }
    })
})
