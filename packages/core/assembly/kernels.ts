/**
 * WebAssembly SIMD kernels of the CPU backend (GEMM, unary and fused
 * float32 loops, convolutions), in AssemblyScript (compiled by
 * `scripts/build-wasm.mjs` into `src/internal/cpu/wasm-module.ts`).
 *
 * The JavaScript side (`src/internal/cpu/wasm.ts`) owns the memory: it packs
 * the operands into linear memory, calls one kernel, and copies the result
 * out. These functions only compute; they allocate nothing.
 */

/** Where the JavaScript side may start placing buffers. */
export function heapBase(): usize {
  return __heap_base
}

// ------------------------------------------------------------------ GEMM
//
// C (mp × np, row-major, padded) = A (mp × k) · B (k × np), float32.
// A is read in place through strides (in bytes): element (i, p) at
// a + i·ars + p·acs, so a row-major or transposed copy needs no packing
// (rows past m are read but only feed padded rows of C, never copied out).
// `k` is cut into blocks of `kc` (the last one shorter), the columns into
// blocks of `nc` (a multiple of NR), so that a kc × nc block of B stays in
// L2. B is packed: for each k block starting at k0 with length kb, the block
// at b + k0·np·4 holds panels of NR columns, panel q at + q·kb·NR·4 holding
// element (p, c) at p·NR + c. np is a multiple of NR, mp of MR.
// The micro-kernel holds an MR × NR tile of C in 8 SIMD registers for the
// whole k block: per step 2 loads of B, 4 splat loads of A, 8 vector multiply-adds
// (madd4: fused where built with relaxed SIMD).
// (6 × 8 needs 15 registers and spills under V8: measured slower.)

const MR = 4
const NR = 8

// c + a·b, lane-wise. Built with relaxed SIMD (the "relaxed" variants of
// build-wasm.mjs) it is `f32x4.relaxed_madd`, a fused multiply-add where the
// CPU has one (one rounding: about 1.25× the GEMM and convolution throughput
// measured on this repository's machine); without it, a multiply then an add
// (two roundings). Either way every thread of one process runs the same
// instruction, so results stay equal for any thread count. Only the GEMM and
// convolution accumulators use it: the elementwise and fused kernels keep
// JavaScript's bits (a separate multiply and add).
// @ts-ignore: decorator
@inline
function madd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c)
  return f32x4.add(c, f32x4.mul(a, b))
}

// @ts-ignore: decorator
@inline
function micro(a: usize, ars: usize, acs: usize, b: usize, c: usize, kb: i32, ldc: usize, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0)
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0)
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0)
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0)
  let a0 = a
  let a1 = a + ars
  let a2 = a1 + ars
  let a3 = a2 + ars
  for (let p = 0; p < kb; p++) {
    const b0 = v128.load(b)
    const b1 = v128.load(b, 16)
    let x = v128.load32_splat(a0)
    c00 = madd4(x, b0, c00)
    c01 = madd4(x, b1, c01)
    x = v128.load32_splat(a1)
    c10 = madd4(x, b0, c10)
    c11 = madd4(x, b1, c11)
    x = v128.load32_splat(a2)
    c20 = madd4(x, b0, c20)
    c21 = madd4(x, b1, c21)
    x = v128.load32_splat(a3)
    c30 = madd4(x, b0, c30)
    c31 = madd4(x, b1, c31)
    a0 += acs
    a1 += acs
    a2 += acs
    a3 += acs
    b += 32
  }
  if (add) {
    c00 = f32x4.add(c00, v128.load(c))
    c01 = f32x4.add(c01, v128.load(c, 16))
    c10 = f32x4.add(c10, v128.load(c + ldc))
    c11 = f32x4.add(c11, v128.load(c + ldc, 16))
    c20 = f32x4.add(c20, v128.load(c + 2 * ldc))
    c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16))
    c30 = f32x4.add(c30, v128.load(c + 3 * ldc))
    c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16))
  }
  v128.store(c, c00)
  v128.store(c, c01, 16)
  v128.store(c + ldc, c10)
  v128.store(c + ldc, c11, 16)
  v128.store(c + 2 * ldc, c20)
  v128.store(c + 2 * ldc, c21, 16)
  v128.store(c + 3 * ldc, c30)
  v128.store(c + 3 * ldc, c31, 16)
}

/** The tile sizes this module was built with (checked by the JavaScript side). */
export function gemmTile(): i32 {
  return MR * 100 + NR
}

export function gemmF32(a: usize, ars: usize, acs: usize, b: usize, c: usize, mp: i32, np: i32, k: i32, kc: i32, nc: i32): void {
  const ldc = <usize>np << 2
  for (let k0 = 0; k0 < k; k0 += kc) {
    const kb = min(kc, k - k0)
    const aBlock = a + <usize>k0 * acs
    const bBlock = b + (<usize>k0 * <usize>np << 2)
    const add = k0 > 0
    for (let n0 = 0; n0 < np; n0 += nc) {
      const n1 = min(np, n0 + nc)
      for (let i = 0; i < mp; i += MR) {
        const aStrip = aBlock + <usize>i * ars
        const cRow = c + <usize>i * ldc
        for (let j = n0; j < n1; j += NR) {
          micro(aStrip, ars, acs, bBlock + (<usize>j * <usize>kb << 2), cRow + (<usize>j << 2), kb, ldc, add)
        }
      }
    }
  }
}

