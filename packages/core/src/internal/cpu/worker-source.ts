/**
 * The code every thread of the CPU pool runs, main thread included, as
 * source text: a worker is started from this text (node:worker_threads with
 * `eval`, or a Web Worker from a Blob URL), and the main thread builds its
 * own chunk runner from the same text, so a chunk computes the same bits
 * whichever thread runs it.
 *
 * The control block is an Int32Array over a SharedArrayBuffer (slots below).
 * A job is a kind, up to 32 integer arguments and a number of chunks. The
 * main thread publishes it (arguments, then `CLAIM = chunks << 16`, then
 * `SEQ + 1`); every thread claims chunks with a compare-and-swap on CLAIM
 * (low 16 bits: the next chunk; only below AVAIL, which the main thread
 * raises as each chunk's input is in place) and counts the ones it finished in DONE. The
 * arguments are read after a successful claim: the job cannot end, so the
 * main thread cannot publish another, while a claimed chunk is unfinished.
 * A worker that is not running yet, or busy elsewhere, simply claims nothing.
 */

/**
 * Slots of the control block (Int32 indices); WORKED counts the chunks
 * workers ran (tests); AVAIL: chunks below it may be claimed (the calling
 * thread raises it as it copies each chunk's input into the shared memory,
 * so that the workers start on the first chunks during the copy).
 */
export const SEQ = 0, CLAIM = 1, DONE = 2, KIND = 3, ERR = 4, ACC = 5, STOP = 6, SLEEPERS = 7, READY = 8, WORKED = 9, AVAIL = 10, ARGS = 16
/** The end of the arguments (ARGS … ARGS_END). */
export const ARGS_END = 256
/**
 * FIN … FIN + FIN_CHUNKS: chunk c's slot turns 1 once its result is in
 * shared memory (every thread stores it after the chunk, before counting it
 * in DONE), so that the calling thread copies out the workers' results
 * while the job still runs, not all after it. Chunks past FIN_CHUNKS have
 * no slot (copied after the job).
 */
export const FIN = ARGS_END, FIN_CHUNKS = 256
/** Int32 slots in a control block. */
export const CONTROL_INTS = FIN + FIN_CHUNKS

/** Job kinds. */
export const GEMM = 1, UNARY = 2, FUSED = 3, PACKB = 4, REDUCE = 5, FUSED_WASM = 6, CONV = 7
/** Arguments of a FUSED job before its operands' (type, pointer, length) triples. */
export const FUSED_HEAD = 9

