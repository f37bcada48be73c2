import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { fc, test as propTest } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { matmulKernel } from "../src/internal/cpu/matmul.js"
import { release } from "../src/internal/cpu/pool.js"
import { gemmF32Wasm, setWasmEnabled, wasm } from "../src/internal/cpu/wasm.js"
import { sourceHash } from "../src/internal/cpu/wasm-module.js"
import type { DType, HostArray } from "../src/DType.js"
import { allocHost } from "../src/DType.js"

/** A deterministic pseudo-random fill. */
const fill = (dtype: DType, n: number, seed: number): HostArray => {
  const out = allocHost(dtype, n)
  let s = seed >>> 0
  const len = dtype === "complex64" ? 2 * n : n
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = dtype === "int32" ? (s % 2001) - 1000 : s / 2 ** 32 - 0.5
  }
  return out
}

/** The naive product in float64 (or exact int32 wrapping), reading transposed layouts. */
const naive = (a: HostArray, b: HostArray, dtype: DType, batch: number, m: number, k: number, n: number, tA: boolean, tB: boolean) => {
  const w = dtype === "complex64" ? 2 : 1
  const out = new Float64Array(batch * m * n * w)
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let re = 0, im = 0, acc = 0
        for (let p = 0; p < k; p++) {
          const ai = t * m * k + (tA ? p * m + i : i * k + p)
          const bi = t * k * n + (tB ? j * k + p : p * n + j)
          if (dtype === "complex64") {
            re += a[2 * ai]! * b[2 * bi]! - a[2 * ai + 1]! * b[2 * bi + 1]!
            im += a[2 * ai]! * b[2 * bi + 1]! + a[2 * ai + 1]! * b[2 * bi]!
          } else if (dtype === "int32") acc = (acc + Math.imul(a[ai]!, b[bi]!)) | 0
          else acc += a[ai]! * b[bi]!
        }
        const o = t * m * n + i * n + j
        if (dtype === "complex64") {
          out[2 * o] = re
          out[2 * o + 1] = im
        } else out[o] = acc
      }
  return out
}

const shapes: Array<[number, number, number, number]> = [
  [1, 1, 1, 1], [1, 3, 5, 2], [2, 4, 4, 4], [1, 7, 13, 9], [3, 5, 1, 6], [1, 1, 300, 1],
  [1, 33, 257, 17], [1, 64, 64, 64], [2, 9, 600, 130], [1, 0, 3, 2], [1, 2, 0, 3]
]

describe("cpu matmul kernel", () => {
  for (const dtype of ["float32", "float64", "int32", "complex64"] as const)
    for (const [batch, m, k, n] of shapes)
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        if (dtype === "complex64" && (tA || tB)) continue
        if (batch * m * k * n > 2e6 && (dtype !== "float32" || tA || tB)) continue
        it(`${dtype} [${batch}] ${m}x${k} @ ${k}x${n}${tA ? " Aᵀ" : ""}${tB ? " Bᵀ" : ""}`, () => {
          const a = fill(dtype, batch * m * k, 1 + m)
          const b = fill(dtype, batch * k * n, 2 + n)
          const aCopy = a.slice(), bCopy = b.slice()
          // a used buffer of the output's size in the CPU pool: the product must write (or zero) every element of it
          const used = allocHost(dtype, batch * m * n)
          used.fill(dtype === "int32" ? 7 : Number.NaN)
          release(used)
          const got = matmulKernel(a, b, dtype, batch, m, k, n, { transA: tA, transB: tB })
          expect(got.constructor).toBe(allocHost(dtype, 0).constructor)
          const want = naive(a, b, dtype, batch, m, k, n, tA, tB)
          expect(got.length).toBe(want.length)
          const tol = dtype === "float64" ? 1e-12 : dtype === "int32" ? 0 : 1e-5
          for (let i = 0; i < want.length; i++) {
            const scale = dtype === "int32" ? 1 : Math.max(1, Math.sqrt(k))
            if (!(Math.abs(got[i]! - want[i]!) <= tol * scale)) expect.fail(`element ${i}: got ${got[i]}, want ${want[i]}`)
          }
          // inputs are never modified
          expect(a).toEqual(aCopy)
          expect(b).toEqual(bCopy)
        })
      }
})

