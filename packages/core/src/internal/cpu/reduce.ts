/**
 * Sums and maxima of real arrays in a fixed blocked order, on one thread or
 * split over the worker pool, with the same bits for any number of threads.
 *
 * The order: a sum of x₀ … x_{m−1} (one output) is cut into blocks of RB
 * consecutive elements (RB fixed, whatever the number of threads); each
 * block is added left to right in float64 from 0, and the blocks' partial
 * sums are added left to right in float64 from 0. A sum of at most RB
 * elements is therefore the plain left-to-right float64 sum. A maximum is
 * taken the same way (the first NaN, else the first of the largest values:
 * the same result as one pass).
 *
 * Two layouts: `runs` (each output reduces a contiguous run of m elements:
 * trailing axes, after a transpose where needed) and `leading` (the leading
 * axes are reduced: m rows of w outputs, a bias gradient), whose blocks are
 * RB rows.
 *
 * A unit of work is one block of one output (runs) or one block of rows
 * over a range of columns (leading); it writes its partial results, in
 * float64, to its own slots. The worker pool runs units chunk by chunk on
 * a copy of the input in the shared WebAssembly memory (copied chunk by
 * chunk as the threads start on the first ones); one thread runs the
 * same functions (their source text is what the workers compile) on the
 * input in place. The partials are then combined on the calling thread in
 * block order.
 */
import { allocHost, type DType, type HostArray } from "../../DType.js"
import { currentPool } from "./threads.js"
import { linear, sharedWasm, stage, wasm } from "./wasm.js"
import { REDUCE } from "./worker-source.js"
import { MAX_RUNS, RB, SUM_LEADING, SUM_RUNS, maxRuns, sumLeading, sumRuns } from "./reduce-blocks.js"

/**
 * Below this many input elements a reduction runs on the calling thread
 * alone (the split costs a copy of the input into shared memory and a
 * worker's wake-up). Measured by `node bench/threads.mjs --only none
 * --sweep --reps 9` (2 Dec 2026, 3 runs at load averages 3.2, 1.7 and 1.6
 * on this 2-core machine): a sum was slower split at every size up to
 * 524288 elements (0.27–0.89×) and faster only at 1048576 (1.18–1.44×).
 */
let REDUCE_PAR_MIN = 1048576

/** Sets REDUCE_PAR_MIN (benchmarks, tests); returns the previous value. */
export const setReduceThreshold = (n: number): number => {
  const was = REDUCE_PAR_MIN
  REDUCE_PAR_MIN = n
  return was
}

/** Units per chunk: about 4 chunks per thread, at least 1 unit. */
const perChunk = (units: number, threads: number): number => Math.max(1, Math.ceil(units / (4 * threads)))

/**
 * Runs `units` units of a reduction op on the worker pool over a copy of
 * `src`; returns the partials, or undefined when it should run on the
 * calling thread (one thread, small, not float32 / float64, no shared memory).
 */
const onThreads = (op: number, src: HostArray, m: number, nb: number, w: number, ncc: number, cw: number, units: number, partLength: number): Float64Array | undefined => {
  const pool = currentPool()
  if (pool.threads <= 1 || src.length < REDUCE_PAR_MIN || units < 2) return undefined
  const type = src instanceof Float32Array ? 0 : src instanceof Float64Array ? 1 : -1
  if (type < 0) return undefined
  const shared = sharedWasm()
  if (shared === undefined) return undefined
  const srcBytes = (src.byteLength + 7) & ~7
  const at = stage(srcBytes + 8 * partLength)
  if (at === undefined) return undefined
  const view = type === 0 ? new Float32Array(at.buffer as ArrayBuffer, at.base, src.length) : new Float64Array(at.buffer as ArrayBuffer, at.base, src.length)
  const partPtr = at.base + srcBytes
  const per = perChunk(units, pool.threads)
  // the input is copied chunk by chunk (up to the last element the chunk's units read), each chunk claimable once copied
  let copied = 0
  const feed = (c: number) => {
    const last = Math.min(units, (c + 1) * per) - 1
    let end: number
    if (op === SUM_LEADING) end = Math.min(m, (Math.floor(last / ncc) + 1) * RB) * w
    else {
      const o = Math.floor(last / nb), b = last - o * nb
      end = o * m + Math.min(m, (b + 1) * RB)
    }
    if (end > copied) view.set(src.subarray(copied, end) as never, copied)
    copied = Math.max(copied, end)
  }
  pool.exec(shared, REDUCE, [op, type, at.base, src.length, partPtr, partLength, m, nb, RB, w, ncc, cw, per, units], Math.ceil(units / per), false, { feed })
  return new Float64Array(at.buffer as ArrayBuffer, partPtr, partLength).slice()
}

