/**
 * CPU kernels that read strided operands (`BackendShape.viewKernels`): the
 * evaluator hands them views of the nodes below transpose / broadcast /
 * slice / reshape chains instead of materialized copies.
 *
 * - `matmul` reads any strides through its packing, and folds a batch of
 *   products that share one operand (what `vmap`, `jacrev`, `jacfwd` and
 *   `hessian` produce: a matrix broadcast against a batch of vectors) into
 *   a single large GEMM.
 * - elementwise binary ops and `where` on float operands read a scalar
 *   broadcast as a constant and a broadcast row (a bias) periodically, with
 *   loops compiled per (op, dtype, operand kinds); other layouts, dtypes and
 *   complex64 are gathered into dense arrays and use the plain kernels.
 */
import { allocHost, type DType, type HostArray } from "../../DType.js"
import { alloc, allocUninitialized } from "./pool.js"
import { fusedThreshold } from "./fused-threads.js"
import { binaryF32Wasm } from "./fused-wasm.js"
import type { Aval, Kernel, KernelArg } from "../../Backend.js"
import { sizeOf, stridesOf } from "../shape.js"
import { gemmAny, type Strided } from "./matmul.js"
import { gather } from "./structure.js"
import { binaryExpr } from "./elementwise.js"

const h = (x: KernelArg): HostArray => x.handle as HostArray

/** The operand as a dense row-major array (a copy when it is a view). */
export const dense = (x: KernelArg): HostArray =>
  x.strides === undefined ? h(x) : gather(h(x), x.dtype, x.shape, x.strides, x.offset ?? 0)

/** The same arguments, every view materialized. */
const denseArgs = (args: ReadonlyArray<KernelArg>): KernelArg[] =>
  args.map((x) => (x.strides === undefined ? x : { handle: dense(x), shape: x.shape, dtype: x.dtype }))

// ------------------------------------------------------------------ matmul

interface Batched {
  /** batch offset of each batch index (in elements), or a single stride when the batch axes collapse */
  readonly stride: number | undefined
  readonly shared: boolean
}

/** How an operand steps through the batch axes `batchShape`. */
const batching = (strides: ReadonlyArray<number>, batchShape: ReadonlyArray<number>): Batched => {
  let shared = true
  let stride: number | undefined
  let expected: number | undefined
  for (let d = batchShape.length - 1; d >= 0; d--) {
    const size = batchShape[d]!
    if (size === 1) continue
    const s = strides[d]!
    if (s !== 0) shared = false
    if (expected === undefined) {
      stride = s
      expected = s * size
    } else if (s === expected) expected = s * size
    else stride = undefined
    if (stride === undefined) break
  }
  return { stride: shared ? 0 : stride, shared }
}

/** Offsets of every batch index of an operand (row-major over `batchShape`). */
const batchOffsets = (offset: number, strides: ReadonlyArray<number>, batchShape: ReadonlyArray<number>): Float64Array => {
  const n = sizeOf(batchShape)
  const out = new Float64Array(n)
  const r = batchShape.length
  const idx = new Array<number>(r).fill(0)
  let at = offset
  for (let t = 0; t < n; t++) {
    out[t] = at
    for (let d = r - 1; d >= 0; d--) {
      idx[d]!++
      at += strides[d]!
      if (idx[d]! < batchShape[d]!) break
      at -= strides[d]! * batchShape[d]!
      idx[d] = 0
    }
  }
  return out
}

export const matmulView: Kernel<"matmul"> = ([a, b], _p, out) => {
  const r = out.shape.length
  const m = out.shape[r - 2]!, n = out.shape[r - 1]!, k = a!.shape[r - 1]!
  const batchShape = out.shape.slice(0, r - 2)
  const batch = sizeOf(batchShape)
  const sa = a!.strides ?? stridesOf(a!.shape), sb = b!.strides ?? stridesOf(b!.shape)
  const oa = a!.offset ?? 0, ob = b!.offset ?? 0
  const A: Strided = { rs: sa[r - 2]!, cs: sa[r - 1]! }
  const B: Strided = { rs: sb[r - 2]!, cs: sb[r - 1]! }
  const dtype = out.dtype
  // real products write every element (int32 and complex64 add into theirs: zeroed)
  const res = dtype === "float32" || dtype === "float64" ? allocUninitialized(dtype, batch * m * n) : alloc(dtype, batch * m * n)
  if (res.length === 0) return res
  const x = h(a!), y = h(b!)
  const ba = batching(sa, batchShape), bb = batching(sb, batchShape)
  if (batch > 1 && ba.shared && !bb.shared && bb.stride !== undefined && n === 1) {
    // out[t, :, 0] = A · b[t, :, 0] for every t: out viewed as [batch, m] = Bᵗ [batch, k] · Aᵀ [k, m]
    gemmAny(dtype, y, ob, { rs: bb.stride, cs: B.rs }, x, oa, { rs: A.cs, cs: A.rs }, res, 0, batch, k, m)
    return res
  }
  if (batch > 1 && bb.shared && !ba.shared && ba.stride !== undefined && (m === 1 || ba.stride === m * A.rs)) {
    // out[t] = a[t] · B for every t: the rows of all a[t] form one [batch · m, k] matrix
    gemmAny(dtype, x, oa, { rs: m === 1 ? ba.stride : A.rs, cs: A.cs }, y, ob, B, res, 0, batch * m, k, n)
    return res
  }
  const offA = batchOffsets(oa, sa, batchShape), offB = batchOffsets(ob, sb, batchShape)
  for (let t = 0; t < batch; t++) gemmAny(dtype, x, offA[t]!, A, y, offB[t]!, B, res, t * m * n, m, k, n)
  return res
}

