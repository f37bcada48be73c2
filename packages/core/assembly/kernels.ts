/**
 * WebAssembly SIMD kernels of the CPU backend, in AssemblyScript (compiled by
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
// whole k block: per step 2 loads of B, 4 splat loads of A, 16 multiply-adds.
// (6 × 8 needs 15 registers and spills under V8: measured slower.)

const MR = 4
const NR = 8

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
    c00 = f32x4.add(c00, f32x4.mul(x, b0))
    c01 = f32x4.add(c01, f32x4.mul(x, b1))
    x = v128.load32_splat(a1)
    c10 = f32x4.add(c10, f32x4.mul(x, b0))
    c11 = f32x4.add(c11, f32x4.mul(x, b1))
    x = v128.load32_splat(a2)
    c20 = f32x4.add(c20, f32x4.mul(x, b0))
    c21 = f32x4.add(c21, f32x4.mul(x, b1))
    x = v128.load32_splat(a3)
    c30 = f32x4.add(c30, f32x4.mul(x, b0))
    c31 = f32x4.add(c31, f32x4.mul(x, b1))
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

/** sin (cos when `cos`) of two doubles; lanes with |x| ≥ 1e5 are fixed by the caller. */
// @ts-ignore: decorator
@inline
function sincos2(x: v128, cos: bool): v128 {
  const q = f64x2.nearest(f64x2.mul(x, splat(TWO_OVER_PI)))
  let r = f64x2.sub(f64x2.sub(f64x2.sub(x, f64x2.mul(q, splat(P1))), f64x2.mul(q, splat(P2))), f64x2.mul(q, splat(P3)))
  r = v128.bitselect(x, r, f64x2.eq(q, splat(0)))
  const z = f64x2.mul(r, r)
  // s = r + r·z·(S1 + z·(S2 + z·(S3 + z·(S4 + z·(S5 + z·S6)))))
  let ps = madd(z, splat(1.0 / 6227020800.0), -1.0 / 39916800.0)
  ps = madd(z, ps, 1.0 / 362880.0)
  ps = madd(z, ps, -1.0 / 5040.0)
  ps = madd(z, ps, 1.0 / 120.0)
  ps = madd(z, ps, -1.0 / 6.0)
  let s = f64x2.add(r, f64x2.mul(f64x2.mul(r, z), ps))
  s = v128.bitselect(r, s, f64x2.eq(z, splat(0)))
  // c = 1 + z·(C1 + z·(C2 + z·(C3 + z·(C4 + z·(C5 + z·(C6 + z·C7))))))
  let pc = madd(z, splat(-1.0 / 87178291200.0), 1.0 / 479001600.0)
  pc = madd(z, pc, -1.0 / 3628800.0)
  pc = madd(z, pc, 1.0 / 40320.0)
  pc = madd(z, pc, -1.0 / 720.0)
  pc = madd(z, pc, 1.0 / 24.0)
  pc = madd(z, pc, -1.0 / 2.0)
  const c = f64x2.add(splat(1), f64x2.mul(z, pc))
  // quadrant o = q & 3: sin = [s, c, −s, −c][o], cos = [c, −s, −c, s][o]
  let o = i32x4.trunc_sat_f64x2_s_zero(q)
  if (cos) o = i32x4.add(o, i32x4.splat(1))
  const odd = i64x2.extend_low_i32x4_s(i32x4.ne(v128.and(o, i32x4.splat(1)), i32x4.splat(0)))
  const neg = i64x2.extend_low_i32x4_s(i32x4.ne(v128.and(o, i32x4.splat(2)), i32x4.splat(0)))
  const base = v128.bitselect(c, s, odd)
  return v128.bitselect(f64x2.neg(base), base, neg)
}

/** e^x of two doubles, x clamped to [−104, 88.8] (beyond, the float32 result is 0 or ∞). */
// @ts-ignore: decorator
@inline
function exp2lanes(x: v128): v128 {
  const xc = f64x2.min(f64x2.max(x, splat(-104)), splat(88.8))
  const k = f64x2.nearest(f64x2.mul(xc, splat(LOG2E)))
  const r = f64x2.sub(f64x2.sub(xc, f64x2.mul(k, splat(LN2_HI))), f64x2.mul(k, splat(LN2_LO)))
  let p = madd(r, splat(1.0 / 39916800.0), 1.0 / 3628800.0)
  p = madd(r, p, 1.0 / 362880.0)
  p = madd(r, p, 1.0 / 40320.0)
  p = madd(r, p, 1.0 / 5040.0)
  p = madd(r, p, 1.0 / 720.0)
  p = madd(r, p, 1.0 / 120.0)
  p = madd(r, p, 1.0 / 24.0)
  p = madd(r, p, 1.0 / 6.0)
  p = madd(r, p, 0.5)
  p = madd(r, p, 1.0)
  p = madd(r, p, 1.0)
  // 2^k from its bits
  const ki = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(k))
  const scale = i64x2.shl(i64x2.add(ki, i64x2.splat(1023)), 52)
  return f64x2.mul(p, scale)
}

/**
 * dst[i] = f(src[i]) for i < n (n a multiple of 4; dst may equal src),
 * f = sin (op 0), cos (op 1) or exp (op 2). Returns how many inputs were
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