/**
 * out[o] = Σ or max of src[o·m … o·m + m) for o < outN (a sum in float64,
 * rounded to `outDtype` once), in the blocked order.
 */
export const reduceRuns = (src: HostArray, outDtype: DType, outN: number, m: number, kind: "sum" | "max"): HostArray => {
  const out = allocHost(outDtype, outN)
  if (outN === 0) return out
  if (m === 0) {
    if (kind === "max") out.fill(-Infinity)
    return out
  }
  const nb = Math.ceil(m / RB)
  const units = outN * nb
  const op = kind === "sum" ? SUM_RUNS : MAX_RUNS
  let part = onThreads(op, src, m, nb, 0, 0, 0, units, units)
  if (part === undefined) {
    part = new Float64Array(units)
    ;(kind === "sum" ? sumRuns : maxRuns)(src, m, nb, RB, part, 0, units)
  }
  if (nb === 1 && kind === "sum") {
    for (let o = 0; o < outN; o++) out[o] = part[o]!
    return out
  }
  for (let o = 0, u = 0; o < outN; o++) {
    if (kind === "sum") {
      let acc = 0
      for (let b = 0; b < nb; b++, u++) acc += part[u]!
      out[o] = acc
    } else {
      let acc = -Infinity
      for (let b = 0; b < nb; b++, u++) {
        const v = part[u]!
        if (v > acc || v !== v) acc = v
        if (v !== v) break
      }
      out[o] = acc
      u = (o + 1) * nb
    }
  }
  return out
}

/**
 * sumLeading's partials of a float32 input on the WebAssembly kernel
 * (sumLeadingF32: the same order, the same bits), one block of RB rows at a
 * time through linear memory; false, doing nothing, without the kernel or
 * where a block does not fit. A bias gradient of an MLP step ([128, 256])
 * took 65–95 µs in the JavaScript loop (`node bench/profile.mjs mlp`).
 */
const leadingOnWasm = (src: Float32Array, w: number, m: number, nb: number, part: Float64Array): boolean => {
  const ex = wasm()
  if (ex === undefined) return false
  const rows = Math.min(m, RB)
  const at = linear(4 * rows * w + 8 * w + 16)
  if (at === undefined) return false
  const partP = (at.base + 4 * rows * w + 7) & ~7
  for (let b = 0; b < nb; b++) {
    const j0 = b * RB, j1 = Math.min(m, j0 + RB)
    new Float32Array(at.buffer as ArrayBuffer, at.base, (j1 - j0) * w).set(src.subarray(j0 * w, j1 * w))
    ex.sumLeadingF32(at.base, w, j1 - j0, RB, 1, w, partP, 0, 1)
    part.set(new Float64Array(at.buffer as ArrayBuffer, partP, w), b * w)
  }
  return true
}

/** Columns per unit of a leading-axes sum split over threads (any width gives the same bits). */
const leadingWidth = (w: number, nb: number, threads: number): number => (nb >= 4 * threads ? w : Math.max(8, Math.ceil(w / Math.ceil((4 * threads) / nb))))

/**
 * out[o] = Σ_j src[j·w + o] for o < w over m rows (the leading axes
 * reduced), in float64 rounded once, in the blocked order.
 */
export const sumLeadingAxes = (src: HostArray, outDtype: DType, w: number, m: number): HostArray => {
  const out = allocHost(outDtype, w)
  if (w === 0 || m === 0) return out
  const nb = Math.ceil(m / RB)
  const threads = currentPool().threads
  const cw = threads > 1 ? leadingWidth(w, nb, threads) : w
  const ncc = Math.ceil(w / cw)
  let part = onThreads(SUM_LEADING, src, m, nb, w, ncc, cw, nb * ncc, nb * w)
  if (part === undefined) {
    part = new Float64Array(nb * w)
    if (!(src instanceof Float32Array && leadingOnWasm(src, w, m, nb, part))) sumLeading(src, w, m, RB, 1, w, part, 0, nb)
  }
  if (nb === 1) {
    for (let o = 0; o < w; o++) out[o] = part[o]!
    return out
  }
  const acc = new Float64Array(w)
  for (let b = 0; b < nb; b++) for (let o = 0, p = b * w; o < w; o++) acc[o]! += part[p + o]!
  for (let o = 0; o < w; o++) out[o] = acc[o]!
  return out
}