/**
 * C (mp × 1) = A (mp × k) · b (k, contiguous), float32: a product with one
 * column, which gemmF32 would pad to NR columns (8 × the work). A is read
 * through strides as there. Each element gets exactly gemmF32's operations:
 * per k block (kc long, the last shorter) a sum from 0 of madd4 steps in
 * the order of p, then added to the sum of the blocks before it; so a
 * product's column has the same bits whichever kernel computed it. Rows go
 * in lanes, several groups of four at once (independent chains): a
 * transposed A (rows 4 bytes apart) is loaded four rows at a time, a
 * row-major one four steps of four rows at a time and transposed in
 * registers; other strides gather lane by lane.
 */
export function gemvF32(a: usize, ars: usize, acs: usize, b: usize, c: usize, mp: i32, k: i32, kc: i32): void {
  let i = 0
  if (ars == 4) {
    for (; i + 16 <= mp; i += 16) {
      const row = a + (<usize>i << 2)
      let t0 = f32x4.splat(0), t1 = t0, t2 = t0, t3 = t0
      for (let k0 = 0; k0 < k; k0 += kc) {
        const kb = min(kc, k - k0)
        let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0
        let at = row + <usize>k0 * acs
        let bp = b + (<usize>k0 << 2)
        for (let p = 0; p < kb; p++) {
          const x = v128.load32_splat(bp)
          s0 = madd4(v128.load(at), x, s0)
          s1 = madd4(v128.load(at, 16), x, s1)
          s2 = madd4(v128.load(at, 32), x, s2)
          s3 = madd4(v128.load(at, 48), x, s3)
          at += acs
          bp += 4
        }
        if (k0 == 0) {
          t0 = s0
          t1 = s1
          t2 = s2
          t3 = s3
        } else {
          t0 = f32x4.add(s0, t0)
          t1 = f32x4.add(s1, t1)
          t2 = f32x4.add(s2, t2)
          t3 = f32x4.add(s3, t3)
        }
      }
      const q = c + (<usize>i << 2)
      v128.store(q, t0)
      v128.store(q, t1, 16)
      v128.store(q, t2, 32)
      v128.store(q, t3, 48)
    }
  } else if (acs == 4) {
    for (; i + 8 <= mp; i += 8) {
      const r0 = a + <usize>i * ars
      let t0 = f32x4.splat(0), t1 = t0
      for (let k0 = 0; k0 < k; k0 += kc) {
        const kb = min(kc, k - k0)
        let s0 = f32x4.splat(0), s1 = s0
        let at = r0 + (<usize>k0 << 2)
        let bp = b + (<usize>k0 << 2)
        let p = 0
        for (; p + 4 <= kb; p += 4) {
          // rows i … i + 7, steps p … p + 3: two 4 × 4 blocks turned so that a vector holds one step of four rows
          const a0 = v128.load(at), a1 = v128.load(at + ars), a2 = v128.load(at + 2 * ars), a3 = v128.load(at + 3 * ars)
          const a4 = v128.load(at + 4 * ars), a5 = v128.load(at + 5 * ars), a6 = v128.load(at + 6 * ars), a7 = v128.load(at + 7 * ars)
          const l01 = i32x4.shuffle(a0, a1, 0, 4, 1, 5), l23 = i32x4.shuffle(a2, a3, 0, 4, 1, 5)
          const h01 = i32x4.shuffle(a0, a1, 2, 6, 3, 7), h23 = i32x4.shuffle(a2, a3, 2, 6, 3, 7)
          const l45 = i32x4.shuffle(a4, a5, 0, 4, 1, 5), l67 = i32x4.shuffle(a6, a7, 0, 4, 1, 5)
          const h45 = i32x4.shuffle(a4, a5, 2, 6, 3, 7), h67 = i32x4.shuffle(a6, a7, 2, 6, 3, 7)
          let x = v128.load32_splat(bp)
          s0 = madd4(i32x4.shuffle(l01, l23, 0, 1, 4, 5), x, s0)
          s1 = madd4(i32x4.shuffle(l45, l67, 0, 1, 4, 5), x, s1)
          x = v128.load32_splat(bp, 4)
          s0 = madd4(i32x4.shuffle(l01, l23, 2, 3, 6, 7), x, s0)
          s1 = madd4(i32x4.shuffle(l45, l67, 2, 3, 6, 7), x, s1)
          x = v128.load32_splat(bp, 8)
          s0 = madd4(i32x4.shuffle(h01, h23, 0, 1, 4, 5), x, s0)
          s1 = madd4(i32x4.shuffle(h45, h67, 0, 1, 4, 5), x, s1)
          x = v128.load32_splat(bp, 12)
          s0 = madd4(i32x4.shuffle(h01, h23, 2, 3, 6, 7), x, s0)
          s1 = madd4(i32x4.shuffle(h45, h67, 2, 3, 6, 7), x, s1)
          at += 16
          bp += 16
        }
        for (; p < kb; p++) {
          const x = v128.load32_splat(bp)
          s0 = madd4(gather4(at, ars), x, s0)
          s1 = madd4(gather4(at + 4 * ars, ars), x, s1)
          at += 4
          bp += 4
        }
        if (k0 == 0) {
          t0 = s0
          t1 = s1
        } else {
          t0 = f32x4.add(s0, t0)
          t1 = f32x4.add(s1, t1)
        }
      }
      const q = c + (<usize>i << 2)
      v128.store(q, t0)
      v128.store(q, t1, 16)
    }
  }
  for (; i < mp; i += MR) {
    const row = a + <usize>i * ars
    let total = f32x4.splat(0)
    for (let k0 = 0; k0 < k; k0 += kc) {
      const kb = min(kc, k - k0)
      let acc = f32x4.splat(0)
      let at = row + <usize>k0 * acs
      let bp = b + (<usize>k0 << 2)
      for (let p = 0; p < kb; p++) {
        acc = madd4(ars == 4 ? v128.load(at) : gather4(at, ars), v128.load32_splat(bp), acc)
        at += acs
        bp += 4
      }
      total = k0 == 0 ? acc : f32x4.add(acc, total)
    }
    v128.store(c + (<usize>i << 2), total)
  }
}

