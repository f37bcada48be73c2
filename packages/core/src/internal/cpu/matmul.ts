/**
 * Batched matrix product on the CPU: `[batch, m, k] @ [batch, k, n]`.
 *
 * Floats (float32, float64) use a blocked, register-tiled GEMM in the style
 * of GotoBLAS / BLIS, in plain JavaScript:
 * - `k` is cut into blocks of `KC` and `n` into blocks of `NC`; each block of
 *   `b` is packed once into panels `NR` columns wide (contiguous along `k`),
 *   and each `MR`-row strip of `a` into a panel `MR` rows tall, so the inner
 *   loop reads two arrays sequentially whatever the operands' layouts;
 * - the micro-kernel keeps an `MR × NR` tile of the output in local
 *   variables (registers) across the whole `KC` block: each step loads
 *   `MR + NR` numbers for `MR · NR` multiply-adds;
 * - packing reads through strides, so a transposed operand costs nothing
 *   (`transA` / `transB`), and converts to float64 once, so the micro-kernel
 *   does no conversions; it accumulates in float64;
 * - the packing buffers are reused across calls: the loops allocate nothing.
 *
 * float32 products of more than WASM_MIN multiply-adds run on the
 * WebAssembly SIMD kernel instead (`wasm.ts`, same packing idea, float32
 * accumulation) when it is available; this JavaScript GEMM is the fallback
 * and the reference it is tested against.
 *
 * int32 wraps like C (`Math.imul`, `| 0`) with an exact i-p-j loop;
 * complex64 (interleaved) has its own loop.
 */
import { allocHost, type DType, type HostArray } from "../../DType.js"
import { alloc, allocUninitialized } from "./pool.js"
import { gemmF32Wasm } from "./wasm.js"

/**
 * Micro-tile (rows × columns of the output held in registers). x64 has 16
 * vector registers: 3 × 4 keeps its 12 accumulators and the 4 values of `b`
 * of a step mostly in registers, where 4 × 4 spills (about 11% faster here:
 * 4.8 → 5.4 GFLOP/s on 128×784×256; 2 × 4 to 4 × 8, 3 × 3, 3 × 5, 4 × 3 and
 * 5 × 2 tried).
 */
export const MR = 3
export const NR = 4
/** Below this many multiply-adds (per matrix) the call and copies into WebAssembly cost more than they save. */
const WASM_MIN = 4096

/** Cache blocks: a `KC × NR` panel of `b` stays in L1, a `KC × NC` block in L2. */
const KC = 256
const NC = 512

/** How an operand is laid out: element (i, j) of matrix t is at `off + t·batchStride + i·rs + j·cs`. */
export interface Strided {
  readonly rs: number
  readonly cs: number
}

/**
 * One packing buffer for both operands: the `MR`-row panel of `a` at 0, the
 * panels of `b` from `B0`. The micro-kernel then reads a single array (one
 * map check and one base pointer per step for V8, not two).
 */
const B0 = KC * MR
/** Made on the first product this kernel runs (1 MiB: not allocated by a process whose products all run on WebAssembly). */
let pack: Float64Array | undefined
/** The output tile of an edge (fewer than MR rows or NR columns). */
const edge = new Float64Array(MR * NR)

/**
 * Packs `b[k0 : k0 + kc, n0 : n0 + nc]` into `NR`-wide panels: element
 * (p, j0 + c) at `B0 + (j0 / NR) · kc · NR + p · NR + c`, zero-padded on the right.
 */
const packB = (bp: Float64Array, b: HostArray, off: number, rs: number, cs: number, k0: number, kc: number, n0: number, nc: number): void => {
  let q = B0
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const w = Math.min(NR, nc - j0)
    const col = off + (n0 + j0) * cs
    if (w === NR) {
      for (let p = 0, at = col + k0 * rs; p < kc; p++, at += rs, q += NR) {
        bp[q] = b[at]!
        bp[q + 1] = b[at + cs]!
        bp[q + 2] = b[at + 2 * cs]!
        bp[q + 3] = b[at + 3 * cs]!
      }
    } else {
      for (let p = 0, at = col + k0 * rs; p < kc; p++, at += rs, q += NR)
        for (let c = 0; c < NR; c++) bp[q + c] = c < w ? b[at + c * cs]! : 0
    }
  }
}

