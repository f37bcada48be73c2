/**
 * The WebAssembly SIMD kernels (compiled from `assembly/kernels.ts` by the
 * repository's build, embedded in `wasm-module.ts`) and their JavaScript side: loading, memory, and
 * packing operands into the layout the kernels read.
 *
 * The module is optional. It is compiled on first use; where WebAssembly or
 * its SIMD proposal is missing (or a browser refuses to compile on the main
 * thread) `wasm()` returns undefined and the callers use the JavaScript
 * kernels, which stay the reference. `setWasmEnabled(false)` forces that
 * path (tests compare the two).
 */
import type { Strided } from "./matmul.js"
import { wasmBase64 } from "./wasm-module.js"

interface Exports {
  readonly memory: WebAssembly.Memory
  readonly heapBase: () => number
  readonly gemmTile: () => number
  readonly gemmF32: (a: number, ars: number, acs: number, b: number, c: number, mp: number, np: number, k: number, kc: number, nc: number) => void
  readonly unaryF32: (src: number, dst: number, n: number, op: number) => number
}

/** The GEMM tile of the module (checked against the module at load). */
const MR = 4
const NR = 8
/** Blocks: a KC × NC block of B stays in L2 (64 KiB), MR × KC strips of A stream through L1. */
const KC = 256
const NC = 64
/** Beyond this much linear memory the JavaScript kernels are used (memory never shrinks). */
const MAX_BYTES = 512 * 2 ** 20

let state: "unloaded" | "failed" | Exports = "unloaded"
let enabled = true
let heap = new Float32Array(0)

const decode = (b64: string): Uint8Array<ArrayBuffer> => {
  const bin = atob(b64)
  const bytes = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
  return bytes
}

const load = (): Exports | undefined => {
  try {
    if (typeof WebAssembly !== "object") return undefined
    const bytes = decode(wasmBase64)
    if (!WebAssembly.validate(bytes)) return undefined // no SIMD
    const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as Exports
    if (ex.gemmTile() !== MR * 100 + NR) return undefined
    heap = new Float32Array(ex.memory.buffer)
    return ex
  } catch {
    return undefined
  }
}

/** The kernels, or undefined when WebAssembly SIMD is unavailable or disabled. */
export const wasm = (): Exports | undefined => {
  if (!enabled) return undefined
  if (state === "unloaded") state = load() ?? "failed"
  return state === "failed" ? undefined : state
}

/** Turns the WebAssembly kernels off (or back on); returns the previous setting. */
export const setWasmEnabled = (on: boolean): boolean => {
  const was = enabled
  enabled = on
  return was
}

/** Grows linear memory to at least `bytes`; false past MAX_BYTES. */
const reserve = (ex: Exports, bytes: number): boolean => {
  if (bytes > MAX_BYTES) return false
  const have = ex.memory.buffer.byteLength
  if (bytes > have) {
    ex.memory.grow(Math.ceil((bytes - have) / 65536))
    heap = new Float32Array(ex.memory.buffer)
  }
  return true
}

/**
 * Places a(i, p) = a[off + i·rs + p·cs] (i < m, p < k) at F[q ...] for the
 * kernel, which reads A through strides: a dense row-major or transposed
 * float32 operand is copied as it is (a memcpy); anything else is gathered
 * row-major. Returns the kernel's strides in bytes [row, column]. The
 * elements after m · k (read for the padding rows) are zeroed.
 */
const placeA = (F: Float32Array, q: number, a: ArrayLike<number>, off: number, rs: number, cs: number, m: number, mp: number, k: number): [number, number] => {
  let strides: [number, number]
  if (a instanceof Float32Array && ((rs === k && cs === 1) || (rs === 1 && cs === m))) {
    F.set(a.subarray(off, off + m * k), q)
    strides = [4 * rs, 4 * cs]
  } else {
    for (let i = 0, at = q; i < m; i++) {
      const row = off + i * rs
      for (let p = 0; p < k; p++) F[at++] = a[row + p * cs]!
    }
    strides = [4 * k, 4]
  }
  F.fill(0, q + m * k, q + mp * k)
  return strides
}