/** Four float32 `step` bytes apart, in lanes 0 … 3. */
// @ts-ignore: decorator
@inline
function gather4(at: usize, step: usize): v128 {
  let x = v128.load32_zero(at)
  x = v128.load32_lane(at + step, x, 1)
  x = v128.load32_lane(at + 2 * step, x, 2)
  return v128.load32_lane(at + 3 * step, x, 3)
}

/**
 * Packs columns j0 … j1 (multiples of NR) of B for gemmF32: b(p, j) at
 * src + 4·(p·rs + j·cs) (strides in elements), into the layout above at
 * dst, columns past n as zeros. Threads pack disjoint column ranges.
 */
export function packB(src: usize, rs: i32, cs: i32, dst: usize, n: i32, np: i32, k: i32, kc: i32, j0: i32, j1: i32): void {
  const rowStep = <usize>rs << 2
  for (let k0 = 0; k0 < k; k0 += kc) {
    const kb = min(kc, k - k0)
    const block = dst + (<usize>k0 * <usize>np << 2)
    for (let j = j0; j < j1; j += NR) {
      let q = block + (<usize>j * <usize>kb << 2)
      let at = src + ((<usize>k0 * <usize>rs + <usize>j * <usize>cs) << 2)
      if (j + NR <= n && cs == 1) {
        for (let p = 0; p < kb; p++) {
          v128.store(q, v128.load(at))
          v128.store(q, v128.load(at, 16), 16)
          at += rowStep
          q += 32
        }
      } else {
        const w = min(NR, n - j)
        const colStep = <usize>cs << 2
        for (let p = 0; p < kb; p++) {
          for (let c = 0; c < NR; c++) store<f32>(q + (<usize>c << 2), c < w ? load<f32>(at + <usize>c * colStep) : 0)
          at += rowStep
          q += 32
        }
      }
    }
  }
}

// ------------------------------------------------------------------ sin, cos, exp
//
// float32 in, float32 out, computed in double precision two lanes at a time
// with exactly the operations of the JavaScript versions in
// src/internal/cpu/fastmath.ts (same constants, same order, round to nearest
// even for the reductions, no fused multiply-add), so both give the same
// bits. Results are rounded to float32 as Math.fround does.

const TWO_OVER_PI: f64 = 0.6366197723675814
const P1: f64 = 1.5707963267341256
const P2: f64 = 6.077100506506192e-11
const P3: f64 = 2.0222662487959506e-21
const LOG2E: f64 = 1.4426950408889634
const LN2_HI: f64 = 0.6931471803691238
const LN2_LO: f64 = 1.9082149292705877e-10

// @ts-ignore: decorator
@inline
function splat(x: f64): v128 {
  return f64x2.splat(x)
}

// @ts-ignore: decorator
@inline
function madd(a: v128, b: v128, c: f64): v128 {
  // c + a · b
  return f64x2.add(splat(c), f64x2.mul(a, b))
}

// @ts-ignore: decorator
@inline
function addmul(c: v128, a: v128, b: v128): v128 {
  // c + a · b, all three vectors
  return f64x2.add(c, f64x2.mul(a, b))
}

/** sin (cos when `cos`) of two doubles; lanes with |x| ≥ 1e5 are fixed by the caller. */
// @ts-ignore: decorator
@inline
function sincos2(x: v128, cos: bool): v128 {
  const q = f64x2.nearest(f64x2.mul(x, splat(TWO_OVER_PI)))
  let r = f64x2.sub(f64x2.sub(f64x2.sub(x, f64x2.mul(q, splat(P1))), f64x2.mul(q, splat(P2))), f64x2.mul(q, splat(P3)))
  r = v128.bitselect(x, r, f64x2.eq(q, splat(0)))
  const z = f64x2.mul(r, r)
  // s = r + r·z·(S1 + z·S2 + … + z⁵·S6), c = 1 + z·(C1 + z·C2 + … + z⁶·C7), by Estrin's scheme
  // (fastmath.ts's reduce, the same operations: pairs of terms, then pairs of pairs with z², z⁴)
  const z2 = f64x2.mul(z, z), z4 = f64x2.mul(z2, z2)
  const ps = addmul(addmul(madd(z, splat(1.0 / 120.0), -1.0 / 6.0), z2, madd(z, splat(1.0 / 362880.0), -1.0 / 5040.0)), z4, madd(z, splat(1.0 / 6227020800.0), -1.0 / 39916800.0))
  let s = f64x2.add(r, f64x2.mul(f64x2.mul(r, z), ps))
  s = v128.bitselect(r, s, f64x2.eq(z, splat(0)))
  const pc = addmul(
    addmul(madd(z, splat(1.0 / 24.0), -1.0 / 2.0), z2, madd(z, splat(1.0 / 40320.0), -1.0 / 720.0)),
    z4,
    addmul(madd(z, splat(1.0 / 479001600.0), -1.0 / 3628800.0), z2, splat(-1.0 / 87178291200.0))
  )
  const c = f64x2.add(splat(1), f64x2.mul(z, pc))
  // quadrant o = q & 3: sin = [s, c, −s, −c][o], cos = [c, −s, −c, s][o]
  let o = i32x4.trunc_sat_f64x2_s_zero(q)
  if (cos) o = i32x4.add(o, i32x4.splat(1))
  const odd = i64x2.extend_low_i32x4_s(i32x4.ne(v128.and(o, i32x4.splat(1)), i32x4.splat(0)))
  const neg = i64x2.extend_low_i32x4_s(i32x4.ne(v128.and(o, i32x4.splat(2)), i32x4.splat(0)))
  const base = v128.bitselect(c, s, odd)
  return v128.bitselect(f64x2.neg(base), base, neg)
}

