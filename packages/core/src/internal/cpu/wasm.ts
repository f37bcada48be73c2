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
 *
 * Where a shared `WebAssembly.Memory` can be made (Node; browsers when
 * cross-origin isolated) the module is the variant that imports it, and the
 * worker pool of `threads.ts` instantiates the same module on the same
 * memory: large products and unary kernels are split across threads.
 *
 * Each variant exists twice: built with relaxed SIMD (the GEMM and
 * convolution accumulators use `f32x4.relaxed_madd`, a fused multiply-add
 * where the CPU has one) and without. The relaxed build is tried first and
 * used where the engine validates it (browsers, Node 22 and later; Node 20
 * with `--experimental-wasm-relaxed-simd`); elsewhere the plain build. The
 * worker pool instantiates the module the calling thread chose, so every
 * thread runs the same instructions and results are equal for any thread
 * count. `wasmBuild()` says which one loaded.
 */
import type { Strided } from "./matmul.js"
import { currentPool, type SharedWasm } from "./threads.js"
import { GEMM, PACKB, UNARY } from "./worker-source.js"
import { wasmBase64, wasmRelaxedBase64, wasmSharedBase64, wasmSharedRelaxedBase64 } from "./wasm-module.js"

interface Exports {
  readonly memory: WebAssembly.Memory
  readonly heapBase: () => number
  readonly gemmTile: () => number
  readonly gemmF32: (a: number, ars: number, acs: number, b: number, c: number, mp: number, np: number, k: number, kc: number, nc: number) => void
  readonly gemvF32: (a: number, ars: number, acs: number, b: number, c: number, mp: number, k: number, kc: number) => void
  readonly unaryF32: (src: number, dst: number, n: number, op: number) => number
  readonly packB: (src: number, rs: number, cs: number, dst: number, n: number, np: number, k: number, kc: number, j0: number, j1: number) => void
  readonly fusedTile: () => number
  readonly fusedF32: (prog: number, nops: number, leaves: number, nleaves: number, nslots: number, out: number, i0: number, i1: number, scratch: number) => number
  readonly convF32: (x: number, w: number, offs: number, y: number, taps: number, xw: number, o4: number, oh: number, ow8: number, sh: number) => void
  readonly padF32: (src: number, srcPlane: number, srcRow: number, dst: number, planes: number, h: number, w: number, xh: number, xw: number, top: number, left: number) => void
  readonly sumLeadingF32: (src: number, w: number, m: number, rb: number, ncc: number, cw: number, part: number, u0: number, u1: number) => void
  readonly convF32Narrow: (x: number, w: number, ws0: number, ws1: number, ws2: number, poff: number, positions: number, y: number, c: number, kh: number, kw: number, xh: number, xw: number, dh: number, o4: number) => void
}

/** The GEMM tile of the module (checked against the module at load). */
const MR = 4
const NR = 8
/** Blocks: a KC × NC block of B stays in L2 (64 KiB), MR × KC strips of A stream through L1. */
const KC = 256
const NC = 64
/** At most this many groups of k blocks in a split packing of B (its chunks: groups × column-panel ranges). */
const KGROUPS = 16
/** Beyond this much linear memory the JavaScript kernels are used (memory never shrinks). */
const MAX_BYTES = 512 * 2 ** 20

let state: "unloaded" | "failed" | Exports = "unloaded"
let enabled = true
let heap = new Float32Array(0)
/** The shared memory, its module and this thread's instance, when the shared variant loaded. */
let shared: SharedWasm | undefined
/** Whether the build that loaded is the relaxed-SIMD one (meaningful once `wasm()` has returned the kernels). */
let relaxedLoaded = false

const decode = (b64: string): Uint8Array<ArrayBuffer> => {
  const bin = atob(b64)
  const bytes = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
  return bytes
}

/** MAX_BYTES in 64 KiB pages: the shared memory's maximum (the module declares the same). */
const MAX_PAGES = MAX_BYTES / 65536

const instantiate = (b64: string, memory: WebAssembly.Memory | undefined): { module: WebAssembly.Module; ex: Exports } | undefined => {
  const bytes = decode(b64)
  if (!WebAssembly.validate(bytes)) return undefined // no SIMD (or no threads)
  const module = new WebAssembly.Module(bytes)
  const ex = new WebAssembly.Instance(module, memory === undefined ? {} : { env: { memory } }).exports as unknown as Exports
  if (ex.gemmTile() !== MR * 100 + NR) return undefined
  return { module, ex }
}

