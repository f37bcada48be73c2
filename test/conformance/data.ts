/** Deterministic test data and the comparison used by the conformance suite. */
import { Tensor } from "@diffect/core"

/** A small deterministic generator (mulberry32). */
export const rng = (seed: number) => {
  let s = seed >>> 0
  return (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sizeOf = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

/** Uniform float32 values in [lo, hi). */
export const uniform = (shape: ReadonlyArray<number>, seed: number, lo = -1, hi = 1): Tensor.Tensor => {
  const r = rng(seed)
  const data = new Float32Array(sizeOf(shape))
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * r()
  return Tensor.make(data, { shape })
}

/** Uniform int32 values in [lo, hi]. */
export const ints = (shape: ReadonlyArray<number>, seed: number, lo = -9, hi = 9): Tensor.Tensor => {
  const r = rng(seed)
  const data = new Int32Array(sizeOf(shape))
  for (let i = 0; i < data.length; i++) data[i] = lo + Math.floor((hi - lo + 1) * r())
  return Tensor.make(data, { shape, dtype: "int32" })
}

/** Random booleans. */
export const bools = (shape: ReadonlyArray<number>, seed: number): Tensor.Tensor => {
  const r = rng(seed)
  const data = new Uint8Array(sizeOf(shape))
  for (let i = 0; i < data.length; i++) data[i] = r() < 0.5 ? 1 : 0
  return Tensor.make(data, { shape, dtype: "bool" })
}

/** A read-back tensor: what two backends must agree on. */
export interface Value {
  readonly shape: ReadonlyArray<number>
  readonly dtype: string
  readonly data: ReadonlyArray<number>
}

export interface Tolerance {
  readonly rtol?: number
  readonly atol?: number
}

/**
 * The first disagreement between `got` and `want`, or undefined: equal
 * shapes and dtypes, and values within `atol + rtol * |want|` (NaN matches
 * NaN, infinities match exactly; integer and bool dtypes must be exact).
 */
export const mismatch = (got: Value, want: Value, tol: Tolerance = {}): string | undefined => {
  if (got.dtype !== want.dtype) return `dtype ${got.dtype}, expected ${want.dtype}`
  if (got.shape.join() !== want.shape.join()) return `shape [${got.shape}], expected [${want.shape}]`
  const exact = want.dtype === "int32" || want.dtype === "bool"
  const rtol = exact ? 0 : (tol.rtol ?? 1e-4)
  const atol = exact ? 0 : (tol.atol ?? 1e-5)
  let bad = 0
  let first = ""
  for (let i = 0; i < want.data.length; i++) {
    const g = got.data[i]!
    const w = want.data[i]!
    const ok = Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w : Math.abs(g - w) <= atol + rtol * Math.abs(w)
    if (!ok) {
      if (bad === 0) first = `at flat index ${i}: got ${g}, expected ${w}`
      bad++
    }
  }
  return bad === 0 ? undefined : `${bad} of ${want.data.length} values differ (rtol ${rtol}, atol ${atol}); first ${first}`
}