describe("WebAssembly SIMD matmul", () => {
  it("is available here (Node 20 has WebAssembly SIMD)", () => {
    expect(wasm()).toBeDefined()
  })

  it("the committed module is built from the current AssemblyScript source", () => {
    const src = readFileSync(fileURLToPath(new URL("../assembly/kernels.ts", import.meta.url)))
    expect(createHash("sha256").update(src).digest("hex").slice(0, 16)).toBe(sourceHash)
  })

  const cases: Array<[number, number, number, number]> = [
    [1, 16, 16, 16], [1, 4, 256, 8], [1, 5, 257, 9], [2, 33, 300, 70], [1, 128, 784, 256], [3, 1, 600, 130], [1, 130, 520, 1], [1, 61, 1030, 67]
  ]
  for (const [batch, m, k, n] of cases)
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const)
      it(`agrees with the JavaScript kernel: [${batch}] ${m}x${k} @ ${k}x${n}${tA ? " Aᵀ" : ""}${tB ? " Bᵀ" : ""}`, () => {
        const a = fill("float32", batch * m * k, 3 + m)
        const b = fill("float32", batch * k * n, 5 + n)
        const viaWasm = matmulKernel(a, b, "float32", batch, m, k, n, { transA: tA, transB: tB })
        const was = setWasmEnabled(false)
        let viaJs: HostArray
        try {
          viaJs = matmulKernel(a, b, "float32", batch, m, k, n, { transA: tA, transB: tB })
        } finally {
          setWasmEnabled(was)
        }
        const want = naive(a, b, "float32", batch, m, k, n, tA, tB)
        for (let i = 0; i < want.length; i++) {
          // float32 accumulation in WebAssembly, float64 in JavaScript: both within float32 rounding of a k-term sum
          const tol = 2e-7 * k
          if (!(Math.abs(viaWasm[i]! - viaJs[i]!) <= tol && Math.abs(viaJs[i]! - want[i]!) <= tol))
            expect.fail(`element ${i}: wasm ${viaWasm[i]}, js ${viaJs[i]}, float64 ${want[i]}`)
        }
      })

  propTest.prop(
    [fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 700 }), fc.constantFrom("row-major", "transposed", "strided"), fc.boolean(), fc.integer({ min: 0, max: 1000 })],
    { numRuns: 60 }
  )("a product with one column (a matrix times a vector) has the bits of that column in a wider product", (m, k, layout, stridedB, seed) => {
    // A of any layout the kernel reads (a strided one is gathered lane by lane), k over several blocks, B's column read through a stride
    const a = fill("float32", 2 * m * k, seed) as Float32Array
    const A = layout === "row-major" ? { rs: k, cs: 1 } : layout === "transposed" ? { rs: 1, cs: m } : { rs: 2 * k, cs: 2 }
    const n = 5
    const wide = fill("float32", k * n, seed + 1) as Float32Array
    const col = stridedB ? Float32Array.from({ length: 3 * k }, (_, i) => (i % 3 === 0 ? wide[(i / 3) * n]! : NaN)) : Float32Array.from({ length: k }, (_, p) => wide[p * n]!)
    const one = new Float32Array(m), all = new Float32Array(m * n)
    expect(gemmF32Wasm(a, 0, A, col, 0, { rs: stridedB ? 3 : 1, cs: 1 }, one, 0, m, k, 1)).toBe(true)
    expect(gemmF32Wasm(a, 0, A, wide, 0, { rs: n, cs: 1 }, all, 0, m, k, n)).toBe(true)
    for (let i = 0; i < m; i++) if (!Object.is(one[i], all[i * n])) expect.fail(`row ${i}: one column ${one[i]}, in the wider product ${all[i * n]}`)
  })

  it("leaves no stale values behind between calls of different sizes", () => {
    const big = matmulKernel(fill("float32", 64 * 64, 1), fill("float32", 64 * 64, 2), "float32", 1, 64, 64, 64)
    expect(big.length).toBe(64 * 64)
    const a = Float32Array.from({ length: 20 * 30 }, (_, i) => (i % 7) - 3)
    const b = Float32Array.from({ length: 30 * 10 }, (_, i) => (i % 5) - 2)
    expect(Array.from(matmulKernel(a, b, "float32", 1, 20, 30, 10))).toEqual(Array.from(naive(a, b, "float32", 1, 20, 30, 10, false, false)))
  })
})