/** Packs rows `i0 .. i0 + h` of `a[:, k0 : k0 + kc]`: element (i0 + r, p) at `p · MR + r`. */
const packA = (ap: Float64Array, a: HostArray, off: number, rs: number, cs: number, i0: number, h: number, k0: number, kc: number): void => {
  const row = off + i0 * rs + k0 * cs
  if (h === MR) {
    for (let p = 0, q = 0, at = row; p < kc; p++, q += MR, at += cs) {
      ap[q] = a[at]!
      ap[q + 1] = a[at + rs]!
      ap[q + 2] = a[at + 2 * rs]!
    }
  } else {
    for (let p = 0, q = 0, at = row; p < kc; p++, q += MR, at += cs)
      for (let r = 0; r < MR; r++) ap[q + r] = r < h ? a[at + r * rs]! : 0
  }
}

/**
 * The micro-kernel: C[i0 .. i0+3, j .. j+4] (=|+=) Ap · Bp over `kc`, both
 * panels in `pk` (`a`'s at 0, `b`'s at `bOff`). `out` is row-major with row
 * length `ldc`; `acc` says whether to add to it (every `k` block but the
 * first); `h × w` is the valid part of the tile. The `| 0` on the indices
 * lets V8 drop its overflow checks.
 */
type Micro = (pk: Float64Array, bOff: number, kc: number, out: HostArray, o: number, ldc: number, acc: boolean, h: number, w: number, edge: Float64Array) => void

const microSource = `
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0
  for (let p = 0, ai = 0, bi = bOff; p < kc; p = (p + 1) | 0, ai = (ai + 3) | 0, bi = (bi + 4) | 0) {
    const b0 = pk[bi], b1 = pk[(bi + 1) | 0], b2 = pk[(bi + 2) | 0], b3 = pk[(bi + 3) | 0]
    const a0 = pk[ai], a1 = pk[(ai + 1) | 0], a2 = pk[(ai + 2) | 0]
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3
  }
  if (h === 3 && w === 4) {
    const o1 = o + ldc, o2 = o1 + ldc
    if (acc) {
      out[o] += c00; out[o + 1] += c01; out[o + 2] += c02; out[o + 3] += c03
      out[o1] += c10; out[o1 + 1] += c11; out[o1 + 2] += c12; out[o1 + 3] += c13
      out[o2] += c20; out[o2 + 1] += c21; out[o2 + 2] += c22; out[o2 + 3] += c23
    } else {
      out[o] = c00; out[o + 1] = c01; out[o + 2] = c02; out[o + 3] = c03
      out[o1] = c10; out[o1 + 1] = c11; out[o1 + 2] = c12; out[o1 + 3] = c13
      out[o2] = c20; out[o2 + 1] = c21; out[o2 + 2] = c22; out[o2 + 3] = c23
    }
    return
  }
  edge[0] = c00; edge[1] = c01; edge[2] = c02; edge[3] = c03
  edge[4] = c10; edge[5] = c11; edge[6] = c12; edge[7] = c13
  edge[8] = c20; edge[9] = c21; edge[10] = c22; edge[11] = c23
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++) {
      const at = o + r * ldc + c
      out[at] = (acc ? out[at] : 0) + edge[r * 4 + c]
    }
`
// One compiled copy per output array type, so each stays monomorphic.
const makeMicro = (): Micro => new Function("pk", "bOff", "kc", "out", "o", "ldc", "acc", "h", "w", "edge", microSource) as Micro
const micro32 = makeMicro()
const micro64 = makeMicro()

/**
 * out[oOff + i·n + j] = Σ_p a(i, p) · b(p, j) for one matrix of the batch,
 * with a(i, p) = a[aOff + i·A.rs + p·A.cs] and b(p, j) = b[bOff + p·B.rs + j·B.cs].
 */