// exp's reduction (tanh's too): x = k·ln 2 + r with k = nearest(x·log₂e), ln 2 in two parts
// @ts-ignore: decorator
@inline
function ln2Steps(x: v128): v128 {
  return f64x2.nearest(f64x2.mul(x, splat(LOG2E)))
}

// @ts-ignore: decorator
@inline
function ln2Rest(x: v128, k: v128): v128 {
  return f64x2.sub(f64x2.sub(x, f64x2.mul(k, splat(LN2_HI))), f64x2.mul(k, splat(LN2_LO)))
}

/** 2^k of two doubles holding integers (|k| < 1023), from its bits. */
// @ts-ignore: decorator
@inline
function pow2lanes(k: v128): v128 {
  const ki = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(k))
  return i64x2.shl(i64x2.add(ki, i64x2.splat(1023)), 52)
}

/** e^x of two doubles, x clamped to [−104, 88.8] (beyond, the float32 result is 0 or ∞). */
// @ts-ignore: decorator
@inline
function exp2lanes(x: v128): v128 {
  const xc = f64x2.min(f64x2.max(x, splat(-104)), splat(88.8))
  const k = ln2Steps(xc)
  const r = ln2Rest(xc, k)
  // p = e^r by Estrin's scheme (fastmath.ts's expF, the same operations): pairs of terms, then pairs of pairs
  const r2 = f64x2.mul(r, r), r4 = f64x2.mul(r2, r2), r8 = f64x2.mul(r4, r4)
  const p0 = f64x2.add(splat(1), r), p2 = madd(r, splat(1.0 / 6.0), 0.5), p4 = madd(r, splat(1.0 / 120.0), 1.0 / 24.0)
  const p6 = madd(r, splat(1.0 / 5040.0), 1.0 / 720.0), p8 = madd(r, splat(1.0 / 362880.0), 1.0 / 40320.0)
  const p10 = madd(r, splat(1.0 / 39916800.0), 1.0 / 3628800.0)
  const p = addmul(addmul(p0, r2, p2), r4, addmul(p4, r2, p6))
  return f64x2.mul(addmul(p, r8, addmul(p8, r2, p10)), pow2lanes(k))
}

/**
 * tanh of two doubles: fastmath.ts's tanhF (the same operations, so the
 * same bits): m = e^y − 1 for y = 2|x| from exp's reduction (y = k·ln 2 + r)
 * and a Taylor polynomial of e^r − 1, tanh = m / (m + 2), the sign restored.
 */
// @ts-ignore: decorator
@inline
function tanh2lanes(x: v128): v128 {
  const a = f64x2.abs(x)
  const y = f64x2.add(a, a)
  const yc = v128.bitselect(y, splat(88.8), f64x2.lt(y, splat(88.8)))
  const k = ln2Steps(yc)
  const r = ln2Rest(yc, k)
  // q = e^r − 1 = r · P(r), P by Estrin's scheme: pairs of terms, then pairs of pairs with r², r⁴, r⁸
  // (fastmath.ts's tanhF, the same operations: a chain of 8 operations where Horner's has 25)
  const r2 = f64x2.mul(r, r), r4 = f64x2.mul(r2, r2), r8 = f64x2.mul(r4, r4)
  const p0 = madd(r, splat(1.0 / 2.0), 1.0), p2 = madd(r, splat(1.0 / 24.0), 1.0 / 6.0), p4 = madd(r, splat(1.0 / 720.0), 1.0 / 120.0)
  const p6 = madd(r, splat(1.0 / 40320.0), 1.0 / 5040.0), p8 = madd(r, splat(1.0 / 3628800.0), 1.0 / 362880.0)
  const p10 = madd(r, splat(1.0 / 479001600.0), 1.0 / 39916800.0)
  const q0 = addmul(p0, r2, p2), q4 = addmul(p4, r2, p6), q8 = addmul(p8, r2, p10)
  const q = f64x2.mul(r, addmul(addmul(q0, r4, q4), r8, addmul(q8, r4, splat(1.0 / 6227020800.0))))
  const s = pow2lanes(k)
  const m = f64x2.add(f64x2.mul(q, s), f64x2.sub(s, splat(1)))
  const t = f64x2.div(m, f64x2.add(m, splat(2)))
  // x < 0 ? −t : x > 0 ? t : x (±0 and NaN kept)
  return v128.bitselect(f64x2.neg(t), v128.bitselect(t, x, f64x2.gt(x, splat(0))), f64x2.lt(x, splat(0)))
}

/**
 * dst[i] = f(src[i]) for i < n (n a multiple of 4; dst may equal src),
 * f = sin (op 0), cos (op 1), exp (op 2) or tanh (op 3). Returns how many inputs were
 * finite with |x| ≥ 1e5 (sin and cos): the caller recomputes those.
 */
export function unaryF32(src: usize, dst: usize, n: i32, op: i32): i32 {
  let far = 0
  const limit = f32x4.splat(1e5)
  for (let i = 0; i < n; i += 4) {
    const v = v128.load(src + (<usize>i << 2))
    const lo = f64x2.promote_low_f32x4(v)
    const hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1))
    let a: v128, b: v128
    if (op == 2) {
      a = exp2lanes(lo)
      b = exp2lanes(hi)
    } else if (op == 3) {
      a = tanh2lanes(lo)
      b = tanh2lanes(hi)
    } else {
      const av = f32x4.abs(v)
      far += i32x4.bitmask(v128.and(f32x4.ge(av, limit), f32x4.ne(av, f32x4.splat(Infinity)))) != 0 ? 1 : 0
      a = sincos2(lo, op == 1)
      b = sincos2(hi, op == 1)
    }
    v128.store(dst + (<usize>i << 2), i32x4.shuffle(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 1, 4, 5))
  }
  return far
}

