/**
 * The CPU kernel of the `random` primitive: Random's samplers on the host,
 * one draw per key of a `[...batch, 2]` key tensor. These loops are the
 * definition of every draw's numbers (the WebGL backend runs them too), so
 * a seed gives the same numbers on every backend, with or without `jit`.
 */
import { allocHost, type HostArray } from "../../DType.js"
import type { RandomParams } from "../primitives.js"
import { sizeOf } from "../shape.js"
import * as TF from "../threefry.js"

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
/** The largest float32 below x. */
const below32 = (x: number): number => {
  const y = Math.fround(x)
  if (y < x) return y
  if (y === 0) return -(2 ** -149)
  f32[0] = y
  u32[0] = y > 0 ? u32[0]! - 1 : u32[0]! + 1
  return f32[0]!
}
const f64 = new Float64Array(1)
const u64 = new BigUint64Array(f64.buffer)
/** The largest float64 below x. */
const below64 = (x: number): number => {
  if (x === 0) return -Number.MIN_VALUE
  f64[0] = x
  u64[0] = x > 0 ? u64[0]! - 1n : u64[0]! + 1n
  return f64[0]!
}

/** `count` standard normal numbers by Box–Muller on 53-bit uniforms. */
const standardNormals = (s0: number, s1: number, count: number): Float64Array => {
  const pairs = Math.ceil(count / 2)
  const w = TF.words(s0, s1, 4 * pairs)
  const z = new Float64Array(2 * pairs)
  for (let j = 0; j < pairs; j++) {
    const u1 = 1 - TF.unit53(w[4 * j]!, w[4 * j + 1]!) // (0, 1]: log is finite
    const u2 = TF.unit53(w[4 * j + 2]!, w[4 * j + 3]!)
    const r = Math.sqrt(-2 * Math.log(u1))
    const t = 2 * Math.PI * u2
    z[2 * j] = r * Math.cos(t)
    z[2 * j + 1] = r * Math.sin(t)
  }
  return z
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
const shuffled = (s0: number, s1: number, n: number, out: Int32Array): void => {
  for (let i = 0; i < n; i++) out[i] = i
  // position j swaps with a uniform index in [0, j]
  for (let j = n - 1; j > 0; j--) {
    const r = TF.below(s0, s1, j, j + 1)
    const t = out[j]!
    out[j] = out[r]!
    out[r] = t
  }
}

/** Writes the draw of the key `(s0, s1)` into `out` (one draw's elements, from `at`). */
const sample = (p: RandomParams, s0: number, s1: number, out: HostArray, at: number): void => {
  const n = sizeOf(p.shape)
  switch (p.kind) {
    case "hash": {
      TF.hash(s0, s1, p.a, p.b)
      out[at] = TF.out[0]! | 0
      out[at + 1] = TF.out[1]! | 0
      return
    }
    case "bits": {
      const w = TF.words(s0, s1, n)
      for (let i = 0; i < n; i++) out[at + i] = w[i]! | 0
      return
    }
    case "uniform": {
      const minval = p.a, maxval = p.b, width = maxval - minval
      if (p.dtype === "float32") {
        const w = TF.words(s0, s1, n)
        const top = below32(maxval)
        for (let i = 0; i < n; i++) {
          const v = Math.fround(minval + TF.unit24(w[i]!) * width)
          out[at + i] = v >= maxval ? top : v
        }
        return
      }
      const w = TF.words(s0, s1, 2 * n)
      const top = below64(maxval)
      for (let i = 0; i < n; i++) {
        const v = minval + TF.unit53(w[2 * i]!, w[2 * i + 1]!) * width
        out[at + i] = v >= maxval ? top : v
      }
      return
    }
    case "normal": {
      const mean = p.a, stddev = p.b
      if (p.dtype === "complex64") {
        const z = standardNormals(s0, s1, 2 * n)
        const s = stddev / Math.SQRT2
        for (let i = 0; i < n; i++) {
          out[2 * (at + i)] = mean + s * z[2 * i]!
          out[2 * (at + i) + 1] = s * z[2 * i + 1]!
        }
        return
      }
      const z = standardNormals(s0, s1, n)
      for (let i = 0; i < n; i++) out[at + i] = mean + stddev * z[i]!
      return
    }
    case "bernoulli": {
      const w = TF.words(s0, s1, n)
      for (let i = 0; i < n; i++) out[at + i] = TF.unit24(w[i]!) < p.a ? 1 : 0
      return
    }
    case "randint": {
      for (let i = 0; i < n; i++) out[at + i] = p.a + TF.below(s0, s1, i, p.b - p.a)
      return
    }
    case "permutation": {
      shuffled(s0, s1, n, (out as Int32Array).subarray(at, at + n))
      return
    }
  }
}

/** The `random` kernel: `key` holds `[...batch, 2]` int32 words; one draw per key. */
export const randomKernel = (key: HostArray, p: RandomParams): HostArray => {
  const draws = key.length / 2
  const per = p.kind === "hash" ? 2 : sizeOf(p.shape)
  const out = allocHost(p.kind === "hash" ? "int32" : p.dtype, draws * per)
  for (let j = 0; j < draws; j++) sample(p, key[2 * j]! >>> 0, key[2 * j + 1]! >>> 0, out, j * per)
  return out
}