/** A variant's relaxed-SIMD build where the engine validates it, else its plain build (noting which in `relaxedLoaded`). */
const instantiateBest = (relaxedB64: string, plainB64: string, memory: WebAssembly.Memory | undefined): { module: WebAssembly.Module; ex: Exports } | undefined => {
  const relaxed = instantiate(relaxedB64, memory)
  const made = relaxed ?? instantiate(plainB64, memory)
  if (made !== undefined) relaxedLoaded = relaxed !== undefined
  return made
}

/** The shared variant, where SharedArrayBuffer exists and (in browsers) cross-origin isolation allows it. */
const loadShared = (): Exports | undefined => {
  const g = globalThis as { crossOriginIsolated?: boolean }
  if (typeof SharedArrayBuffer !== "function" || g.crossOriginIsolated === false) return undefined
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true } as WebAssembly.MemoryDescriptor)
    if (!(memory.buffer instanceof SharedArrayBuffer)) return undefined
    const made = instantiateBest(wasmSharedRelaxedBase64, wasmSharedBase64, memory)
    if (made === undefined) return undefined
    shared = { memory, module: made.module, exports: made.ex }
    return made.ex
  } catch {
    return undefined
  }
}

const load = (): Exports | undefined => {
  try {
    if (typeof WebAssembly !== "object") return undefined
    const ex = loadShared() ?? instantiateBest(wasmRelaxedBase64, wasmBase64, undefined)?.ex
    if (ex === undefined) return undefined
    heap = new Float32Array(ex.memory.buffer)
    return ex
  } catch {
    return undefined
  }
}

/**
 * Reserves `bytes` of linear memory (shared or not) for a kernel on the
 * calling thread; returns its first byte (16-aligned) and the memory's
 * buffer, or undefined (no WebAssembly, or too large). Valid until the next kernel.
 */
export const linear = (bytes: number): { readonly base: number; readonly buffer: ArrayBuffer | SharedArrayBuffer } | undefined => {
  const ex = wasm()
  if (ex === undefined) return undefined
  const base = (ex.heapBase() + 15) & ~15
  if (!reserve(ex, base + bytes)) return undefined
  return { base, buffer: ex.memory.buffer }
}

/**
 * Reserves `bytes` of shared linear memory for a job of the worker pool:
 * `linear`'s region where the memory is shared and `bytes` is within
 * PAR_MAX_BYTES; undefined otherwise. Valid until the next kernel.
 */
export const stage = (bytes: number): { readonly base: number; readonly buffer: ArrayBuffer | SharedArrayBuffer } | undefined =>
  shared === undefined || bytes > PAR_MAX_BYTES ? undefined : linear(bytes)

/** The shared memory and module for the worker pool (undefined: the kernels run on one thread). */
export const sharedWasm = (): SharedWasm | undefined => (wasm() !== undefined ? shared : undefined)

/** The kernels, or undefined when WebAssembly SIMD is unavailable or disabled. */
export const wasm = (): Exports | undefined => {
  if (!enabled) return undefined
  if (state === "unloaded") state = load() ?? "failed"
  return state === "failed" ? undefined : state
}

/**
 * Which WebAssembly build the kernels run on: `shared` (the worker pool's
 * shared memory) and `relaxed` (relaxed SIMD's fused multiply-add in GEMM and
 * convolution); undefined when they are unavailable or disabled.
 */
export const wasmBuild = (): { readonly shared: boolean; readonly relaxed: boolean } | undefined =>
  wasm() === undefined ? undefined : { shared: shared !== undefined, relaxed: relaxedLoaded }

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
 * Below this many multiply-adds a product runs on one thread. The split
 * costs a worker's wake-up (a futex: tens of µs) and the wait for its last
 * chunk. Measured by `node bench/threads.mjs --only none --sweep --reps 9`
 * (2 Dec 2026, 3 runs at load averages 3.2, 1.7 and 1.6 on this 2-core
 * machine, none idle): every product below 256 × 256 × 256 (2²⁴) was slower
 * split (0.49–0.95×), 256³ itself 0.85–1.28×; `--only matmul512` gains
 * 1.3–1.9× (512³). An earlier session's sweep found the same (no size up
 * to 256³ faster split).
 */
let GEMM_PAR_MIN = 2 ** 24

/**
 * Rows of C per chunk when a product of `mp × k × np` is split over
 * `threads` threads (a multiple of MR; `mp` or more: not split). Chunks of
 * 4 per thread let a thread that got the core late take fewer.
 */