// ------------------------------------------------------------------ fused float32 programs
//
// A fused elementwise group of float32 operations (src/internal/cpu/fusion.ts)
// run tile by tile: each operation runs over a tile of TILE elements, its
// result kept in a scratch tile (in L1) for the operations after it, the
// last one's written to the output. One pass over memory for the whole
// group, with sin, cos and exp computed here as unaryF32 computes them.
// Every float32 result is rounded as the separate kernels store it
// (f32x4 add, sub, mul, div and sqrt round once, as Math.fround of the
// double operation; sin, cos, exp in double precision, then demoted), so
// the bits equal the JavaScript loop's. A comparison's result is 1 or 0
// (as float32), as the JavaScript loop's `| 0`.
//
// prog: per operation 5 i32 (code, destination slot, operand slots a, b, c;
// sincos: c is the cos destination). Slots (nslots): the leaves first,
// then one per operation of the group (a sincos fills two). leaves: per leaf 3 i32 (kind, pointer, period): kind 0 dense
// float32 (element i at pointer + 4i), 1 a float32 scalar, 2 float32 of
// period `period` (element i at pointer + 4(i mod period)), 3, 4, 5 the
// same for bool bytes. Elements i0 … i1 of out (+ 4i); i0 a multiple of
// TILE, elements up to i1 rounded up to 4 are computed (dense operands and
// the output must have that room). scratch: 4 + 4·TILE bytes per slot.
// Returns how many inputs of sin or cos were finite with |x| ≥ 1e5 (the
// caller recomputes the group another way).

const TILE = 256

export const F_NEG = 0, F_ABS = 1, F_SQRT = 2, F_FLOOR = 3, F_SIGN = 4, F_SIN = 5, F_COS = 6, F_EXP = 7, F_SINCOS = 8
export const F_ADD = 9, F_SUB = 10, F_MUL = 11, F_DIV = 12, F_MAX = 13, F_MIN = 14, F_GREATER = 15, F_LESS = 16, F_EQUAL = 17, F_WHERE = 18, F_TANH = 19

/** The tile length of fusedF32 (checked by the JavaScript side). */
export function fusedTile(): i32 {
  return TILE
}

// @ts-ignore: decorator
@inline
function farLanes(v: v128): i32 {
  const av = f32x4.abs(v)
  return i32x4.bitmask(v128.and(f32x4.ge(av, f32x4.splat(1e5)), f32x4.ne(av, f32x4.splat(Infinity)))) != 0 ? 1 : 0
}

// @ts-ignore: decorator
@inline
function demote2(a: v128, b: v128): v128 {
  return i32x4.shuffle(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 1, 4, 5)
}

// @ts-ignore: decorator
@inline
function hiOf(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1))
}