// ------------------------------------------------------------------ elementwise

/**
 * How a kernel loop reads one operand of `n` elements:
 * "d" dense (element i), "o" dense from an offset (element `off + i`),
 * "s" one scalar (at `off`), "p" periodic (element `off + j` for j < P in
 * each of n / P rows: a broadcast suffix).
 */
export interface Access {
  readonly kind: "d" | "o" | "s" | "p"
  readonly off: number
  readonly period: number
}

export const access = (x: KernelArg, n: number): Access | undefined => {
  if (x.strides === undefined) return { kind: "d", off: 0, period: n }
  const { shape, strides } = x
  const off = x.offset ?? 0
  let d = shape.length - 1
  let acc = 1
  while (d >= 0 && (shape[d] === 1 || strides[d] === acc)) acc *= shape[d--]!
  for (let e = d; e >= 0; e--) if (shape[e] !== 1 && strides[e] !== 0) return undefined
  if (acc === 1) return { kind: "s", off, period: 1 }
  if (acc === n) return off === 0 ? { kind: "d", off: 0, period: n } : { kind: "o", off, period: n }
  return { kind: "p", off, period: acc }
}

type ViewLoop = (out: HostArray, ops: ReadonlyArray<HostArray>, offs: ReadonlyArray<number>, rows: number, period: number) => void

/** A loop over rows × period computing `expr` of the operands named `names`, each read as its kind says. */
const compileLoop = (expr: string, names: ReadonlyArray<string>, kinds: ReadonlyArray<Access["kind"]>): ViewLoop => {
  const pre = names.map((v, i) => `const ${v}a = ops[${i}], ${v}o = offs[${i}];` + (kinds[i] === "s" ? ` const ${v}s = ${v}a[${v}o];` : "")).join("\n")
  const at = { d: (v: string) => `${v}a[i]`, o: (v: string) => `${v}a[${v}o + i]`, s: (v: string) => `${v}s`, p: (v: string) => `${v}a[${v}o + j]` }
  const read = names.map((v, i) => `const ${v} = ${at[kinds[i]!](v)};`).join(" ")
  return new Function("out", "ops", "offs", "rows", "period", `${pre}
    let i = 0
    for (let r = 0; r < rows; r++) for (let j = 0; j < period; j++, i++) { ${read} out[i] = ${expr}; }`) as ViewLoop
}

/** Codes of operand kinds and dtypes for the keys of compiled loops (here and in fusion.ts). */
export const kindCode = { d: 0, o: 1, s: 2, p: 3 } as const
export const dtypeCode: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3, complex64: 4 }

/**
 * Runs `expr` over operands that are dense, scalar or periodic views, with
 * loops compiled once per (dtypes, operand kinds) in `cache`, so each loop
 * sees one array type per operand;
 * undefined when some other layout is present.
 */
const runLoop = (cache: Map<number, ViewLoop>, expr: string, names: ReadonlyArray<string>, args: ReadonlyArray<KernelArg>, inDtype: DType, out: Aval, op?: keyof typeof binaryExpr): HostArray | undefined => {
  const n = sizeOf(out.shape)
  const offs: number[] = []
  const ops: HostArray[] = []
  const accs: Access[] = []
  let period = 0
  let key = dtypeCode[out.dtype] * 5 + dtypeCode[inDtype]
  for (const x of args) {
    const a = access(x, n)
    if (a === undefined) return undefined
    if (a.kind === "p") {
      if (period !== 0 && period !== a.period) return undefined
      period = a.period
    }
    key = key * 4 + kindCode[a.kind]
    offs.push(a.off)
    ops.push(h(x))
    accs.push(a)
  }
  if (period === 0) period = n
  // float32 arithmetic of SINGLE_MIN elements or more (fused-wasm.ts): the WebAssembly kernel, reading the operands as the loop would (the same bits)
  if (op !== undefined && out.dtype === "float32" && inDtype === "float32") {
    const res = binaryF32Wasm(op, ops, accs, n, period, fusedThreshold())
    if (res !== undefined) return res
  }
  const res = alloc(out.dtype, n)
  if (n === 0) return res
  let loop = cache.get(key)
  if (loop === undefined) {
    const kinds = args.map((x) => access(x, n)!.kind)
    cache.set(key, (loop = compileLoop(expr, names, kinds)))
  }
  loop(res, ops, offs, n / period, period)
  return res
}

const isFloat = (d: DType): boolean => d === "float32" || d === "float64"

/** A binary op that reads broadcast operands in place (floats), or gathers them first. */
export const binaryView = (op: keyof typeof binaryExpr, plain: Kernel<any>): Kernel<any> => {
  const cache = new Map<number, ViewLoop>()
  return (args, params, out) => {
    const [a, b] = args
    if (a!.strides === undefined && b!.strides === undefined) return plain(args, params, out)
    if (isFloat(a!.dtype)) {
      const res = runLoop(cache, binaryExpr[op], ["x", "y"], args, a!.dtype, out, op)
      if (res !== undefined) return res
    }
    return plain(denseArgs(args), params, out)
  }
}

/** where(cond, x, y) reading broadcast operands in place (float branches), or gathering them first. */
export const whereView = (plain: Kernel<"where">): Kernel<"where"> => {
  const cache = new Map<number, ViewLoop>()
  return (args, params, out) => {
    if (args.every((x) => x.strides === undefined)) return plain(args, params, out)
    if (isFloat(out.dtype)) {
      const res = runLoop(cache, "(c ? x : y)", ["c", "x", "y"], args, out.dtype, out)
      if (res !== undefined) return res
    }
    return plain(denseArgs(args), params, out)
  }
}
