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