export function fusedF32(prog: usize, nops: i32, leaves: usize, nleaves: i32, nslots: i32, out: usize, i0: i32, i1: i32, scratch: usize): i32 {
  const ptrs = scratch
  const tiles = (scratch + (<usize>nslots << 2) + 15) & ~(<usize>15)
  const one = f32x4.splat(1)
  let far = 0
  // scalars: their tile filled once
  for (let l = 0; l < nleaves; l++) {
    const d = leaves + (<usize>l * 12)
    const kind = load<i32>(d)
    if (kind == 1 || kind == 4) {
      const v = kind == 1 ? load<f32>(load<u32>(d, 4)) : load<u8>(load<u32>(d, 4)) != 0 ? <f32>1 : <f32>0
      const t = tiles + (<usize>l * TILE << 2)
      const s = f32x4.splat(v)
      for (let j = 0; j < TILE; j += 4) v128.store(t + (<usize>j << 2), s)
      store<u32>(ptrs + (<usize>l << 2), <u32>t)
    }
  }
  for (let op = 0; op < nops; op++) {
    const o = prog + (<usize>op * 20)
    const d = load<i32>(o, 4)
    store<u32>(ptrs + (<usize>d << 2), <u32>(tiles + (<usize>d * TILE << 2)))
    if (load<i32>(o) == F_SINCOS) {
      const e = load<i32>(o, 16)
      store<u32>(ptrs + (<usize>e << 2), <u32>(tiles + (<usize>e * TILE << 2)))
    }
  }
  for (let s = i0; s < i1; s += TILE) {
    const len = (min(TILE, i1 - s) + 3) & ~3
    // the leaves' tiles
    for (let l = 0; l < nleaves; l++) {
      const d = leaves + (<usize>l * 12)
      const kind = load<i32>(d)
      const p = <usize>load<u32>(d, 4)
      if (kind == 0) store<u32>(ptrs + (<usize>l << 2), <u32>(p + (<usize>s << 2)))
      else if (kind == 2) {
        // a float32 period: read in place where the tile lies within one period (a bias of 256 or 512
        // elements: every tile), else copied run by run into its tile
        const period = load<i32>(d, 8)
        let r = s % period
        if (r + len <= period) store<u32>(ptrs + (<usize>l << 2), <u32>(p + (<usize>r << 2)))
        else {
          const t = tiles + (<usize>l * TILE << 2)
          for (let j = 0; j < len; ) {
            const run = min(len - j, period - r)
            memory.copy(t + (<usize>j << 2), p + (<usize>r << 2), <usize>run << 2)
            j += run
            r = 0
          }
          store<u32>(ptrs + (<usize>l << 2), <u32>t)
        }
      } else if (kind == 5 || kind == 3) {
        // bools (dense or a period) as 0 / 1
        const period = kind == 3 ? 0x7fffffff : load<i32>(d, 8)
        const t = tiles + (<usize>l * TILE << 2)
        let r = kind == 3 ? s : s % period
        for (let j = 0; j < len; j++) {
          store<f32>(t + (<usize>j << 2), load<u8>(p + <usize>r) != 0 ? <f32>1 : <f32>0)
          if (++r == period) r = 0
        }
        store<u32>(ptrs + (<usize>l << 2), <u32>t)
      }
    }
    // the last operation writes the output
    const last = load<i32>(prog + (<usize>(nops - 1) * 20), 4)
    store<u32>(ptrs + (<usize>last << 2), <u32>(out + (<usize>s << 2)))
    for (let op = 0; op < nops; op++) {
      const o = prog + (<usize>op * 20)
      const code = load<i32>(o)
      const dst = <usize>load<u32>(ptrs + (<usize>load<i32>(o, 4) << 2))
      const a = <usize>load<u32>(ptrs + (<usize>load<i32>(o, 8) << 2))
      const b = code >= F_ADD && code <= F_WHERE ? <usize>load<u32>(ptrs + (<usize>load<i32>(o, 12) << 2)) : a
      const c = code == F_WHERE ? <usize>load<u32>(ptrs + (<usize>load<i32>(o, 16) << 2)) : code == F_SINCOS ? <usize>load<u32>(ptrs + (<usize>load<i32>(o, 16) << 2)) : a
      const bytes = <usize>len << 2
      switch (code) {
        case F_NEG: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, f32x4.neg(v128.load(a + j))); break
        case F_ABS: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, f32x4.abs(v128.load(a + j))); break
        case F_SQRT: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, f32x4.sqrt(v128.load(a + j))); break
        case F_FLOOR: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, f32x4.floor(v128.load(a + j))); break
        case F_SIGN:
          for (let j: usize = 0; j < bytes; j += 16) {
            // x > 0 ? 1 : x < 0 ? −1 : x == 0 ? +0 : x (NaN)
            const x = v128.load(a + j)
            const zero = f32x4.splat(0)
            let r = v128.bitselect(zero, x, f32x4.eq(x, zero))
            r = v128.bitselect(f32x4.splat(-1), r, f32x4.lt(x, zero))
            v128.store(dst + j, v128.bitselect(one, r, f32x4.gt(x, zero)))
          }
          break
        case F_SIN:
        case F_COS:
          for (let j: usize = 0; j < bytes; j += 16) {
            const v = v128.load(a + j)
            far += farLanes(v)
            v128.store(dst + j, demote2(sincos2(f64x2.promote_low_f32x4(v), code == F_COS), sincos2(hiOf(v), code == F_COS)))
          }
          break
        case F_SINCOS:
          for (let j: usize = 0; j < bytes; j += 16) {
            const v = v128.load(a + j)
            far += farLanes(v)
            const lo = f64x2.promote_low_f32x4(v), hi = hiOf(v)
            v128.store(dst + j, demote2(sincos2(lo, false), sincos2(hi, false)))
            v128.store(c + j, demote2(sincos2(lo, true), sincos2(hi, true)))
          }
          break
        case F_EXP:
          for (let j: usize = 0; j < bytes; j += 16) {
            const v = v128.load(a + j)
            v128.store(dst + j, demote2(exp2lanes(f64x2.promote_low_f32x4(v)), exp2lanes(hiOf(v))))
          }
          break
        case F_TANH:
          for (let j: usize = 0; j < bytes; j += 16) {
            const v = v128.load(a + j)
            v128.store(dst + j, demote2(tanh2lanes(f64x2.promote_low_f32x4(v)), tanh2lanes(hiOf(v))))
          }
          break
        case F_ADD: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, f32x4.add(v128.load(a + j), v128.load(b + j))); break
        case F_SUB: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, f32x4.sub(v128.load(a + j), v128.load(b + j))); break
        case F_MUL: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, f32x4.mul(v128.load(a + j), v128.load(b + j))); break
        case F_DIV: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, f32x4.div(v128.load(a + j), v128.load(b + j))); break
        case F_MAX:
          // x > y || x ≠ x ? x : y (as the JavaScript loop: NaN, and y on ties of ±0)
          for (let j: usize = 0; j < bytes; j += 16) {
            const x = v128.load(a + j), y = v128.load(b + j)
            v128.store(dst + j, v128.bitselect(x, y, v128.or(f32x4.gt(x, y), f32x4.ne(x, x))))
          }
          break
        case F_MIN:
          for (let j: usize = 0; j < bytes; j += 16) {
            const x = v128.load(a + j), y = v128.load(b + j)
            v128.store(dst + j, v128.bitselect(x, y, v128.or(f32x4.lt(x, y), f32x4.ne(x, x))))
          }
          break
        case F_GREATER: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, v128.and(f32x4.gt(v128.load(a + j), v128.load(b + j)), one)); break
        case F_LESS: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, v128.and(f32x4.lt(v128.load(a + j), v128.load(b + j)), one)); break
        case F_EQUAL: for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, v128.and(f32x4.eq(v128.load(a + j), v128.load(b + j)), one)); break
        case F_WHERE:
          for (let j: usize = 0; j < bytes; j += 16)
            v128.store(dst + j, v128.bitselect(v128.load(b + j), v128.load(c + j), f32x4.ne(v128.load(a + j), f32x4.splat(0))))
          break
        default: unreachable()
      }
    }
  }
  return far
}