export const gemmRows = (mp: number, k: number, np: number, threads: number): number => {
  if (threads <= 1 || mp * k * np < GEMM_PAR_MIN || mp < 2 * MR) return mp
  return Math.max(MR, Math.ceil(mp / (4 * threads) / MR) * MR)
}

/** The length of the k blocks of a product with inner dimension k: equal blocks, at most KC (784 = 4 × 196, not 3 × 256 + 16). */
export const kBlock = (k: number): number => Math.ceil(k / Math.ceil(k / KC))

/** Sets the size thresholds of the parallel kernels (benchmarks measure them); returns the previous ones. */
export const setParallelThresholds = (t: { gemm?: number; unary?: number }): { gemm: number; unary: number } => {
  const was = { gemm: GEMM_PAR_MIN, unary: UNARY_PAR_MIN }
  if (t.gemm !== undefined) GEMM_PAR_MIN = t.gemm
  if (t.unary !== undefined) UNARY_PAR_MIN = t.unary
  return was
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
  const pool = currentPool()
  const rows = gemmRows(mp, k, np, pool.threads)
  const sw = rows < mp ? shared : undefined
  const kc = kBlock(k)
  if (n === 1 && sw === undefined) {
    // one column (a matrix times a vector): gemvF32, the same bits without padding B to NR columns
    const vP = aP + 4 * mp * k, yP = (vP + 4 * k + 15) & ~15
    if (!reserve(ex, yP + 4 * mp)) return false
    const F = heap
    const [ars, acs] = placeA(F, aP >> 2, a, aOff, A.rs, A.cs, m, mp, k)
    const v = vP >> 2
    if (b instanceof Float32Array && B.rs === 1) F.set(b.subarray(bOff, bOff + k), v)
    else for (let p = 0; p < k; p++) F[v + p] = b[bOff + p * B.rs]!
    ex.gemvF32(aP, ars, acs, vP, yP, mp, k, kc)
    out.set(F.subarray(yP >> 2, (yP >> 2) + m), oOff)
    return true
  }
  // B as it is (row-major or transposed) after C, packed by the SIMD kernel (split over the threads when the product is)
  const rowMajorB = B.rs === n && B.cs === 1
  const dense = b instanceof Float32Array && (rowMajorB || (B.rs === 1 && B.cs === k))
  const rawP = cP + 4 * mp * np
  if (!reserve(ex, dense ? rawP + 4 * k * n : rawP)) return false
  const F = heap
  let strides: [number, number] | undefined
  if (dense && sw !== undefined) {
    // split: a chunk packs a group of k blocks (rows) of some column panels; a row-major B is copied in
    // group by group as the threads start packing the first groups (a transposed one is copied whole first)
    const src = b as Float32Array
    const panels = np / NR
    const nkb = Math.ceil(k / kc)
    // k blocks per group (at most KGROUPS groups), chunks per group: about 4 per thread in all
    const bpg = Math.ceil(nkb / KGROUPS), groups = Math.ceil(nkb / bpg), rowsPer = bpg * kc
    const per = Math.ceil(panels / Math.min(panels, Math.ceil((4 * pool.threads) / groups)))
    const pc = Math.ceil(panels / per)
    const feed = (c: number) => {
      if (c % pc !== 0) return
      const k0 = (c / pc) * rowsPer
      if (rowMajorB) F.set(src.subarray(bOff + k0 * n, bOff + Math.min(k, k0 + rowsPer) * n), (rawP >> 2) + k0 * n)
      else if (c === 0) F.set(src.subarray(bOff, bOff + k * n), rawP >> 2)
    }
    // A is placed while the threads pack B
    const during = () => void (strides = placeA(F, aP >> 2, a, aOff, A.rs, A.cs, m, mp, k))
    pool.exec(sw, PACKB, [rawP, B.rs, B.cs, bP, n, np, k, kc, per, pc, rowsPer], groups * pc, false, { feed, during })
  } else if (dense) {
    F.set((b as Float32Array).subarray(bOff, bOff + k * n), rawP >> 2)
    ex.packB(rawP, B.rs, B.cs, bP, n, np, k, kc, 0, np)
  } else packB(F, bP >> 2, b, bOff, B.rs, B.cs, n, np, k, kc)
  const [ars, acs] = strides ?? placeA(F, aP >> 2, a, aOff, A.rs, A.cs, m, mp, k)
  const c = cP >> 2
  // rows i0 … i1 of C into out
  const copyRows = (i0: number, i1: number) => {
    if (np === n) out.set(F.subarray(c + i0 * n, c + i1 * n), oOff + i0 * n)
    else
      for (let i = i0; i < i1; i++) {
        const src = c + i * np, dst = oOff + i * n
        for (let j = 0; j < n; j++) out[dst + j] = F[src + j]!
      }
  }
  if (sw !== undefined) {
    // each block of rows copied out as soon as the calling thread has computed it (the rest after the job)
    const drain = (chunk: number) => copyRows(Math.min(m, chunk * rows), Math.min(m, (chunk + 1) * rows))
    pool.exec(sw, GEMM, [aP, ars, acs, bP, cP, mp, np, k, kc, NC, rows], Math.ceil(mp / rows), false, { drain })
  } else {
    ex.gemmF32(aP, ars, acs, bP, cP, mp, np, k, kc, NC)
    copyRows(0, m)
  }
  return true
}

