import { describe, expect, it } from "vitest"
import { cosF, expF, sinF } from "../src/internal/cpu/fastmath.js"
import { unaryF32Wasm, wasm } from "../src/internal/cpu/wasm.js"

/** Deterministic float32 samples over several ranges, plus special values. */
const samples = (scale: number, n: number, seed: number): number[] => {
  let s = seed >>> 0
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return Math.fround((s / 2 ** 32 - 0.5) * scale)
  })
}
const specials = [0, -0, NaN, Infinity, -Infinity, 1e-40, -1e-40, 1e-8, Math.PI / 4, Math.PI / 2, Math.PI, 1e5, -1e5, 99999.99, 3.4e38, -3.4e38].map(Math.fround)

describe("float32 sin, cos and exp (fastmath)", () => {
  for (const [name, f, g, scales] of [
    ["sin", sinF, Math.sin, [1e-3, 4, 20, 400, 2e5]],
    ["cos", cosF, Math.cos, [1e-3, 4, 20, 400, 2e5]],
    ["exp", expF, Math.exp, [1e-3, 2, 20, 200, 240]]
  ] as const)
    it(`${name} rounds to the same float32 as Math.${name}`, () => {
      const xs = [...specials, ...[88.72, 88.73, -87.3, -103.97, -104, -110].map(Math.fround), ...scales.flatMap((s, i) => samples(s, 40000, 7 + i))]
      for (const x of xs) {
        const got = Math.fround(f(x)), want = Math.fround(g(x))
        if (!Object.is(got, want)) expect.fail(`${name}(${x}) = ${got}, Math.${name} gives ${want}`)
      }
    })
})

describe("the WebAssembly sin, cos and exp", () => {
  it("is available here", () => expect(wasm()).toBeDefined())
  for (const [op, f, fallback] of [["sin", sinF, Math.sin], ["cos", cosF, Math.cos], ["exp", expF, Math.exp]] as const)
    it(`${op} gives the bits of the JavaScript version (any length, specials, far arguments)`, () => {
      for (const n of [1, 3, 4, 7, 4099, 65536 + 5]) {
        const xs = Float32Array.from({ length: n }, (_, i) => samples(i % 3 === 0 ? 2e5 : i % 3 === 1 ? 30 : 300, 1, 11 + i)[0]!)
        specials.forEach((v, i) => i < n && (xs[(i * 7919) % n] = v))
        const out = new Float32Array(n)
        expect(unaryF32Wasm(op, xs, out, fallback)).toBe(true)
        for (let i = 0; i < n; i++) {
          const want = Math.fround(f(xs[i]!))
          if (!Object.is(out[i], want)) expect.fail(`${op}(${xs[i]}): WebAssembly ${out[i]}, JavaScript ${want}`)
        }
      }
    })
})