// ------------------------------------------------------------------ leading-axes sums
//
// reduce-blocks.ts's sumLeading on a float32 input: the same units, the same
// order (each column adds its rows one by one, in float64, from 0), so the
// same bits; columns side by side in f64x2 lanes.

/**
 * Units u0 … u1 of a leading-axes sum: `src` holds m rows of w float32; unit
 * u is row block b = ⌊u / ncc⌋ (rows b·rb …) over columns c0 … c1 of column
 * chunk u mod ncc (cw wide); part (float64) [b·w + o] = Σ of column o over
 * the block's rows, left to right.
 */
export function sumLeadingF32(src: usize, w: i32, m: i32, rb: i32, ncc: i32, cw: i32, part: usize, u0: i32, u1: i32): void {
  const rowBytes = <usize>w << 2
  for (let u = u0; u < u1; u++) {
    const b = u / ncc, cc = u - b * ncc
    const c0 = cc * cw, c1 = min(w, c0 + cw)
    const p = part + (<usize>b * <usize>w << 3)
    const j0 = b * rb, e = min(m, j0 + rb)
    let o = c0
    // 16 columns at a time: eight independent accumulators
    for (; o + 16 <= c1; o += 16) {
      let s0 = f64x2.splat(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0
      let at = src + ((<usize>j0 * <usize>w + <usize>o) << 2)
      for (let j = j0; j < e; j++) {
        const v0 = v128.load(at), v1 = v128.load(at, 16), v2 = v128.load(at, 32), v3 = v128.load(at, 48)
        s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v0))
        s1 = f64x2.add(s1, hiOf(v0))
        s2 = f64x2.add(s2, f64x2.promote_low_f32x4(v1))
        s3 = f64x2.add(s3, hiOf(v1))
        s4 = f64x2.add(s4, f64x2.promote_low_f32x4(v2))
        s5 = f64x2.add(s5, hiOf(v2))
        s6 = f64x2.add(s6, f64x2.promote_low_f32x4(v3))
        s7 = f64x2.add(s7, hiOf(v3))
        at += rowBytes
      }
      const q = p + (<usize>o << 3)
      v128.store(q, s0)
      v128.store(q, s1, 16)
      v128.store(q, s2, 32)
      v128.store(q, s3, 48)
      v128.store(q, s4, 64)
      v128.store(q, s5, 80)
      v128.store(q, s6, 96)
      v128.store(q, s7, 112)
    }
    for (; o + 4 <= c1; o += 4) {
      let s0 = f64x2.splat(0), s1 = s0
      let at = src + ((<usize>j0 * <usize>w + <usize>o) << 2)
      for (let j = j0; j < e; j++) {
        const v = v128.load(at)
        s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v))
        s1 = f64x2.add(s1, hiOf(v))
        at += rowBytes
      }
      const q = p + (<usize>o << 3)
      v128.store(q, s0)
      v128.store(q, s1, 16)
    }
    for (; o < c1; o++) {
      let s: f64 = 0
      let at = src + ((<usize>j0 * <usize>w + <usize>o) << 2)
      for (let j = j0; j < e; j++) {
        s += <f64>load<f32>(at)
        at += rowBytes
      }
      store<f64>(p + (<usize>o << 3), s)
    }
  }
}

// ------------------------------------------------------------------ direct convolution
//
// One image, 2 spatial dims, unit stride along the width, no input dilation:
//   y[o, r, q] = Σ_c Σ_u Σ_v w[o, c, u, v] · x[c, r·sh + u·dh, q + v·dw]
// x is the zero-padded input [C][xh][xw] (padding already placed, and at
// least ow8 − 1 + (kw − 1)·dw + 8 columns so that the last tile reads
// zeros), w is packed [o4 / 4][taps][4] (four output channels side by side,
// zeros past O), `offs` holds for each tap (c, u, v) the byte offset of its
// input in x (c·xh·xw + u·dh·xw + v·dw, times 4), y is [o4][oh][ow8] with ow8
// a multiple of 8 (the columns past the true output width are garbage the
// caller drops). The micro-kernel holds a 4 (output channels) × 8 (columns)
// tile in 8 SIMD registers over all taps: per tap one offset, 2 loads of x,
// 4 splat loads of w and 16 multiply-adds.

export function convF32(x: usize, w: usize, offs: usize, y: usize, taps: i32, xw: i32, o4: i32, oh: i32, ow8: i32, sh: i32): void {
  const rowBytes = <usize>xw << 2
  const yRow = <usize>ow8 << 2
  const yChan = <usize>oh * yRow
  const offEnd = offs + (<usize>taps << 2)
  for (let ob = 0; ob < o4; ob += 4) {
    const wBlock = w + (<usize>ob * <usize>taps << 2)
    const yBlock = y + <usize>ob * yChan
    for (let r = 0; r < oh; r++) {
      const xRow = x + <usize>(r * sh) * rowBytes
      const yr = yBlock + <usize>r * yRow
      for (let q = 0; q < ow8; q += 8) {
        let a00 = f32x4.splat(0), a01 = f32x4.splat(0)
        let a10 = f32x4.splat(0), a11 = f32x4.splat(0)
        let a20 = f32x4.splat(0), a21 = f32x4.splat(0)
        let a30 = f32x4.splat(0), a31 = f32x4.splat(0)
        let wp = wBlock
        const xq = xRow + (<usize>q << 2)
        for (let op = offs; op < offEnd; op += 4) {
          const xp = xq + <usize>load<u32>(op)
          const x0 = v128.load(xp)
          const x1 = v128.load(xp, 16)
          let s = v128.load32_splat(wp)
          a00 = madd4(s, x0, a00)
          a01 = madd4(s, x1, a01)
          s = v128.load32_splat(wp, 4)
          a10 = madd4(s, x0, a10)
          a11 = madd4(s, x1, a11)
          s = v128.load32_splat(wp, 8)
          a20 = madd4(s, x0, a20)
          a21 = madd4(s, x1, a21)
          s = v128.load32_splat(wp, 12)
          a30 = madd4(s, x0, a30)
          a31 = madd4(s, x1, a31)
          wp += 16
        }
        const yp = yr + (<usize>q << 2)
        v128.store(yp, a00)
        v128.store(yp, a01, 16)
        v128.store(yp + yChan, a10)
        v128.store(yp + yChan, a11, 16)
        v128.store(yp + 2 * yChan, a20)
        v128.store(yp + 2 * yChan, a21, 16)
        v128.store(yp + 3 * yChan, a30)
        v128.store(yp + 3 * yChan, a31, 16)
      }
    }
  }
}