/**
 * `makeRunner(ex, ctl, memory)` → `run(kind, chunk)`: one chunk of a job,
 * on the WebAssembly exports `ex` (instantiated on the shared `memory`).
 * - GEMM, args [a, ars, acs, b, c, mp, np, k, kc, nc, rows]: rows
 *   chunk·rows … of C = A · B (gemmF32 on that strip of A and C);
 * - UNARY, args [src, dst, n, op, per]: elements chunk·per … (unaryF32),
 *   adding its count of far arguments to ACC;
 * - PACKB, args [src, rs, cs, dst, n, np, k, kc, per, pc, rows]: chunk c
 *   packs rows ⌊c / pc⌋·rows … (whole k blocks of kc) of column panels
 *   (c mod pc)·per … of B for GEMM (packB on those rows);
 * - FUSED, args [id, src, srcLength, ops, n, period, per, outType, out,
 *   then (type, pointer, length) per operand]: elements chunk·per … of a
 *   fused elementwise loop of `fusion.ts` (its source, UTF-16 at `src`,
 *   compiled once per id) on views of the memory; an operand of length n
 *   is read from the chunk's start, a shorter one (a scalar, a period) whole.
 *   Types: 0 float32, 1 float64, 2 bool (bytes).
 * - REDUCE, args [op, type, src, srcLength, part, partLength, m, nb, rb,
 *   w, ncc, cw, per, units]: units chunk·per … of a blocked reduction of
 *   `reduce-blocks.ts` (op: sumRuns, maxRuns, sumLeading) on the input at
 *   `src` (type 0 float32, 1 float64), partials (float64) at `part`; a
 *   float32 sumLeading runs on the WebAssembly kernel (sumLeadingF32: the
 *   same order, the same bits).
 * - FUSED_WASM, args [prog, nops, leaves, nleaves, nslots, out, n, per,
 *   flags, nScratch, scratch, scratchBytes]: elements chunk·per … of a
 *   fused float32 program on the WebAssembly kernel (fusedF32), in one of
 *   the nScratch scratch areas, taken with a compare-and-swap on its flag
 *   (Int32 at `flags`); its count of far arguments added to ACC.
 * - CONV, args [raw, s0, s1, s2, c, h, w, xpad, xh, xw, top, left, wp,
 *   offs, y, taps, o4, oh, ow8, sh, groups, padBytes, yBytes, flags,
 *   nScratch]: image `chunk` of a direct float32 convolution
 *   (`wasm-conv.ts`): its input (at raw + 4·chunk·s0, planes s1 and rows s2
 *   elements apart) zero-padded by padF32 into one of the nScratch areas at
 *   xpad (padBytes each, taken as FUSED_WASM's), then convF32 per group into
 *   y + chunk·yBytes (group g at g·o4·oh·ow8·4; weights at wp + g·o4·taps·4).
 *
 * `math` defines sinF, cosF, expF, tanhF (the float32 functions of fastmath.ts)
 * for the compiled loops, and sumRuns, maxRuns, sumLeading.
 */
