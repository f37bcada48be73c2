import { describe, expect, it } from "vitest"
import { cosF, expF, sinF, tanhF } from "../src/internal/cpu/fastmath.js"
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

describe("float32 sin, cos, exp and tanh (fastmath)", () => {
  for (const [name, f, g, scales] of [
    ["sin", sinF, Math.sin, [1e-3, 4, 20, 400, 2e5]],
    ["cos", cosF, Math.cos, [1e-3, 4, 20, 400, 2e5]],
    ["exp", expF, Math.exp, [1e-3, 2, 20, 200, 240]],
    // tanh: both sides of its branch at |x| = 0.55, the float32 that round to ±1, tiny and denormal arguments
    ["tanh", tanhF, Math.tanh, [1e-6, 1.1, 2, 8, 20]]
  ] as const)
    it(`${name} rounds to the same float32 as Math.${name}`, () => {
      const xs = [...specials, ...[88.72, 88.73, -87.3, -103.97, -104, -110].map(Math.fround), ...scales.flatMap((s, i) => samples(s, 40000, 7 + i))]
      for (const x of xs) {
        const got = Math.fround(f(x)), want = Math.fround(g(x))
        if (!Object.is(got, want)) expect.fail(`${name}(${x}) = ${got}, Math.${name} gives ${want}`)
      }
    })
})

describe("float32 tanh (fastmath)", () => {
  it("rounds as Math.tanh on a dense sweep of float32 (every 4099th positive one up to 10) and is odd", () => {
    const F = new Float32Array(1), U = new Uint32Array(F.buffer)
    let n = 0
    for (let u = 1; ; u += 4099) {
      U[0] = u
      const x = F[0]!
      if (x > 10) break
      n++
      const got = Math.fround(tanhF(x)), want = Math.fround(Math.tanh(x))
      if (got !== want) expect.fail(`tanh(${x}) = ${got}, Math.tanh gives ${want}`)
      if (!Object.is(Math.fround(tanhF(-x)), -got)) expect.fail(`tanh(−${x}) is not −tanh(${x})`)
    }
    expect(n).toBeGreaterThan(250000)
    for (const [x, want] of [[0, 0], [-0, -0], [Infinity, 1], [-Infinity, -1], [NaN, NaN], [0.55, Math.fround(Math.tanh(Math.fround(0.55)))]] as const)
      expect(Object.is(Math.fround(tanhF(Math.fround(x))), want)).toBe(true)
  })
})

describe("the WebAssembly sin, cos, exp and tanh", () => {
  it("is available here", () => expect(wasm()).toBeDefined())
  for (const [op, f, fallback] of [["sin", sinF, Math.sin], ["cos", cosF, Math.cos], ["exp", expF, Math.exp], ["tanh", tanhF, Math.tanh]] as const)
    it(`${op} gives the bits of the JavaScript version (any length, specials, far arguments)`, () => {
      for (const n of [1, 3, 4, 7, 4099, 65536 + 5]) {
        // tanh: arguments around its branch point (|x| = 0.55) and where it reaches ±1
        const scales = op === "tanh" ? [1.2, 0.3, 20] : [2e5, 30, 300]
        const xs = Float32Array.from({ length: n }, (_, i) => samples(scales[i % 3]!, 1, 11 + i)[0]!)
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