/**
 * Places `planes` planes of h × w float32 (the first at `src`, planes
 * `srcPlane` and rows `srcRow` elements apart, columns contiguous) into dst
 * as planes of xh × xw with the data at row `top`, column `left`, zero
 * elsewhere: the zero-padded input of the kernels here.
 */
export function padF32(src: usize, srcPlane: i32, srcRow: i32, dst: usize, planes: i32, h: i32, w: i32, xh: i32, xw: i32, top: i32, left: i32): void {
  memory.fill(dst, 0, <usize>(planes * xh * xw) << 2)
  const rowBytes = <usize>w << 2
  for (let p = 0; p < planes; p++) {
    let s = src + (<usize>(p * srcPlane) << 2)
    let d = dst + (<usize>((p * xh + top) * xw + left) << 2)
    for (let r = 0; r < h; r++) {
      memory.copy(d, s, rowBytes)
      s += <usize>srcRow << 2
      d += <usize>xw << 2
    }
  }
}

// ------------------------------------------------------------------ narrow convolution (kernel gradients)
//
// A convolution whose output is small and whose kernel is wide (what the
// kernel gradient of a layer is: the image plays the kernel), vectorized
// along the kernel's width instead of the output's:
//   y[o, p] = Σ_c Σ_u Σ_q w[o, c, u, q] · x[c, u·dh + row(p), q + col(p)]
// x is one zero-padded image [C][xh][xw]; `poff` holds for each output
// position p (an even count: the last one may repeat) the byte offset of
// (row(p), col(p)) in x; w is read through strides (in elements: ws0 between
// output channels, ws1 between input channels, ws2 between rows; the kw
// columns contiguous, kw a multiple of 4, o4 channels readable); y is
// [o4][positions]. Tile: 4 output channels × 2 positions in 8 SIMD
// accumulators, summed across lanes at the end.

export function convF32Narrow(x: usize, w: usize, ws0: i32, ws1: i32, ws2: i32, poff: usize, positions: i32, y: usize, c: i32, kh: i32, kw: i32, xh: i32, xw: i32, dh: i32, o4: i32): void {
  const xRow = <usize>(dh * xw) << 2
  const xChan = <usize>(xh * xw) << 2
  const o1 = <usize>ws0 << 2
  const kwBytes = <usize>kw << 2
  for (let ob = 0; ob < o4; ob += 4) {
    for (let p = 0; p < positions; p += 2) {
      const xa0 = x + <usize>load<u32>(poff + (<usize>p << 2))
      const xb0 = x + <usize>load<u32>(poff + (<usize>p << 2), 4)
      let a0 = f32x4.splat(0), b0 = f32x4.splat(0)
      let a1 = f32x4.splat(0), b1 = f32x4.splat(0)
      let a2 = f32x4.splat(0), b2 = f32x4.splat(0)
      let a3 = f32x4.splat(0), b3 = f32x4.splat(0)
      for (let ci = 0; ci < c; ci++) {
        for (let u = 0; u < kh; u++) {
          const xo = <usize>ci * xChan + <usize>u * xRow
          const xa = xa0 + xo, xb = xb0 + xo
          const wr = w + (<usize>(ob * ws0 + ci * ws1 + u * ws2) << 2)
          for (let q: usize = 0; q < kwBytes; q += 16) {
            const va = v128.load(xa + q), vb = v128.load(xb + q)
            let s = v128.load(wr + q)
            a0 = madd4(s, va, a0)
            b0 = madd4(s, vb, b0)
            s = v128.load(wr + o1 + q)
            a1 = madd4(s, va, a1)
            b1 = madd4(s, vb, b1)
            s = v128.load(wr + 2 * o1 + q)
            a2 = madd4(s, va, a2)
            b2 = madd4(s, vb, b2)
            s = v128.load(wr + 3 * o1 + q)
            a3 = madd4(s, va, a3)
            b3 = madd4(s, vb, b3)
          }
        }
      }
      const yp = y + (<usize>(ob * positions + p) << 2)
      const yc = <usize>positions << 2
      storeSums(yp, a0, b0)
      storeSums(yp + yc, a1, b1)
      storeSums(yp + 2 * yc, a2, b2)
      storeSums(yp + 3 * yc, a3, b3)
    }
  }
}

/** Stores the lane sums of a and b at y and y + 4. */
@inline
function storeSums(y: usize, a: v128, b: v128): void {
  store<f32>(y, f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3))
  store<f32>(y, f32x4.extract_lane(b, 0) + f32x4.extract_lane(b, 1) + f32x4.extract_lane(b, 2) + f32x4.extract_lane(b, 3), 4)
}
