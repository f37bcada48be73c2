/**
 * WebAssembly SIMD kernels of the CPU backend's dense linear algebra
 * (float64), in AssemblyScript (compiled by `scripts/build-wasm-dense.mjs`
 * into `src/internal/cpu/wasm-dense-module.ts`; the convolutions are in
 * `kernels.ts`, where the worker pool runs them). A module of its own, with its own
 * memory: the JavaScript side (`src/internal/cpu/wasm-dense.ts`) places the
 * operands, calls one kernel and copies the result out. These functions only
 * compute; they allocate nothing.
 */

/** Where the JavaScript side may start placing buffers. */
export function heapBase(): usize {
  return __heap_base
}

/** The layout version the JavaScript side checks (bump when a signature changes). */
export function denseVersion(): i32 {
  return 4
}

// ------------------------------------------------------------------ dense linear algebra (float64)
//
// Matrices are row-major float64 at 8-byte aligned addresses; row operations
// run two lanes at a time (f64x2), with a scalar step for an odd tail.

/** a[0, len) −= s · b[0, len) */
function axpyNeg(a: usize, b: usize, s: f64, len: i32): void {
  const sv = f64x2.splat(s)
  let j = 0
  for (; j + 2 <= len; j += 2) {
    const o = <usize>j << 3
    v128.store(a + o, f64x2.sub(v128.load(a + o), f64x2.mul(sv, v128.load(b + o))))
  }
  if (j < len) {
    const o = <usize>j << 3
    store<f64>(a + o, load<f64>(a + o) - s * load<f64>(b + o))
  }
}

/** Σ a[i] · b[i] for i < len, two lanes at a time. */
function dot(a: usize, b: usize, len: i32): f64 {
  let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0)
  let j = 0
  for (; j + 4 <= len; j += 4) {
    const o = <usize>j << 3
    acc0 = f64x2.add(acc0, f64x2.mul(v128.load(a + o), v128.load(b + o)))
    acc1 = f64x2.add(acc1, f64x2.mul(v128.load(a + o, 16), v128.load(b + o, 16)))
  }
  const acc = f64x2.add(acc0, acc1)
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1)
  for (; j < len; j++) {
    const o = <usize>j << 3
    s += load<f64>(a + o) * load<f64>(b + o)
  }
  return s
}

/** Columns per panel of the blocked LU. */
const LU_B = 4

/**
 * LU with partial pivoting of the n × n matrix at `a`, in place (L below the
 * diagonal with a unit diagonal, U on and above it), LAPACK's getrf order:
 * for each column the row with the largest magnitude (the first such; a NaN
 * is taken over a number) is swapped up. perm[i] (i32) receives the original
 * row of row i. A zero pivot skips its column (the column below is zero).
 * Returns the number of row swaps.
 *
 * Blocked by panels of LU_B columns: a panel is factored with its updates
 * confined to the panel, then the rows of U right of it are finished, then
 * the trailing rows take the panel's LU_B updates in one pass (each element
 * loaded and stored once, not LU_B times). Every element receives the same
 * operations in the same order as the unblocked elimination (a −= l·u, one
 * multiplier at a time, zero multipliers skipped), so the results are the
 * same bits.
 */
