/**
 * The WebAssembly SIMD linear-algebra kernels (`wasm-dense.ts`: blocked LU,
 * cholesky, triangular solves, all float64) against the JavaScript
 * reference kernels they replace: LU gives the same bits (the blocked
 * elimination performs each element's operations in the unblocked order),
 * cholesky and the solves agree to rounding; singular matrices, NaN, sizes
 * that fill no panel, batches, and the error of a matrix that is not
 * positive-definite.
 */
import { describe, expect, it } from "vitest"
import { choleskyKernel, luKernel, triangularSolveKernel } from "../src/internal/cpu/linalg.js"
import { setWasmEnabled } from "../src/internal/cpu/wasm.js"
import { luF64Wasm } from "../src/internal/cpu/wasm-dense.js"
import type { DType, HostArray } from "../src/DType.js"

const fill = (n: number, seed: number): Float64Array => {
  let s = seed >>> 0
  return Float64Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1)
}
const both = <A>(f: () => A): [A, A] => {
  const was = setWasmEnabled(true)
  try {
    const a = f()
    setWasmEnabled(false)
    return [a, f()]
  } finally {
    setWasmEnabled(was)
  }
}
const arg = (handle: HostArray, shape: number[], dtype: DType) => ({ handle, shape, dtype })
const close = (a: HostArray, b: HostArray, tol: number) => {
  expect(a.length).toBe(b.length)
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!
    if (Number.isNaN(x) && Number.isNaN(y)) continue
    if (!(Math.abs(x - y) <= tol * Math.max(1, Math.abs(y)))) expect.fail(`element ${i}: ${x} against ${y}`)
  }
}

describe("wasm linear-algebra kernels against the JavaScript ones", () => {
  it("the module loads here (Node has WebAssembly SIMD), and the switch turns it off", () => {
    const lu = new Float64Array(4), perm = new Int32Array(2)
    expect(luF64Wasm([1, 2, 3, 4], 0, 2, lu, perm)).toBe(1)
    expect(Array.from(perm)).toEqual([1, 0])
    const was = setWasmEnabled(false)
    try {
      expect(luF64Wasm([1, 2, 3, 4], 0, 2, lu, perm)).toBeUndefined()
    } finally {
      setWasmEnabled(was)
    }
  })

  const sizes = [1, 2, 3, 4, 5, 7, 9, 33, 64]
  for (const n of sizes)
    it(`lu ${n}×${n} (a batch of 2, one singular, float64): the same bits`, () => {
      const a = fill(2 * n * n, n)
      for (let j = 0; j < n; j++) a[n * n + j * n + Math.min(1, n - 1)] = n > 1 ? 0 : a[n * n]! // second matrix: a zero column
      const [w, j] = both(() => luKernel([arg(a, [2, n, n], "float64")], {}, { shape: [2, n + 2, n], dtype: "float64" }))
      expect(Array.from(w)).toEqual(Array.from(j))
    })

  it("lu with NaN and repeated rows", () => {
    const n = 11
    const a = fill(n * n, 5)
    a[3 * n + 2] = NaN
    for (let j = 0; j < n; j++) a[7 * n + j] = a[6 * n + j]!
    const [w, j] = both(() => luKernel([arg(a, [n, n], "float64")], {}, { shape: [n + 2, n], dtype: "float64" }))
    expect(Array.from(w).map(String)).toEqual(Array.from(j).map(String))
  })

  for (const n of [1, 3, 8, 37])
    it(`cholesky ${n}×${n} and triangular solves (float32 and float64)`, () => {
      const m = fill(n * n, 17 + n)
      const spd = new Float64Array(n * n)
      for (let i = 0; i < n; i++)
        for (let k = 0; k < n; k++) {
          let s = i === k ? 1 : 0
          for (let p = 0; p < n; p++) s += m[i * n + p]! * m[k * n + p]!
          spd[i * n + k] = s
        }
      for (const dtype of ["float32", "float64"] as const) {
        const a = dtype === "float32" ? Float32Array.from(spd) : spd
        const [w, j] = both(() => choleskyKernel([arg(a, [n, n], dtype)], {}, { shape: [n, n], dtype }))
        close(w, j, dtype === "float32" ? 1e-6 : 1e-12)
        for (const k of [1, 3])
          for (const lower of [true, false])
            for (const transpose of [true, false])
              for (const unitDiagonal of [true, false]) {
                const b = dtype === "float32" ? Float32Array.from(fill(n * k, 3 + k)) : fill(n * k, 3 + k)
                const [ws, js] = both(() => triangularSolveKernel([arg(j, [n, n], dtype), arg(b, [n, k], dtype)], { lower, transpose, unitDiagonal }, { shape: [n, k], dtype }))
                close(ws, js, dtype === "float32" ? 1e-5 : 1e-10)
              }
      }
    })

  it("cholesky of a matrix that is not positive-definite fails on both paths, naming the minor", () => {
    const a = Float64Array.from([4, 2, 0, 2, 1, 0, 0, 0, 1])
    for (const on of [true, false]) {
      const was = setWasmEnabled(on)
      try {
        expect(() => choleskyKernel([arg(a, [3, 3], "float64")], {}, { shape: [3, 3], dtype: "float64" })).toThrow(/leading minor of order 2/)
      } finally {
        setWasmEnabled(was)
      }
    }
  })
})
