/**
 * Fused float32 groups on the WebAssembly kernel
 * (`fusedF32` of `assembly/kernels.ts`): the group runs tile by tile in
 * linear memory, its intermediates in scratch tiles that stay in L1, so the
 * whole group is one pass over memory and its transcendentals run on the
 * SIMD code of the unary kernels (a JavaScript loop computes them at about
 * half that speed). sin(x) and cos(x) of one operand share one reduction.
 *
 * The kernel rounds every result as the separate kernels store it (see
 * `kernels.ts`), so the bits equal the JavaScript loop's (`fusion.ts`) and
 * separate evaluation's. A group whose sin or cos sees a finite |x| ≥ 10⁵
 * (where fastmath's reduction calls Math.sin) is computed again by the
 * JavaScript loop.
 *
 * One thread: chunk by chunk through linear memory (each chunk's operands
 * copied in, its result copied out). On the worker pool (large groups):
 * every operand placed in the shared memory chunk by chunk as the threads
 * start, each thread in a scratch area of its own.
 */
import type { FusedOp } from "../../Backend.js"
import type { HostArray } from "../../DType.js"
import type { Prim } from "../primitives.js"
import { allocUninitialized, release } from "./pool.js"
import { currentPool } from "./threads.js"
import type { Access } from "./views.js"
import { linear, sharedWasm, stage, wasm } from "./wasm.js"
import { FUSED_WASM } from "./worker-source.js"

/** Operation codes of fusedF32 (kernels.ts's F_*). */
const CODES: Partial<Record<Prim, number>> = {
  neg: 0, abs: 1, sqrt: 2, floor: 3, sign: 4, sin: 5, cos: 6, exp: 7,
  add: 9, sub: 10, mul: 11, div: 12, max: 13, min: 14, greater: 15, less: 16, equal: 17, where: 18, tanh: 19
}
const SINCOS = 8
const TILE = 256
/** Elements per chunk (a multiple of TILE): a chunk's operands stay in L2. */
const PER = 16384

/** A program translated for the kernel: 5 words per emitted operation; the slots it names. */
interface Translated {
  readonly words: Int32Array
  readonly nops: number
  readonly nslots: number
  /**
   * Whether the kernel wins at any size: the group has sin, cos, exp or tanh (the
   * JavaScript loop computes them at about half the speed) or a select or
   * comparison (the loop's select goes through memory; the kernel's is a
   * bitselect). Other groups (adds, multiplies) go to the kernel from
   * MIN_ELEMENTS.
   */
  readonly always: boolean
}

/** The operations for which the kernel wins at any size (Translated.always). */
const ALWAYS: ReadonlySet<Prim> = new Set<Prim>(["sin", "cos", "exp", "tanh", "where", "greater", "less", "equal"])

/**
 * From this many elements every group the kernel can run goes to it. Below,
 * a group of adds and multiplies stays in the JavaScript loop, which reads
 * the host arrays in place with no setup: measured on one thread (3 Dec
 * 2026, two runs, groups x·y + y, (x + bias)·y with a bias period, and a
 * 4-op chain): 16 and 64 elements 0.5–0.8 µs in the loop against
 * 0.9–1.2 µs on the kernel, level at 256 (1.2–1.5 µs both), the kernel
 * 1.8–2.0× faster at 1,024, 2.6–3× at 4,096 and 3–4× at 16,384 and 65,536
 * (the loop runs at about 3 ns an element here, the kernel's tiles at
 * under 1 including the copies in and out).
 */
const MIN_ELEMENTS = 256

const translated = new WeakMap<ReadonlyArray<FusedOp>, Translated | null>()

/**
 * The kernel's form of `program` over `nLeaves` leaves, or null: not every
 * operation has a kernel code, a result is not float32 (comparisons: bool),
 * or the group's result is not float32.
 */
