/**
 * The CPU conv kernel on both of its paths (the direct WebAssembly SIMD
 * kernel and im2col + GEMM, with the wasm kernels turned off) against a
 * naive float64 convolution: strides, padding (explicit, asymmetric, none),
 * kernel dilation, groups, widths and channel counts that fill no tile, 1-D.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { convKernel } from "../src/internal/cpu/conv.js"
import { setWasmEnabled } from "../src/internal/cpu/wasm.js"
import { sourceHash } from "../src/internal/cpu/wasm-dense-module.js"

const fill = (n: number, seed: number): Float32Array => {
  let s = seed >>> 0
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1)
}

interface Case {
  x: number[] // [n, c, ...spatial]
  w: number[] // [o, c / groups, ...kernel]
  strides: number[]
  padding: Array<[number, number]>
  dilation: number[]
  groups: number
}

const outShape = (k: Case): number[] => {
  const sp = k.x.slice(2).map((d, i) => Math.floor((d + k.padding[i]![0] + k.padding[i]![1] - (k.dilation[i]! * (k.w[i + 2]! - 1) + 1)) / k.strides[i]!) + 1)
  return [k.x[0]!, k.w[0]!, ...sp]
}

/** The float64 convolution (1 or 2 spatial dims; 1-D as height 1). */
const naive = (k: Case, x: Float32Array, w: Float32Array): Float64Array => {
  const two = k.x.length === 4
  const [n, c] = k.x as [number, number]
  const [H, W] = two ? [k.x[2]!, k.x[3]!] : [1, k.x[2]!]
  const [KH, KW] = two ? [k.w[2]!, k.w[3]!] : [1, k.w[2]!]
  const os = outShape(k)
  const [OH, OW] = two ? [os[2]!, os[3]!] : [1, os[2]!]
  const [sh, sw] = two ? k.strides : [1, k.strides[0]!]
  const [dh, dw] = two ? k.dilation : [1, k.dilation[0]!]
  const [ph, pw] = two ? [k.padding[0]![0], k.padding[1]![0]] : [0, k.padding[0]![0]]
  const o = k.w[0]!, cg = c / k.groups, og = o / k.groups
  const y = new Float64Array(n * o * OH * OW)
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++) {
      const g = Math.floor(oc / og)
      for (let r = 0; r < OH; r++)
        for (let q = 0; q < OW; q++) {
          let s = 0
          for (let ci = 0; ci < cg; ci++)
            for (let u = 0; u < KH; u++)
              for (let v = 0; v < KW; v++) {
                const i = r * sh - ph + u * dh, j = q * sw - pw + v * dw
                if (i < 0 || i >= H || j < 0 || j >= W) continue
                s += x[((b * c + g * cg + ci) * H + i) * W + j]! * w[((oc * cg + ci) * KH + u) * KW + v]!
              }
          y[((b * o + oc) * OH + r) * OW + q] = s
        }
    }
  return y
}

const cases: Case[] = [
  { x: [2, 3, 32, 32], w: [16, 3, 3, 3], strides: [1, 1], padding: [[1, 1], [1, 1]], dilation: [1, 1], groups: 1 },
  { x: [1, 16, 9, 13], w: [3, 16, 3, 3], strides: [1, 1], padding: [[1, 1], [1, 1]], dilation: [1, 1], groups: 1 },
  { x: [2, 4, 11, 10], w: [6, 2, 2, 3], strides: [2, 1], padding: [[0, 1], [2, 0]], dilation: [1, 2], groups: 2 },
  { x: [1, 5, 7, 20], w: [5, 1, 3, 1], strides: [1, 1], padding: [[0, 0], [0, 0]], dilation: [2, 1], groups: 5 },
  { x: [3, 2, 17], w: [7, 2, 5], strides: [1], padding: [[2, 2]], dilation: [1], groups: 1 },
  { x: [1, 3, 40], w: [2, 3, 3], strides: [1], padding: [[0, 0]], dilation: [3], groups: 1 },
  // im2col paths: strided along the width, an output narrower than the direct kernel takes, negative padding
  { x: [2, 3, 12, 12], w: [4, 3, 3, 3], strides: [2, 2], padding: [[1, 1], [1, 1]], dilation: [1, 1], groups: 1 },
  // the narrow kernel (outputs narrower than 6, kernel widths a multiple of 4): a kernel gradient's shape, odd output counts, strides, row dilation, 1-D
  { x: [3, 8, 6, 6], w: [5, 8, 6, 4], strides: [1, 1], padding: [[1, 1], [1, 1]], dilation: [1, 1], groups: 1 },
  { x: [3, 8, 10, 10], w: [5, 8, 10, 8], strides: [1, 1], padding: [[1, 1], [1, 1]], dilation: [1, 1], groups: 1 },
  { x: [2, 3, 11, 13], w: [4, 3, 3, 4], strides: [2, 3], padding: [[0, 1], [2, 0]], dilation: [2, 1], groups: 1 },
  { x: [2, 5, 9], w: [9, 5, 8], strides: [1], padding: [[1, 0]], dilation: [1], groups: 1 },
  { x: [1, 2, 10, 12], w: [3, 2, 3, 3], strides: [1, 1], padding: [[-1, 1], [0, 0]], dilation: [1, 1], groups: 1 },
  { x: [2, 3, 6, 7], w: [4, 3, 3, 3], strides: [1, 1], padding: [[0, 0], [0, 0]], dilation: [1, 1], groups: 1 }
]