export const runnerSource = (math: string): string => `function makeRunner(ex, ctl, memory) {
  ${math}
  const loops = new Map()
  const Types = [Float32Array, Float64Array, Uint8Array]
  const loopOf = (id, src, len) => {
    let f = loops.get(id)
    if (f !== undefined) return f
    const codes = new Uint16Array(memory.buffer, src, len)
    let text = ""
    for (let i = 0; i < len; i += 4096) text += String.fromCharCode.apply(null, codes.subarray(i, Math.min(len, i + 4096)))
    f = new Function("sinF", "cosF", "expF", "tanhF", "return " + text)(sinF, cosF, expF, tanhF)
    if (loops.size >= 512) loops.clear()
    loops.set(id, f)
    return f
  }
  return function run(kind, c) {
    const A = ${ARGS}
    if (kind === ${GEMM}) {
      const rows = ctl[A + 10], i0 = c * rows, mp = ctl[A + 5], np = ctl[A + 6]
      const h = Math.min(rows, mp - i0)
      ex.gemmF32(ctl[A] + i0 * ctl[A + 1], ctl[A + 1], ctl[A + 2], ctl[A + 3], ctl[A + 4] + i0 * np * 4, h, np, ctl[A + 7], ctl[A + 8], ctl[A + 9])
    } else if (kind === ${UNARY}) {
      const per = ctl[A + 4], i0 = c * per, len = Math.min(per, ctl[A + 2] - i0)
      const far = ex.unaryF32(ctl[A] + 4 * i0, ctl[A + 1] + 4 * i0, len, ctl[A + 3])
      if (far > 0) Atomics.add(ctl, ${ACC}, far)
    } else if (kind === ${PACKB}) {
      const per = ctl[A + 8], pc = ctl[A + 9], rows = ctl[A + 10], np = ctl[A + 5]
      const g = Math.floor(c / pc), j0 = (c - g * pc) * per * 8, k0 = g * rows
      ex.packB(ctl[A] + 4 * k0 * ctl[A + 1], ctl[A + 1], ctl[A + 2], ctl[A + 3] + 4 * k0 * np, ctl[A + 4], np, Math.min(rows, ctl[A + 6] - k0), ctl[A + 7], j0, Math.min(np, j0 + per * 8))
    } else if (kind === ${FUSED}) {
      const loop = loopOf(ctl[A], ctl[A + 1], ctl[A + 2])
      const nOps = ctl[A + 3], n = ctl[A + 4], period = ctl[A + 5], per = ctl[A + 6]
      const s = c * per, len = Math.min(per, n - s)
      const buf = memory.buffer
      const view = (t, ptr, from, length) => {
        const T = Types[t]
        return new T(buf, ptr + from * T.BYTES_PER_ELEMENT, length)
      }
      const out = view(ctl[A + 7], ctl[A + 8], s, len)
      const ops = [], offs = []
      for (let i = 0; i < nOps; i++) {
        const t = ctl[A + ${FUSED_HEAD} + 3 * i], ptr = ctl[A + ${FUSED_HEAD} + 3 * i + 1], length = ctl[A + ${FUSED_HEAD} + 3 * i + 2]
        ops.push(length === n ? view(t, ptr, s, len) : view(t, ptr, 0, length))
        offs.push(0)
      }
      if (period < n) loop(out, ops, offs, len / period, period)
      else loop(out, ops, offs, 1, len)
    } else if (kind === ${FUSED_WASM}) {
      const per = ctl[A + 7], i0 = c * per, i1 = Math.min(ctl[A + 6], i0 + per)
      const flags = new Int32Array(memory.buffer, ctl[A + 8], ctl[A + 9])
      let k = 0
      while (Atomics.compareExchange(flags, k, 0, 1) !== 0) k = (k + 1) % flags.length
      try {
        const far = ex.fusedF32(ctl[A], ctl[A + 1], ctl[A + 2], ctl[A + 3], ctl[A + 4], ctl[A + 5], i0, i1, ctl[A + 10] + k * ctl[A + 11])
        if (far > 0) Atomics.add(ctl, ${ACC}, far)
      } finally {
        Atomics.store(flags, k, 0)
      }
    } else if (kind === ${CONV}) {
      const C = ctl[A + 4], xh = ctl[A + 8], xw = ctl[A + 9], taps = ctl[A + 15], o4 = ctl[A + 16], oh = ctl[A + 17], ow8 = ctl[A + 18], groups = ctl[A + 20]
      const flags = new Int32Array(memory.buffer, ctl[A + 23], ctl[A + 24])
      let k = 0
      while (Atomics.compareExchange(flags, k, 0, 1) !== 0) k = (k + 1) % flags.length
      try {
        const xp = ctl[A + 7] + k * ctl[A + 21], yp = ctl[A + 14] + c * ctl[A + 22], cg = C / groups
        ex.padF32(ctl[A] + 4 * c * ctl[A + 1], ctl[A + 2], ctl[A + 3], xp, C, ctl[A + 5], ctl[A + 6], xh, xw, ctl[A + 10], ctl[A + 11])
        for (let g = 0; g < groups; g++) ex.convF32(xp + 4 * g * cg * xh * xw, ctl[A + 12] + 4 * g * o4 * taps, ctl[A + 13], yp + 4 * g * o4 * oh * ow8, taps, xw, o4, oh, ow8, ctl[A + 19])
      } finally {
        Atomics.store(flags, k, 0)
      }
    } else if (kind === ${REDUCE}) {
      const op = ctl[A], per = ctl[A + 12], u0 = c * per, u1 = Math.min(ctl[A + 13], u0 + per)
      const buf = memory.buffer
      const src = new Types[ctl[A + 1]](buf, ctl[A + 2], ctl[A + 3])
      const part = new Float64Array(buf, ctl[A + 4], ctl[A + 5])
      const m = ctl[A + 6], nb = ctl[A + 7], rb = ctl[A + 8]
      if (op === 0) sumRuns(src, m, nb, rb, part, u0, u1)
      else if (op === 1) maxRuns(src, m, nb, rb, part, u0, u1)
      else if (op === 2 && ctl[A + 1] === 0) ex.sumLeadingF32(ctl[A + 2], ctl[A + 9], m, rb, ctl[A + 10], ctl[A + 11], ctl[A + 4], u0, u1)
      else if (op === 2) sumLeading(src, ctl[A + 9], m, rb, ctl[A + 10], ctl[A + 11], part, u0, u1)
      else throw new Error("unknown reduction " + op)
    } else throw new Error("unknown job kind " + kind)
  }
}`