export const gemmFloat = (
  a: HostArray, aOff: number, A: Strided,
  b: HostArray, bOff: number, B: Strided,
  out: Float32Array | Float64Array, oOff: number,
  m: number, k: number, n: number
): void => {
  const micro = out instanceof Float32Array ? micro32 : micro64
  const pk = (pack ??= new Float64Array(B0 + KC * NC))
  if (k === 0) {
    out.fill(0, oOff, oOff + m * n)
    return
  }
  // k blocks of equal length, at most KC (784 = 4 × 196, not 3 × 256 + 16)
  const kcMax = Math.ceil(k / Math.ceil(k / KC))
  for (let k0 = 0; k0 < k; k0 += kcMax) {
    const kc = Math.min(kcMax, k - k0)
    const acc = k0 > 0
    for (let n0 = 0; n0 < n; n0 += NC) {
      const nc = Math.min(NC, n - n0)
      packB(pk, b, bOff, B.rs, B.cs, k0, kc, n0, nc)
      for (let i0 = 0; i0 < m; i0 += MR) {
        const h = Math.min(MR, m - i0)
        packA(pk, a, aOff, A.rs, A.cs, i0, h, k0, kc)
        for (let j0 = 0; j0 < nc; j0 += NR) {
          micro(pk, B0 + j0 * kc, kc, out, oOff + i0 * n + n0 + j0, n, acc, h, Math.min(NR, nc - j0), edge)
        }
      }
    }
  }
}

/** int32: exact C-like wrapping arithmetic. */
const gemmInt = (a: HostArray, aOff: number, A: Strided, b: HostArray, bOff: number, B: Strided, out: HostArray, oOff: number, m: number, k: number, n: number): void => {
  for (let i = 0; i < m; i++) {
    const r = oOff + i * n
    for (let p = 0; p < k; p++) {
      const x = a[aOff + i * A.rs + p * A.cs]! | 0
      if (x === 0) continue
      const bRow = bOff + p * B.rs
      for (let j = 0; j < n; j++) out[r + j] = (out[r + j]! + Math.imul(x, b[bRow + j * B.cs]! | 0)) | 0
    }
  }
}

/** complex64, interleaved (re, im); strides are in complex elements. */
const gemmComplex = (a: HostArray, aOff: number, A: Strided, b: HostArray, bOff: number, B: Strided, out: HostArray, oOff: number, m: number, k: number, n: number): void => {
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const ai = 2 * (aOff + i * A.rs + p * A.cs)
      const ar = a[ai]!
      const am = a[ai + 1]!
      for (let j = 0; j < n; j++) {
        const bi = 2 * (bOff + p * B.rs + j * B.cs)
        const oi = 2 * (oOff + i * n + j)
        out[oi] = out[oi]! + ar * b[bi]! - am * b[bi + 1]!
        out[oi + 1] = out[oi + 1]! + ar * b[bi + 1]! + am * b[bi]!
      }
    }
  }
}

/** Optional layouts of the operands: `transA` reads `a` as `[batch, k, m]`, `transB` reads `b` as `[batch, n, k]`. */
export interface MatmulLayout {
  readonly transA?: boolean | undefined
  readonly transB?: boolean | undefined
}

/**
 * One product of any dtype: out[oOff + i·n + j] = Σ_p a(i, p) · b(p, j), the
 * operands read through strides (`out` zero where it is accumulated into).
 */
export const gemmAny = (
  dtype: DType,
  a: HostArray, aOff: number, A: Strided,
  b: HostArray, bOff: number, B: Strided,
  out: HostArray, oOff: number,
  m: number, k: number, n: number
): void => {
  if (dtype === "complex64") gemmComplex(a, aOff, A, b, bOff, B, out, oOff, m, k, n)
  else if (dtype === "int32") gemmInt(a, aOff, A, b, bOff, B, out, oOff, m, k, n)
  else if (!(dtype === "float32" && k > 0 && m * k * n >= WASM_MIN && gemmF32Wasm(a, aOff, A, b, bOff, B, out as Float32Array, oOff, m, k, n)))
    gemmFloat(a, aOff, A, b, bOff, B, out as Float32Array | Float64Array, oOff, m, k, n)
}

/**
 * The matmul kernel: `batch` products of `m × k` by `k × n`, into a new
 * row-major `[batch, m, n]` buffer. Inputs are never modified.
 */
export const matmulKernel = (a: HostArray, b: HostArray, dtype: DType, batch: number, m: number, k: number, n: number, layout: MatmulLayout = {}): HostArray => {
  // real products write every element (int32 and complex64 add into theirs: zeroed)
  const out = dtype === "float32" || dtype === "float64" ? allocUninitialized(dtype, batch * m * n) : alloc(dtype, batch * m * n)
  const A: Strided = layout.transA ? { rs: 1, cs: m } : { rs: k, cs: 1 }
  const B: Strided = layout.transB ? { rs: 1, cs: k } : { rs: n, cs: 1 }
  for (let t = 0; t < batch; t++) gemmAny(dtype, a, t * m * k, A, b, t * k * n, B, out, t * m * n, m, k, n)
  return out
}