/** Packs b(p, j) = b[off + p·rs + j·cs] into NR-column panels per `kc` block, columns past n as zeros. */
const packB = (F: Float32Array, q: number, b: ArrayLike<number>, off: number, rs: number, cs: number, n: number, np: number, k: number, kc: number): void => {
  for (let k0 = 0; k0 < k; k0 += kc) {
    const kb = Math.min(kc, k - k0)
    for (let j = 0; j < np; j += NR) {
      let at = off + k0 * rs + j * cs
      if (j + NR <= n && cs === 1) {
        for (let p = 0; p < kb; p++, at += rs, q += 8) {
          F[q] = b[at]!
          F[q + 1] = b[at + 1]!
          F[q + 2] = b[at + 2]!
          F[q + 3] = b[at + 3]!
          F[q + 4] = b[at + 4]!
          F[q + 5] = b[at + 5]!
          F[q + 6] = b[at + 6]!
          F[q + 7] = b[at + 7]!
        }
      } else {
        const w = Math.min(NR, n - j)
        for (let p = 0; p < kb; p++, at += rs, q += 8)
          for (let c = 0; c < NR; c++) F[q + c] = c < w ? b[at + c * cs]! : 0
      }
    }
  }
}

/**
 * out[oOff + i·n + j] = Σ_p a(i, p) · b(p, j) in float32 on the WebAssembly
 * kernel (operands read through strides, as `gemmFloat`). Returns false,
 * doing nothing, when the kernel is unavailable or the operands too large.
 */
export const gemmF32Wasm = (
  a: ArrayLike<number>, aOff: number, A: Strided,
  b: ArrayLike<number>, bOff: number, B: Strided,
  out: Float32Array, oOff: number,
  m: number, k: number, n: number
): boolean => {
  const ex = wasm()
  if (ex === undefined) return false
  const mp = Math.ceil(m / MR) * MR
  const np = Math.ceil(n / NR) * NR
  const aP = (ex.heapBase() + 15) & ~15
  const bP = aP + 4 * mp * k
  const cP = bP + 4 * k * np
  if (!reserve(ex, cP + 4 * mp * np)) return false
  const F = heap
  const [ars, acs] = placeA(F, aP >> 2, a, aOff, A.rs, A.cs, m, mp, k)
  // k blocks of equal length, at most KC (784 = 4 × 196, not 3 × 256 + 16)
  const kc = Math.ceil(k / Math.ceil(k / KC))
  packB(F, bP >> 2, b, bOff, B.rs, B.cs, n, np, k, kc)
  ex.gemmF32(aP, ars, acs, bP, cP, mp, np, k, kc, NC)
  const c = cP >> 2
  if (np === n) out.set(F.subarray(c, c + m * n), oOff)
  else
    for (let i = 0; i < m; i++) {
      const src = c + i * np, dst = oOff + i * n
      for (let j = 0; j < n; j++) out[dst + j] = F[src + j]!
    }
  return true
}

/** The unary ops with a WebAssembly kernel (float32), and their codes. */
export const wasmUnary = { sin: 0, cos: 1, exp: 2 } as const

/** Elements per call of the unary kernel (256 KiB of linear memory). */
const CHUNK = 65536

/**
 * out[i] = f(a[i]) on the WebAssembly kernel for float32 sin, cos or exp,
 * chunk by chunk through linear memory. Inputs with |x| ≥ 10⁵ (sin, cos)
 * are recomputed with `fallback`, as the JavaScript versions do. Returns
 * false, doing nothing, when the kernel is unavailable.
 */
export const unaryF32Wasm = (op: keyof typeof wasmUnary, a: Float32Array, out: Float32Array, fallback: (x: number) => number): boolean => {
  const ex = wasm()
  if (ex === undefined) return false
  const base = (ex.heapBase() + 15) & ~15
  if (!reserve(ex, base + 4 * CHUNK)) return false
  const code = wasmUnary[op]
  const n = a.length
  for (let i0 = 0; i0 < n; i0 += CHUNK) {
    const len = Math.min(CHUNK, n - i0)
    const padded = (len + 3) & ~3
    const F = heap
    const q = base >> 2
    F.set(a.subarray(i0, i0 + len), q)
    if (padded > len) F.fill(0, q + len, q + padded)
    const far = ex.unaryF32(base, base, padded, code)
    out.set(F.subarray(q, q + len), i0)
    if (far > 0)
      for (let i = i0; i < i0 + len; i++) {
        const x = a[i]!
        if (Math.abs(x) >= 1e5 && Math.abs(x) !== Infinity) out[i] = fallback(x)
      }
  }
  return true
}