/** How many times a worker polls for a chunk's input before it sleeps (the calling thread notifies as it feeds). */
const AVAIL_SPIN = 1000

/**
 * Claims and runs chunks of the current job until none is left (both sides
 * use it); returns how many it ran without an error. The calling thread passes `after`, run
 * after each chunk it computed (it copies that chunk's result out while the
 * workers compute theirs).
 */
export const claimSource = `function claimAll(ctl, run, after) {
  for (let ran = 0, idle = 0; ; ran++) {
    const w = Atomics.load(ctl, ${CLAIM})
    const next = w & 0xffff, chunks = w >>> 16
    if (next >= chunks) return ran
    const avail = Atomics.load(ctl, ${AVAIL})
    if (next >= avail) {
      // its input is being copied (only workers wait here: the calling thread feeds every chunk before it claims);
      // a short spin, then sleeps, so as not to take the core from the thread copying on a loaded machine
      if (++idle > ${AVAIL_SPIN}) Atomics.wait(ctl, ${AVAIL}, avail, 1)
      ran--
      continue
    }
    if (Atomics.compareExchange(ctl, ${CLAIM}, w, w + 1) !== w) {
      ran--
      continue
    }
    try {
      run(Atomics.load(ctl, ${KIND}), next)
    } catch (e) {
      Atomics.store(ctl, ${ERR}, 1)
      ran-- // not counted as run (WORKED counts the chunks workers computed)
    }
    if (next < ${FIN_CHUNKS}) Atomics.store(ctl, ${FIN} + next, 1)
    if (Atomics.add(ctl, ${DONE}, 1) + 1 === chunks) Atomics.notify(ctl, ${DONE})
    if (after !== undefined) after(next)
  }
}`

/** How many times a worker polls for the next job before it sleeps. */
const SPIN = 2000

/** A worker's whole program; `onInit` is how its environment delivers the first message. */
const workerBody = (math: string, onInit: string): string => `"use strict";
${runnerSource(math)}
${claimSource}
function serve(init) {
  const ctl = new Int32Array(init.control)
  const ex = new WebAssembly.Instance(init.module, { env: { memory: init.memory } }).exports
  const run = makeRunner(ex, ctl, init.memory)
  Atomics.add(ctl, ${READY}, 1)
  let seen = -1
  for (;;) {
    if (Atomics.load(ctl, ${STOP}) !== 0) return
    const ran = claimAll(ctl, run)
    if (ran > 0) Atomics.add(ctl, ${WORKED}, ran)
    let s = Atomics.load(ctl, ${SEQ})
    for (let i = 0; s === seen && i < ${SPIN}; i++) s = Atomics.load(ctl, ${SEQ})
    if (s === seen) {
      Atomics.add(ctl, ${SLEEPERS}, 1)
      Atomics.wait(ctl, ${SEQ}, seen)
      Atomics.sub(ctl, ${SLEEPERS}, 1)
      s = Atomics.load(ctl, ${SEQ})
    }
    seen = s
  }
}
${onInit}
`

/** The worker program for node:worker_threads (`new Worker(source, { eval: true })`). */
export const nodeWorkerSource = (math: string): string => workerBody(math, `require("node:worker_threads").parentPort.once("message", serve)`)

/** The worker program for a Web Worker. */
export const webWorkerSource = (math: string): string => workerBody(math, `self.onmessage = function (e) { self.onmessage = null; serve(e.data) }`)
