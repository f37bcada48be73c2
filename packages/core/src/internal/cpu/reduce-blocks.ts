/**
 * The units of work of the blocked reductions of `reduce.ts`: each
 * function is self-contained (it is also compiled from its source text by
 * the worker pool's threads, `reduceSource`), so every thread computes a
 * unit with the same code.
 */

/** Elements (runs) or rows (leading) per block: fixed, so the order of summation does not depend on the threads. */
export const RB = 4096

/**
 * Partial sums of runs: unit u is block b = u mod nb of output o = ⌊u / nb⌋,
 * elements o·m + b·rb … of `src`; part[u] = their left-to-right float64 sum.
 */
export const sumRuns = (src: ArrayLike<number>, m: number, nb: number, rb: number, part: Float64Array, u0: number, u1: number): void => {
  for (let u = u0; u < u1; u++) {
    const o = Math.floor(u / nb), b = u - o * nb
    const s = o * m + b * rb, e = o * m + Math.min(m, (b + 1) * rb)
    let acc = 0
    for (let i = s; i < e; i++) acc += src[i]!
    part[u] = acc
  }
}

/** As sumRuns for the maximum: the first NaN of the block, else its first largest value (−∞ when empty). */
export const maxRuns = (src: ArrayLike<number>, m: number, nb: number, rb: number, part: Float64Array, u0: number, u1: number): void => {
  for (let u = u0; u < u1; u++) {
    const o = Math.floor(u / nb), b = u - o * nb
    const s = o * m + b * rb, e = o * m + Math.min(m, (b + 1) * rb)
    let acc = -Infinity
    for (let i = s; i < e; i++) {
      const v = src[i]!
      if (v > acc || v !== v) acc = v
      if (v !== v) break
    }
    part[u] = acc
  }
}

/**
 * Partial sums of leading axes: `src` holds m rows of w; unit u is row block
 * b = ⌊u / ncc⌋ (rows b·rb …) over columns c0 … c1 of column chunk u mod ncc
 * (cw wide); part[b·w + o] = the left-to-right float64 sum of column o over
 * the block's rows.
 */
export const sumLeading = (src: ArrayLike<number>, w: number, m: number, rb: number, ncc: number, cw: number, part: Float64Array, u0: number, u1: number): void => {
  for (let u = u0; u < u1; u++) {
    const b = Math.floor(u / ncc), cc = u - b * ncc
    const c0 = cc * cw, c1 = Math.min(w, c0 + cw), p = b * w
    for (let o = c0; o < c1; o++) part[p + o] = 0
    let j = b * rb
    const e = Math.min(m, j + rb)
    // four rows per pass (each column still adds its rows in order): a quarter of the loads and stores of the partials
    for (; j + 4 <= e; j += 4) {
      const r0 = j * w, r1 = r0 + w, r2 = r1 + w, r3 = r2 + w
      for (let o = c0; o < c1; o++) part[p + o] = part[p + o]! + src[r0 + o]! + src[r1 + o]! + src[r2 + o]! + src[r3 + o]!
    }
    for (; j < e; j++) {
      const r = j * w
      for (let o = c0; o < c1; o++) part[p + o] = part[p + o]! + src[r + o]!
    }
  }
}

/** The source of the functions above, for the threads' runner (each self-contained). */
export const reduceSource = `const sumRuns = (${sumRuns.toString()}), maxRuns = (${maxRuns.toString()}), sumLeading = (${sumLeading.toString()})`

/** Reduction ops in a REDUCE job. */
export const SUM_RUNS = 0, MAX_RUNS = 1, SUM_LEADING = 2