/** The unary ops with a WebAssembly kernel (float32), and their codes. */
export const wasmUnary = { sin: 0, cos: 1, exp: 2, tanh: 3 } as const

/** Elements per call of the unary kernel on one thread (256 KiB of linear memory). */
const CHUNK = 65536
/** Elements per chunk of a unary kernel split over threads. */
const PAR_CHUNK = 16384
/**
 * Below this many elements a unary kernel runs on one thread. Measured with
 * GEMM_PAR_MIN's sweep (same runs): sin was slower split up to 131072
 * elements in all three (0.76–0.94×), 262144 gained 1.36× and 1.50× in two
 * (0.86× in the third); the earlier session's sweep chose 262144 too.
 */
let UNARY_PAR_MIN = 262144
/** At most this many bytes of input are placed in linear memory at once for the threads. */
const PAR_MAX_BYTES = 64 * 2 ** 20

/**
 * out[i] = f(a[i]) on the WebAssembly kernel for float32 sin, cos or exp,
 * chunk by chunk through linear memory (split over the worker pool when
 * large). Inputs with |x| ≥ 10⁵ (sin, cos) are recomputed with `fallback`,
 * as the JavaScript versions do. Returns false, doing nothing, when the
 * kernel is unavailable.
 */
export const unaryF32Wasm = (op: keyof typeof wasmUnary, a: Float32Array, out: Float32Array, fallback: (x: number) => number): boolean => {
  const ex = wasm()
  if (ex === undefined) return false
  const base = (ex.heapBase() + 15) & ~15
  const code = wasmUnary[op]
  const n = a.length
  const pool = currentPool()
  const padded = (n + 3) & ~3
  if (shared !== undefined && pool.threads > 1 && n >= UNARY_PAR_MIN && 4 * padded <= PAR_MAX_BYTES && reserve(ex, base + 4 * padded)) {
    const F = heap
    const q = base >> 2
    // each chunk's input is copied just before it may be claimed: the workers start during the copy
    const feed = (c: number) => {
      const i0 = c * PAR_CHUNK, i1 = Math.min(n, i0 + PAR_CHUNK)
      F.set(a.subarray(i0, i1), q + i0)
      if (i1 === n && padded > n) F.fill(0, q + n, q + padded)
    }
    // and each chunk's result copied out as soon as the calling thread has computed it (the rest after the job)
    const drain = (c: number) => {
      const i0 = c * PAR_CHUNK, i1 = Math.min(n, i0 + PAR_CHUNK)
      out.set(F.subarray(q + i0, q + i1), i0)
    }
    const far = pool.exec(shared, UNARY, [base, base, padded, code, PAR_CHUNK], Math.ceil(padded / PAR_CHUNK), false, { feed, drain })
    if (far > 0) fixFar(a, out, 0, n, fallback)
    return true
  }
  if (!reserve(ex, base + 4 * CHUNK)) return false
  for (let i0 = 0; i0 < n; i0 += CHUNK) {
    const len = Math.min(CHUNK, n - i0)
    const padded = (len + 3) & ~3
    const F = heap
    const q = base >> 2
    F.set(a.subarray(i0, i0 + len), q)
    if (padded > len) F.fill(0, q + len, q + padded)
    const far = ex.unaryF32(base, base, padded, code)
    out.set(F.subarray(q, q + len), i0)
    if (far > 0) fixFar(a, out, i0, i0 + len, fallback)
  }
  return true
}

/** Recomputes the finite inputs with |x| ≥ 10⁵ of a[from, to) with `fallback`. */
const fixFar = (a: Float32Array, out: Float32Array, from: number, to: number, fallback: (x: number) => number): void => {
  for (let i = from; i < to; i++) {
    const x = a[i]!
    if (Math.abs(x) >= 1e5 && Math.abs(x) !== Infinity) out[i] = fallback(x)
  }
}