const translate = (program: ReadonlyArray<FusedOp>, nLeaves: number): Translated | null => {
  let t = translated.get(program)
  if (t !== undefined) return t
  t = null
  const last = program[program.length - 1]
  const ok =
    last !== undefined && last.dtype === "float32" &&
    program.every((op) => CODES[op.prim] !== undefined && (op.dtype === "float32" || (op.dtype === "bool" && (op.prim === "greater" || op.prim === "less" || op.prim === "equal"))))
  if (ok) {
    const words: number[] = []
    const skip = new Set<number>()
    program.forEach((op, k) => {
      if (skip.has(k)) return
      const dst = nLeaves + k
      if (op.prim === "sin" || op.prim === "cos") {
        const other = program.findIndex((o, j) => j > k && o.prim === (op.prim === "sin" ? "cos" : "sin") && o.operands[0] === op.operands[0])
        if (other >= 0) {
          skip.add(other)
          const [s, c] = op.prim === "sin" ? [dst, nLeaves + other] : [nLeaves + other, dst]
          words.push(SINCOS, s, op.operands[0]!, 0, c)
          return
        }
      }
      const [a = 0, b = 0, c = 0] = op.operands
      words.push(CODES[op.prim]!, dst, a, b, c)
    })
    const always = program.some((op) => ALWAYS.has(op.prim))
    t = { words: Int32Array.from(words), nops: words.length / 5, nslots: nLeaves + program.length, always }
  }
  translated.set(program, t)
  return t
}

const pad16 = (bytes: number): number => (bytes + 15) & ~15

/** A leaf as the kernel reads it: its kind (kernels.ts) and the part of its array to place. */
interface Leaf {
  readonly kind: number
  readonly src: HostArray
  readonly from: number
  /** Elements placed: n (dense), 1 (scalar), the period. */
  readonly length: number
  readonly bool: boolean
}

/**
 * Computes the group's result into `out` (float32, n elements) on the
 * WebAssembly kernel; false, doing nothing, where it does not apply (no
 * kernel, a program it cannot run, operands of other types, too large, or
 * a sin or cos argument beyond its reduction).
 */
export const fusedWasm = (program: ReadonlyArray<FusedOp>, out: HostArray, arrays: ReadonlyArray<HostArray>, acc: ReadonlyArray<Access>, n: number, period: number, parMin: number): boolean => {
  if (!(out instanceof Float32Array)) return false
  const t = translate(program, arrays.length)
  if (t === null) return false
  const pool = currentPool()
  const sw = pool.threads > 1 && n >= parMin ? sharedWasm() : undefined
  // small groups of arithmetic stay in the loop (see MIN_ELEMENTS)
  if (!t.always && sw === undefined && n < MIN_ELEMENTS) return false
  const ex = wasm()
  if (ex === undefined || ex.fusedTile() !== TILE) return false
  const leaves: Leaf[] = []
  for (let i = 0; i < arrays.length; i++) {
    const a = arrays[i]!, x = acc[i]!
    const bool = a instanceof Uint8Array
    if (!bool && !(a instanceof Float32Array)) return false
    const kind = x.kind === "s" ? 1 : x.kind === "p" ? 2 : 0
    leaves.push({ kind: kind + (bool ? 3 : 0), src: a, from: x.kind === "d" ? 0 : x.off, length: kind === 1 ? 1 : kind === 2 ? period : n, bool })
  }
  const threads = sw !== undefined ? pool.threads : 1
  // elements placed at once per full-length operand: all (threads) or one chunk
  const span = sw !== undefined ? n : Math.min(n, PER)
  const spanP = (span + 3) & ~3
  const bytesOf = (l: Leaf, len: number) => pad16(l.bool ? len : 4 * len)
  const scratchBytes = pad16(4 * t.nslots) + 4 * TILE * t.nslots
  // each leaf's region: a dense operand's span, a scalar's or period's own length
  const regionBytes = leaves.map((l) => bytesOf(l, l.kind % 3 === 0 ? spanP : l.length))
  let bytes = pad16(4 * spanP)
  for (const r of regionBytes) bytes += r
  const tables = bytes
  bytes += pad16(12 * leaves.length) + pad16(4 * t.words.length) + pad16(4 * threads) + threads * scratchBytes
  const at = sw !== undefined ? stage(bytes) : linear(bytes)
  if (at === undefined) return false
  const buf = at.buffer as ArrayBuffer
  const outP = at.base
  let q = outP + pad16(4 * spanP)
  const leafAt: number[] = []
  for (const r of regionBytes) {
    leafAt.push(q)
    q += r
  }
  const leavesP = at.base + tables
  const progP = leavesP + pad16(12 * leaves.length)
  const flagsP = progP + pad16(4 * t.words.length)
  const scratchP = flagsP + pad16(4 * threads)
  new Int32Array(buf, progP, t.words.length).set(t.words)
  new Int32Array(buf, flagsP, threads).fill(0)
  const table = new Int32Array(buf, leavesP, 3 * leaves.length)
  // a leaf's elements [s, e) copied to its region at p, from the region's element `at`
  const put = (l: Leaf, p: number, s: number, e: number, at: number) => {
    if (l.bool) new Uint8Array(buf, p + at, e - s).set((l.src as Uint8Array).subarray(l.from + s, l.from + e))
    else new Float32Array(buf, p + 4 * at, e - s).set((l.src as Float32Array).subarray(l.from + s, l.from + e))
  }
  // a dense operand's chunk [s, e) (at s when the region holds all n)
  const place = (l: Leaf, p: number, s: number, e: number, whole: boolean) => put(l, p, s, e, whole ? s : 0)
  leaves.forEach((l, i) => {
    table[3 * i] = l.kind
    table[3 * i + 1] = leafAt[i]!
    table[3 * i + 2] = l.kind % 3 === 2 ? period : 0
    if (l.kind % 3 !== 0) put(l, leafAt[i]!, 0, l.length, 0)
  })
  let far: number
  if (sw !== undefined) {
    const feed = (c: number) => {
      const s = c * PER, e = Math.min(n, s + PER)
      leaves.forEach((l, i) => l.kind % 3 === 0 && place(l, leafAt[i]!, s, e, true))
    }
    const result = new Float32Array(buf, outP, n)
    const drain = (c: number) => {
      const s = c * PER, e = Math.min(n, s + PER)
      out.set(result.subarray(s, e), s)
    }
    far = pool.exec(sw, FUSED_WASM, [progP, t.nops, leavesP, leaves.length, t.nslots, outP, n, PER, flagsP, threads, scratchP, scratchBytes], Math.ceil(n / PER), false, { feed, drain })
  } else {
    far = 0
    const result = new Float32Array(buf, outP, spanP)
    for (let s = 0; s < n && far === 0; s += PER) {
      const e = Math.min(n, s + PER)
      // the kernel addresses element i at pointer + 4i: the regions hold [s, e), so their pointers are moved back by s (wrapping, as wasm's addresses do)
      leaves.forEach((l, i) => {
        if (l.kind % 3 !== 0) return
        place(l, leafAt[i]!, s, e, false)
        table[3 * i + 1] = (leafAt[i]! - (l.bool ? s : 4 * s)) | 0
      })
      far = ex.fusedF32(progP, t.nops, leavesP, leaves.length, t.nslots, (outP - 4 * s) | 0, s, e, scratchP)
      out.set(result.subarray(0, e - s), s)
    }
  }
  return far === 0
}

