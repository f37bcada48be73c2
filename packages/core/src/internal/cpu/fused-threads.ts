/**
 * Fused elementwise loops (`fusion.ts`) on the worker pool. The operands
 * are host arrays the workers cannot see, so they are copied into the
 * shared WebAssembly memory (an operand read as a scalar or a period: only
 * that part, first; the others chunk by chunk, each chunk claimable once
 * its part is copied, so the workers compute during the copy), every thread runs the same loop, compiled from the same
 * source, over its ranges of elements (whole periods), and the result is
 * copied back. Each element is computed by the same expression whichever
 * thread runs it: the same bits as one thread.
 *
 * Worth it only where the loop costs more than the copies: large loops
 * (FUSED_PAR_MIN).
 */
import type { HostArray } from "../../DType.js"
import { currentPool } from "./threads.js"
import type { Access } from "./views.js"
import { sharedWasm, stage } from "./wasm.js"
import { FUSED, FUSED_HEAD, ARGS_END, ARGS } from "./worker-source.js"

type Loop = (out: HostArray, ops: ReadonlyArray<HostArray>, offs: ReadonlyArray<number>, rows: number, period: number) => void

/**
 * Below this many elements a fused loop runs on the calling thread alone.
 * A 3-op loop of 65536 elements takes 1.7–2.4 ms on one thread, well above
 * a worker's wake-up; its operands' copies into the shared memory add about
 * 3% of CPU time at 10⁶ elements. `node bench/threads.mjs --only none
 * --sweep --reps 9` (2 Dec 2026, 3 runs at load averages 3.2, 1.7 and 1.6,
 * 2 cores) chose 131072, 262144 and 65536 (65536 split: 1.04×, 1.31×,
 * 1.23×; 16384 slower split in all three); the earlier session's, 65536.
 */
let FUSED_PAR_MIN = 65536
/** Elements per chunk (rounded to whole periods). */
const PER = 16384
/** The most operands a job can name in the control block. */
const MAX_OPS = Math.floor((ARGS_END - ARGS - FUSED_HEAD) / 3)

/** FUSED_PAR_MIN now. */
export const fusedThreshold = (): number => FUSED_PAR_MIN

/** Sets FUSED_PAR_MIN (benchmarks, tests); returns the previous value. */
export const setFusedThreshold = (n: number): number => {
  const was = FUSED_PAR_MIN
  FUSED_PAR_MIN = n
  return was
}

const typeOf = (a: HostArray): number => (a instanceof Float32Array ? 0 : a instanceof Float64Array ? 1 : a instanceof Uint8Array ? 2 : -1)
/** Bytes per element of each type code. */
const SIZES = [4, 8, 1]
const sizeOfType = (t: number): number => SIZES[t]!
/** A view of `length` elements of type `t` at byte `ptr` of the shared memory. */
const viewOf = (t: number, buffer: ArrayBufferLike, ptr: number, length: number): HostArray =>
  t === 0 ? new Float32Array(buffer as ArrayBuffer, ptr, length) : t === 1 ? new Float64Array(buffer as ArrayBuffer, ptr, length) : new Uint8Array(buffer as ArrayBuffer, ptr, length)

/** An id and the source of each loop (its text is what the threads compile). */
const sources = new WeakMap<Loop, { readonly id: number; readonly text: string }>()
let nextId = 1
/** Loops a thread could not run (a loop whose text needs more than sinF, cosF, expF, tanhF): they stay on the calling thread. */
const refused = new WeakSet<Loop>()

/**
 * Runs `loop` (the fused loop of `fusion.ts`) over `n` elements of `out` on
 * the worker pool; false, doing nothing, when it should run on the calling
 * thread (one thread, small, unsupported operand types, too large).
 */
export const fusedOnThreads = (loop: Loop, out: HostArray, arrays: ReadonlyArray<HostArray>, acc: ReadonlyArray<Access>, n: number, period: number): boolean => {
  const pool = currentPool()
  if (pool.threads <= 1 || n < FUSED_PAR_MIN || arrays.length > MAX_OPS || refused.has(loop)) return false
  const shared = sharedWasm()
  if (shared === undefined) return false
  const outType = typeOf(out)
  if (outType < 0) return false
  let src = sources.get(loop)
  if (src === undefined) sources.set(loop, (src = { id: nextId++, text: loop.toString() }))
  // layout: the output, each operand's part, the loop's source (8-aligned regions)
  const lengths: number[] = [], types: number[] = []
  let bytes = (n * sizeOfType(outType) + 7) & ~7
  for (let i = 0; i < arrays.length; i++) {
    const t = typeOf(arrays[i]!)
    if (t < 0) return false
    const a = acc[i]!
    const length = a.kind === "s" ? 1 : a.kind === "p" ? period : n
    types.push(t)
    lengths.push(length)
    bytes += (length * sizeOfType(t) + 7) & ~7
  }
  const srcBytes = 2 * src.text.length
  const at = stage(bytes + srcBytes)
  if (at === undefined) return false
  const args: number[] = [src.id, 0, src.text.length, arrays.length, n, period < n ? period : n, 0, outType, at.base]
  let q = at.base + ((n * sizeOfType(outType) + 7) & ~7)
  // operands read whole (a scalar, a period) are copied now; full-length ones chunk by chunk, as the threads start
  const full: Array<{ readonly view: HostArray; readonly src: HostArray; readonly from: number }> = []
  for (let i = 0; i < arrays.length; i++) {
    const a = acc[i]!, t = types[i]!, length = lengths[i]!
    const from = a.kind === "d" ? 0 : a.off
    const view = viewOf(t, at.buffer, q, length)
    if (length === n) full.push({ view, src: arrays[i]!, from })
    else view.set(arrays[i]!.subarray(from, from + length) as never)
    args.push(t, q, length)
    q += (length * sizeOfType(t) + 7) & ~7
  }
  const codes = new Uint16Array(at.buffer as ArrayBuffer, q, src.text.length)
  for (let i = 0; i < src.text.length; i++) codes[i] = src.text.charCodeAt(i)
  args[1] = q
  const per = period < n ? Math.max(1, Math.round(PER / period)) * period : PER
  args[6] = per
  const feed = (c: number) => {
    const s = c * per, e = Math.min(n, s + per)
    for (const f of full) f.view.set(f.src.subarray(f.from + s, f.from + e) as never, s)
  }
  // each chunk's result copied out as soon as the calling thread has computed it (the rest after the job)
  const result = viewOf(outType, at.buffer, at.base, n)
  const drain = (c: number) => {
    const s = c * per, e = Math.min(n, s + per)
    out.set(result.subarray(s, e) as never, s)
  }
  const ok = pool.exec(shared, FUSED, args, Math.ceil(n / per), true, { feed, drain })
  if (Number.isNaN(ok)) {
    refused.add(loop)
    return false
  }
  return true
}