export function luF64(a: usize, n: i32, perm: usize): i32 {
  const row = <usize>n << 3
  for (let i = 0; i < n; i++) store<i32>(perm + (<usize>i << 2), i)
  let swaps = 0
  for (let c0 = 0; c0 < n; c0 += LU_B) {
    const b = min(LU_B, n - c0)
    const c1 = c0 + b
    // the panel: columns c0 .. c1 − 1
    for (let c = c0; c < c1; c++) {
      const cc = <usize>c << 3
      let p = c
      let best = abs<f64>(load<f64>(a + <usize>c * row + cc))
      for (let i = c + 1; i < n; i++) {
        const v = abs<f64>(load<f64>(a + <usize>i * row + cc))
        if (v > best || (v != v && best == best)) {
          best = v
          p = i
        }
      }
      const rc = a + <usize>c * row
      if (p != c) {
        const rp = a + <usize>p * row
        let j = 0
        for (; j + 2 <= n; j += 2) {
          const o = <usize>j << 3
          const t = v128.load(rc + o)
          v128.store(rc + o, v128.load(rp + o))
          v128.store(rp + o, t)
        }
        if (j < n) {
          const o = <usize>j << 3
          const t = load<f64>(rc + o)
          store<f64>(rc + o, load<f64>(rp + o))
          store<f64>(rp + o, t)
        }
        const pc = perm + (<usize>c << 2), pp = perm + (<usize>p << 2)
        const t = load<i32>(pc)
        store<i32>(pc, load<i32>(pp))
        store<i32>(pp, t)
        swaps++
      }
      const pivot = load<f64>(rc + cc)
      if (pivot == 0) continue
      const w = c1 - c - 1
      for (let i = c + 1; i < n; i++) {
        const ri = a + <usize>i * row
        const l = load<f64>(ri + cc) / pivot
        store<f64>(ri + cc, l)
        if (l == 0) continue
        for (let j = 0; j < w; j++) {
          const o = cc + 8 + (<usize>j << 3)
          store<f64>(ri + o, load<f64>(ri + o) - l * load<f64>(rc + o))
        }
      }
    }
    const tail = n - c1
    if (tail == 0) continue
    const t0 = <usize>c1 << 3
    // the rows of U right of the panel
    for (let r = c0 + 1; r < c1; r++) {
      const rr = a + <usize>r * row
      for (let t = c0; t < r; t++) {
        const l = load<f64>(rr + (<usize>t << 3))
        if (l != 0) axpyNeg(rr + t0, a + <usize>t * row + t0, l, tail)
      }
    }
    // the trailing rows: the panel's updates in one pass
    const u0 = a + <usize>c0 * row + t0
    for (let i = c1; i < n; i++) {
      const ri = a + <usize>i * row
      if (b == 4) {
        const l0 = load<f64>(ri + (<usize>c0 << 3)), l1 = load<f64>(ri + (<usize>(c0 + 1) << 3))
        const l2 = load<f64>(ri + (<usize>(c0 + 2) << 3)), l3 = load<f64>(ri + (<usize>(c0 + 3) << 3))
        if (l0 != 0 && l1 != 0 && l2 != 0 && l3 != 0) {
          const v0 = f64x2.splat(l0), v1 = f64x2.splat(l1), v2 = f64x2.splat(l2), v3 = f64x2.splat(l3)
          const dst = ri + t0
          let j = 0
          for (; j + 2 <= tail; j += 2) {
            const o = <usize>j << 3
            let x = v128.load(dst + o)
            x = f64x2.sub(x, f64x2.mul(v0, v128.load(u0 + o)))
            x = f64x2.sub(x, f64x2.mul(v1, v128.load(u0 + row + o)))
            x = f64x2.sub(x, f64x2.mul(v2, v128.load(u0 + 2 * row + o)))
            x = f64x2.sub(x, f64x2.mul(v3, v128.load(u0 + 3 * row + o)))
            v128.store(dst + o, x)
          }
          if (j < tail) {
            const o = <usize>j << 3
            let x = load<f64>(dst + o)
            x -= l0 * load<f64>(u0 + o)
            x -= l1 * load<f64>(u0 + row + o)
            x -= l2 * load<f64>(u0 + 2 * row + o)
            x -= l3 * load<f64>(u0 + 3 * row + o)
            store<f64>(dst + o, x)
          }
          continue
        }
      }
      for (let t = 0; t < b; t++) {
        const l = load<f64>(ri + (<usize>(c0 + t) << 3))
        if (l != 0) axpyNeg(ri + t0, u0 + <usize>t * row, l, tail)
      }
    }
  }
  return swaps
}

/**
 * Cholesky–Banachiewicz of the n × n matrix at `a` (read from its lower
 * triangle) into `l` (lower triangular, zeros above). Returns −1 when it
 * succeeds, else the row whose pivot was not positive.
 */
export function choleskyF64(a: usize, l: usize, n: i32): i32 {
  const row = <usize>n << 3
  for (let i = 0; i < n; i++) {
    const ri = l + <usize>i * row
    for (let j = 0; j <= i; j++) {
      const rj = l + <usize>j * row
      const s = load<f64>(a + <usize>i * row + (<usize>j << 3)) - dot(ri, rj, j)
      if (i == j) {
        if (!(s > 0)) return i
        store<f64>(ri + (<usize>i << 3), sqrt<f64>(s))
      } else store<f64>(ri + (<usize>j << 3), s / load<f64>(rj + (<usize>j << 3)))
    }
    for (let j = i + 1; j < n; j++) store<f64>(ri + (<usize>j << 3), 0)
  }
  return -1
}

/**
 * Solves op(A) X = B in place in `x` (n × k), A n × n at `a`; op(A) = A or
 * Aᵀ (`transpose`); A lower or upper triangular (`lower`); `unit`: the
 * diagonal is taken as ones. op(A) lower is solved top-down, upper
 * bottom-up; each row of X is updated from the rows already solved.
 */
export function trisolveF64(a: usize, x: usize, n: i32, k: i32, lower: bool, transpose: bool, unit: bool): void {
  const row = <usize>n << 3
  const xrow = <usize>k << 3
  const forward = lower != transpose
  for (let step = 0; step < n; step++) {
    const i = forward ? step : n - 1 - step
    const xi = x + <usize>i * xrow
    const lo = forward ? 0 : i + 1
    const hi = forward ? i : n
    if (k == 1) {
      let s = load<f64>(xi)
      if (!transpose) s -= dot(a + <usize>i * row + (<usize>lo << 3), x + (<usize>lo << 3), hi - lo)
      else for (let j = lo; j < hi; j++) s -= load<f64>(a + <usize>j * row + (<usize>i << 3)) * load<f64>(x + (<usize>j << 3))
      store<f64>(xi, s)
    } else
      for (let j = lo; j < hi; j++) {
        const c = transpose ? load<f64>(a + <usize>j * row + (<usize>i << 3)) : load<f64>(a + <usize>i * row + (<usize>j << 3))
        if (c != 0) axpyNeg(xi, x + <usize>j * xrow, c, k)
      }
    if (!unit) {
      const d = load<f64>(a + <usize>i * row + (<usize>i << 3))
      for (let c = 0; c < k; c++) {
        const o = xi + (<usize>c << 3)
        store<f64>(o, load<f64>(o) / d)
      }
    }
  }
}