/**
 * From this many elements a single binary op goes to the kernel. A float32 multiply on one
 * thread, dense or with a broadcast row (3 Dec 2026): 0.8–0.9 µs in the
 * JavaScript kernels against 1.1–1.7 on this one at 256 elements, level at
 * 512 (1.3–1.5 against 1.2–1.3), 1.6–1.9× faster at 1,024, 2.3–3.3× at
 * 4,096, 3–4.5× from 16,384.
 */
export const SINGLE_MIN = 512

/** The binary arithmetic ops a single kernel call computes (float32 in and out). */
const SINGLE: ReadonlySet<Prim> = new Set<Prim>(["add", "sub", "mul", "div", "max", "min"])
/** One-operation programs, made once per op (the translation is cached by program). */
const singles = new Map<Prim, ReadonlyArray<FusedOp>>()

/**
 * A float32 binary op (add, sub, mul, div, max, min) on the kernel, as a
 * group of one operation (operands dense, scalar or periodic as `acc`
 * says), into a buffer of the pool: the same bits as the JavaScript kernels
 * (one rounding of the exact result either way). Undefined, doing nothing,
 * where it does not apply: another op, fewer than SINGLE_MIN elements, no
 * kernel.
 */
export const binaryF32Wasm = (op: Prim, arrays: ReadonlyArray<HostArray>, acc: ReadonlyArray<Access>, n: number, period: number, parMin: number): Float32Array | undefined => {
  if (n < SINGLE_MIN || !SINGLE.has(op)) return undefined
  let program = singles.get(op)
  if (program === undefined) singles.set(op, (program = [{ prim: op, dtype: "float32", operands: [0, 1] }]))
  const out = allocUninitialized("float32", n) as Float32Array
  if (fusedWasm(program, out, arrays, acc, n, period, parMin)) return out
  release(out)
  return undefined
}