/** The array `t` ([a, b, ...rest] row-major) stored as [b, a, ...rest]: the buffer of a transposed view of it. */
const swapped01 = (t: Float32Array, shape: number[]): Float32Array => {
  const [a, b] = shape as [number, number]
  const inner = shape.slice(2).reduce((p, q) => p * q, 1)
  const out = new Float32Array(t.length)
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out.set(t.subarray((i * b + j) * inner, (i * b + j + 1) * inner), (j * a + i) * inner)
  return out
}

describe("cpu conv kernel", () => {
  it("the committed dense module is built from the current AssemblyScript source", () => {
    const src = readFileSync(fileURLToPath(new URL("../assembly/dense.ts", import.meta.url)))
    expect(createHash("sha256").update(src).digest("hex").slice(0, 16)).toBe(sourceHash)
  })

  for (const k of cases)
    for (const wasmOn of [true, false])
      it(`x [${k.x}] w [${k.w}] strides [${k.strides}] padding ${JSON.stringify(k.padding)} dilation [${k.dilation}] groups ${k.groups}${wasmOn ? "" : " (no wasm)"}`, () => {
        const size = (s: number[]) => s.reduce((a, b) => a * b, 1)
        const x = fill(size(k.x), 3 + size(k.x)), w = fill(size(k.w), 5 + size(k.w))
        const os = outShape(k)
        const sd = k.x.length - 2
        const was = setWasmEnabled(wasmOn)
        try {
          const got = convKernel(
            [{ handle: x, shape: k.x, dtype: "float32" }, { handle: w, shape: k.w, dtype: "float32" }],
            { strides: k.strides, padding: k.padding, lhsDilation: Array(sd).fill(1), rhsDilation: k.dilation, groups: k.groups },
            { shape: os, dtype: "float32" }
          ) as Float32Array
          const want = naive(k, x, w)
          expect(got.length).toBe(want.length)
          const taps = size(k.w.slice(1))
          for (let i = 0; i < want.length; i++)
            if (!(Math.abs(got[i]! - want[i]!) <= 1e-6 * taps)) expect.fail(`element ${i}: got ${got[i]}, want ${want[i]}`)
        } finally {
          setWasmEnabled(was)
        }
      })

  // conv is a view kernel: operands arrive as strided views (the transposes of a kernel gradient)
  for (const k of [cases[0]!, cases[1]!, cases[6]!, cases[8]!, cases[9]!, cases[10]!, cases[12]!])
    it(`x [${k.x}] w [${k.w}], both operands transposed views (axes 0 and 1 swapped in memory, offset 3)`, () => {
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1)
      const x = fill(size(k.x), 7 + size(k.x)), w = fill(size(k.w), 9 + size(k.w))
      const view = (t: Float32Array, shape: number[]) => {
        const inner = shape.slice(2).reduce((p, q) => p * q, 1)
        const st = shape.slice(2).map((_, i) => shape.slice(3 + i).reduce((p, q) => p * q, 1))
        const buf = new Float32Array(t.length + 3)
        buf.set(swapped01(t, shape), 3)
        return { handle: buf, shape, dtype: "float32" as const, strides: [inner, shape[0]! * inner, ...st], offset: 3 }
      }
      const sd = k.x.length - 2
      const got = convKernel(
        [view(x, k.x), view(w, k.w)],
        { strides: k.strides, padding: k.padding, lhsDilation: Array(sd).fill(1), rhsDilation: k.dilation, groups: k.groups },
        { shape: outShape(k), dtype: "float32" }
      ) as Float32Array
      const want = naive(k, x, w)
      const taps = size(k.w.slice(1))
      for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i]! - want[i]!) <= 1e-6 * taps)) expect.fail(`element ${i}: got ${got[i]}, want ${want[i]}`)
    })
})
