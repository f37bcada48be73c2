/**
 * The kernel table: one WGSL compute shader per primitive application
 * (compiled once per shape and cached), and the elementwise fusion.
 *
 * - Elementwise: one invocation per element; int32 is exact for the
 *   operations that have an integer formula (add, sub, mul wrap; neg, abs,
 *   sign, max, min, comparisons, where), the others compute in f32 and
 *   store as the CPU's Int32Array would (truncating, NaN → 0).
 * - Data movement (broadcast, transpose, slice) reads a strided view of
 *   the operand; pad, concat and gather index it; reshape and stopGradient
 *   share the buffer.
 * - Reductions: one invocation per output for short reductions, one
 *   workgroup per output (a tree in workgroup memory) for long ones.
 * - Matmul: tiled, in workgroup memory (matmul.ts).
 * - argsort ranks each element in its row (stable, NaN last) and writes its
 *   index at its rank; cumsum, scatterAdd and conv loop in each invocation.
 * - `random`: Threefry-2x32 in u32 arithmetic (random.ts), the CPU
 *   kernel's numbers.
 * - cholesky, triangularSolve and lu: the CPU's algorithms in f32
 *   (linalg.ts), one invocation per matrix (per right-hand column for
 *   triangularSolve).
 * - qr, eigh and svd run the CPU backend's kernels (Householder, Jacobi
 *   sweeps) on operands read back asynchronously, then upload the result:
 *   the kernel answers with a Promise, which the evaluation awaits without
 *   blocking the page (so they do not run inside loop bodies).
 *
 * Small results of host operands (at most `cpuThreshold` elements) are
 * computed by the CPU backend's kernels and stay on the host.
 */
import { BackendError, type BackendShape, CpuBackend, DType as DT, Internal, type Kernel, type KernelArg, type Prim } from "@diffect/core"
import { type Device, fail, Handle, storageType } from "./device.js"
import { cholesky, choleskyChecked, lu, triangularSolve } from "./linalg.js"
import { matmul } from "./matmul.js"
import { randomKernel } from "./random.js"
import {
  binaryWgsl,
  bindings,
  coords,
  dot,
  elementwiseKernel,
  intBinaryWgsl,
  intCompareWgsl,
  intUnaryWgsl,
  mathLib,
  stridesOf,
  substitute,
  unaryWgsl,
  uses,
  viewIndex
} from "./wgsl.js"

type DType = DT.DType
type HostArray = DT.HostArray
type Shape = ReadonlyArray<number>
type Fusion = NonNullable<BackendShape["fusion"]>

const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1)
const h = (x: KernelArg | undefined): Handle => x!.handle as Handle
const cpu = CpuBackend.backend.kernels as { readonly [P in Prim]: Kernel<any> }
const cpuFusion = CpuBackend.backend.fusion

/** Values read back from storage as the CPU backend's host array of `dtype`. */
export const asHost = (values: HostArray, dtype: DType): HostArray => {
  switch (dtype) {
    case "int32":
      return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>)
    case "bool":
      return values instanceof Uint8Array ? values : Uint8Array.from(values as ArrayLike<number>, (v) => (v !== 0 ? 1 : 0))
    default:
      return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>)
  }
}

// ------------------------------------------------------------------ elementwise

const unaryKinds = new Set(Object.keys(unaryWgsl))
const binaryKinds = new Set(Object.keys(binaryWgsl))

/** The WGSL of one elementwise application over operand expressions (f32, or i32 for exact integer formulas). */
const elementExpr = (prim: Prim, ins: ReadonlyArray<DType>, out: DType, f: ReadonlyArray<string>, i: ReadonlyArray<string>): string => {
  const allInt = ins.every((d) => d === "int32")
  if (prim === "where") {
    if (out === "int32") return `select(${i[2]}, ${i[1]}, ${f[0]} != 0.0)`
    return `select(${f[2]}, ${f[1]}, ${f[0]} != 0.0)`
  }
  if (prim === "cast") {
    const from = ins[0]!
    if (out === "bool") return from === "int32" ? `b2f(${i[0]} != 0)` : `b2f(${f[0]} != 0.0 || isnan_(${f[0]}))`
    if (out === "int32") return from === "int32" ? i[0]! : from === "bool" ? `i32(${f[0]})` : `toI32(${f[0]})`
    return f[0]!
  }
  if (allInt && out === "int32" && intUnaryWgsl[prim] !== undefined) return substitute(intUnaryWgsl[prim]!, i)
  if (allInt && out === "int32" && intBinaryWgsl[prim] !== undefined) return substitute(intBinaryWgsl[prim]!, i)
  if (allInt && intCompareWgsl[prim] !== undefined) return substitute(intCompareWgsl[prim]!, i)
  const e = substitute(unaryWgsl[prim] ?? binaryWgsl[prim] ?? fail(`internal: ${prim} is not elementwise`), f)
  return out === "int32" ? `toI32(${e})` : e
}

const elementwise = (device: Device, prim: Prim, args: ReadonlyArray<Handle>, out: DType): Handle => {
  const ins = args.map((a) => a.dtype)
  const n = args[0]!.n
  const expr = elementExpr(
    prim,
    ins,
    out,
    args.map((_, k) => `x${k}(o)`),
    args.map((a, k) => (a.dtype === "int32" ? `ix${k}(o)` : `toI32(x${k}(o))`))
  )
  return device.run({
    key: `ew:${prim}:${ins}:${out}:${n}`,
    code: () => elementwiseKernel(ins, out, n, `fn value(o: i32) -> ${storageType(out)} { return ${expr}; }`),
    inputs: args,
    n,
    dtype: out
  })
}

/** A tensor of zeros. */
const zeros = (device: Device, n: number, dtype: DType): Handle =>
  device.run({
    key: `zeros:${dtype}:${n}`,
    code: () => elementwiseKernel([], dtype, n, `fn value(o: i32) -> ${storageType(dtype)} { return ${storageType(dtype)}(0); }`),
    inputs: [],
    n,
    dtype
  })

// ------------------------------------------------------------------ fusion

const fusible = (d: DType): boolean => d === "float32" || d === "bool"

const fusionExpr = (prim: Prim, dtype: DType, ins: ReadonlyArray<DType>): boolean =>
  fusible(dtype) && ins.every(fusible) && (unaryKinds.has(prim) || binaryKinds.has(prim) || prim === "where" || prim === "cast")

/**
 * The fusion of this backend: a group of elementwise float32 / bool
 * primitives runs as one shader, each invocation computing its element
 * through the whole program in registers; strided operands (a broadcast
 * bias, a transposed matrix) are read through their strides.
 */
export const makeFusion = (device: Device, cpuThreshold: number): Fusion => ({
  canFuse: (prim, dtype, ins) => fusionExpr(prim, dtype, ins),
  kernel: (program, args, out) => {
    device.check("a fused kernel")
    const n = sizeOf(out.shape)
    if (
      cpuFusion !== undefined &&
      cpuThreshold > 0 &&
      n <= cpuThreshold &&
      args.every((a) => h(a).host !== undefined) &&
      program.every((op) => cpuFusion.canFuse(op.prim, op.dtype, op.operands.map((j) => (j < args.length ? args[j]!.dtype : program[j - args.length]!.dtype))))
    )
      return device.hostHandle(cpuFusion.kernel(program, args.map((a) => ({ ...a, handle: h(a).host })), out) as HostArray, out.dtype)
    const ins = args.map((a) => a.dtype)
    const key = `fused:${JSON.stringify([program.map((op) => [op.prim, op.dtype, op.operands]), out.shape, ins, args.map((a) => (a.strides === undefined ? 0 : [a.strides, a.offset ?? 0]))])}`
    const code = () => {
      const readers = args.flatMap((a, k) => (a.strides === undefined ? [] : [viewIndex(`idx${k}`, out.shape, a.strides, a.offset ?? 0)]))
      const loads = args.map((a, k) => `let v${k} = x${k}(${a.strides === undefined ? "o" : `idx${k}(o)`});`)
      const dtypes: DType[] = [...ins]
      const steps = program.map((op, i) => {
        const names = op.operands.map((j) => `v${j}`)
        const opIns = op.operands.map((j) => dtypes[j]!)
        dtypes.push(op.dtype)
        return `let v${args.length + i} = ${elementExpr(op.prim, opIns, op.dtype, names, names)};`
      })
      return elementwiseKernel(
        ins,
        out.dtype,
        n,
        `${readers.join("\n")}
fn value(o: i32) -> f32 {
  ${loads.join("\n  ")}
  ${steps.join("\n  ")}
  return v${args.length + program.length - 1};
}`
      )
    }
    return device.run({ key, code, inputs: args.map(h), n, dtype: out.dtype })
  }
})

// ------------------------------------------------------------------ data movement

/** Copies a strided view of `a` (output shape `shape`). */
const copyView = (device: Device, a: Handle, shape: Shape, strides: ReadonlyArray<number>, offset: number): Handle => {
  const n = sizeOf(shape)
  return device.run({
    key: `view:${a.dtype}:${shape}:${strides}:${offset}`,
    code: () => elementwiseKernel([a.dtype], a.dtype, n, `${viewIndex("idx", shape, strides, offset)}
fn value(o: i32) -> ${storageType(a.dtype)} { return A0[idx(o)]; }`),
    inputs: [a],
    n,
    dtype: a.dtype
  })
}

const broadcast = (device: Device, a: Handle, inShape: Shape, shape: Shape, dims: ReadonlyArray<number>): Handle => {
  const inStrides = stridesOf(inShape)
  const strides = shape.map(() => 0)
  dims.forEach((d, i) => {
    if (inShape[i] === shape[d] && inShape[i] !== 1) strides[d] = inStrides[i]!
  })
  return copyView(device, a, shape, strides, 0)
}

const transpose = (device: Device, a: Handle, inShape: Shape, perm: ReadonlyArray<number>): Handle => {
  const inStrides = stridesOf(inShape)
  return copyView(device, a, perm.map((p) => inShape[p]!), perm.map((p) => inStrides[p]!), 0)
}

const slice = (device: Device, a: Handle, inShape: Shape, starts: ReadonlyArray<number>, stops: ReadonlyArray<number>): Handle => {
  const inStrides = stridesOf(inShape)
  const shape = starts.map((s, d) => Math.max(0, stops[d]! - s))
  return copyView(device, a, shape, inStrides, starts.reduce((acc, s, d) => acc + s * inStrides[d]!, 0))
}

const pad = (device: Device, a: Handle, inShape: Shape, before: ReadonlyArray<number>, after: ReadonlyArray<number>): Handle => {
  const shape = inShape.map((s, d) => s + before[d]! + after[d]!)
  const n = sizeOf(shape)
  const inStrides = stridesOf(inShape)
  const T = storageType(a.dtype)
  return device.run({
    key: `pad:${a.dtype}:${inShape}:${before}:${after}`,
    code: () =>
      elementwiseKernel([a.dtype], a.dtype, n, `fn value(o: i32) -> ${T} {
  ${coords(shape, "o", "c")}
  ${inShape.map((s, d) => `let p${d} = c${d} - ${before[d]}; if (p${d} < 0 || p${d} >= ${s}) { return ${T}(0); }`).join("\n  ")}
  return A0[${dot(inStrides, 0, "p")}];
}`),
    inputs: [a],
    n,
    dtype: a.dtype
  })
}

/** At most this many inputs per concat shader (storage bindings are limited; 8 is the guaranteed minimum). */
const CONCAT_INPUTS = 7

const concat = (device: Device, parts: ReadonlyArray<{ handle: Handle; shape: Shape }>, axis: number, dtype: DType): Handle => {
  if (parts.length > CONCAT_INPUTS) {
    const chunks: Array<{ handle: Handle; shape: Shape }> = []
    for (let i = 0; i < parts.length; i += CONCAT_INPUTS) {
      const group = parts.slice(i, i + CONCAT_INPUTS)
      const shape = group[0]!.shape.map((s, d) => (d === axis ? group.reduce((acc, p) => acc + p.shape[axis]!, 0) : s))
      chunks.push({ handle: concat(device, group, axis, dtype), shape })
    }
    try {
      return concat(device, chunks, axis, dtype)
    } finally {
      for (const c of chunks) device.dispose(c.handle)
    }
  }
  const shape = parts[0]!.shape.map((s, d) => (d === axis ? parts.reduce((acc, p) => acc + p.shape[axis]!, 0) : s))
  const n = sizeOf(shape)
  const T = storageType(dtype)
  const live = parts.map((p, k) => ({ ...p, k })).filter((p) => sizeOf(p.shape) > 0)
  const inputs = live.map((p) => p.handle)
  if (inputs.length === 0) return device.alloc(n, dtype)
  let start = 0
  const branches = parts.map((p, k) => {
    const lo = start
    start += p.shape[axis]!
    const j = live.findIndex((l) => l.k === k)
    if (j < 0) return ""
    const st = stridesOf(p.shape)
    const idx = p.shape.map((_, d) => (d === axis ? `(c${d} - ${lo})` : `c${d}`))
    return `if (c${axis} < ${start}) { return A${j}[${idx.map((e, d) => (st[d] === 0 ? "0" : `${e} * ${st[d]}`)).join(" + ") || "0"}]; }`
  })
  return device.run({
    key: `concat:${dtype}:${axis}:${parts.map((p) => `[${p.shape}]`)}`,
    code: () =>
      elementwiseKernel(inputs.map((x) => x.dtype), dtype, n, `fn value(o: i32) -> ${T} {
  ${coords(shape, "o", "c")}
  ${branches.join("\n  ")}
  return ${T}(0);
}`),
    inputs,
    n,
    dtype
  })
}

// ------------------------------------------------------------------ reductions

const REDUCE_WG = 256

const reduce = (device: Device, kind: "sum" | "max", a: Handle, inShape: Shape, axes: ReadonlyArray<number>, outDtype: DType): Handle => {
  const kept = inShape.map((_, d) => d).filter((d) => !axes.includes(d))
  const outShape = kept.map((d) => inShape[d]!)
  const redShape = axes.map((d) => inShape[d]!)
  const n = sizeOf(outShape)
  const r = sizeOf(redShape)
  const st = stridesOf(inShape)
  const int = a.dtype === "int32" && outDtype === "int32"
  const T = int ? "i32" : "f32"
  const read = int ? "A0" : "x0"
  const init = kind === "sum" ? (int ? "0" : "0.0") : int ? "i32(-2147483648)" : "-inf()"
  const combine = (x: string, y: string) => (kind === "sum" ? `${x} + ${y}` : int ? `max(${x}, ${y})` : `max_(${x}, ${y})`)
  const store = (v: string) => (outDtype === "int32" && !int ? `toI32(${v})` : v)
  const base = `fn base(o: i32) -> i32 { ${coords(outShape, "o", "k")} return ${dot(kept.map((d) => st[d]!), 0, "k")}; }`
  const roff = `fn roff(j: i32) -> i32 { ${coords(redShape, "j", "q")} return ${dot(axes.map((d) => st[d]!), 0, "q")}; }`
  const at = (e: string) => (int ? `A0[${e}]` : `${read}(${e})`)
  if (n === 0) return device.alloc(0, outDtype)
  if (r < REDUCE_WG || n >= 65536) {
    return device.run({
      key: `reduce1:${kind}:${a.dtype}:${outDtype}:${inShape}:${axes}`,
      code: () =>
        elementwiseKernel([a.dtype], outDtype, n, `${base}
${roff}
fn value(o: i32) -> ${storageType(outDtype)} {
  let b = base(o);
  var acc: ${T} = ${init};
  for (var j = 0; j < ${r}; j = j + 1) { let v = ${at("b + roff(j)")}; acc = ${combine("acc", "v")}; }
  return ${store("acc")};
}`),
      inputs: [a],
      n,
      dtype: outDtype
    })
  }
  // one workgroup per output: strided partial results, then a tree in workgroup memory
  return device.run({
    key: `reduceWg:${kind}:${a.dtype}:${outDtype}:${inShape}:${axes}`,
    code: () => `${mathLib}
${bindings([a.dtype], outDtype)}
${base}
${roff}
var<workgroup> part: array<${T}, ${REDUCE_WG}>;
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${uses(1)}
  let o = i32(wid.x);
  let b = base(o);
  var acc: ${T} = ${init};
  for (var j = i32(li); j < ${r}; j = j + ${REDUCE_WG}) { let v = ${at("b + roff(j)")}; acc = ${combine("acc", "v")}; }
  part[li] = acc;
  workgroupBarrier();
  for (var s = ${REDUCE_WG / 2}u; s > 0u; s = s >> 1u) {
    if (li < s) { part[li] = ${combine("part[li]", "part[li + s]")}; }
    workgroupBarrier();
  }
  if (li == 0u) { O[o] = ${store("part[0]")}; }
}`,
    inputs: [a],
    n,
    dtype: outDtype,
    groups: [n, 1, 1]
  })
}

// ------------------------------------------------------------------ indexing, sorting, scans

const extents = (xShape: Shape, idxShape: Shape, axis: number, batchDims: number) => ({
  ps: sizeOf(xShape.slice(batchDims, axis)),
  n: xShape[axis]!,
  qs: sizeOf(xShape.slice(axis + 1)),
  js: sizeOf(idxShape.slice(batchDims))
})

const clampFn = (n: number) => `fn clampIndex(k0: i32) -> i32 {
  var k = k0;
  if (k < 0) { k = k + ${n}; }
  return clamp(k, 0, ${Math.max(0, n - 1)});
}`

/** Reads index element i of input `k` as i32 (indices are int32; a float operand is truncated). */
const indexRead = (hd: Handle, k: number, e: string) => (hd.dtype === "int32" ? `A${k}[${e}]` : `toI32(x${k}(${e}))`)

const gather = (device: Device, x: Handle, idx: Handle, xShape: Shape, idxShape: Shape, axis: number, batchDims: number, outSize: number): Handle => {
  const { ps, n, qs, js } = extents(xShape, idxShape, axis, batchDims)
  const T = storageType(x.dtype)
  return device.run({
    key: `gather:${x.dtype}:${idx.dtype}:${n}:${ps}:${qs}:${js}:${outSize}`,
    code: () =>
      elementwiseKernel([x.dtype, idx.dtype], x.dtype, outSize, `${clampFn(n)}
fn value(o: i32) -> ${T} {
  let q = o % ${qs}; let t = o / ${qs}; let j = t % ${js}; let bp = t / ${js}; let b = bp / ${ps};
  let k = clampIndex(${indexRead(idx, 1, `b * ${js} + j`)});
  return A0[(bp * ${n} + k) * ${qs} + q];
}`),
    inputs: [x, idx],
    n: outSize,
    dtype: x.dtype
  })
}

const scatterAdd = (device: Device, x: Handle, idx: Handle, upd: Handle, xShape: Shape, idxShape: Shape, axis: number, batchDims: number): Handle => {
  const { ps, n, qs, js } = extents(xShape, idxShape, axis, batchDims)
  const size = sizeOf(xShape)
  const int = x.dtype === "int32"
  const T = storageType(x.dtype)
  return device.run({
    key: `scatterAdd:${x.dtype}:${idx.dtype}:${upd.dtype}:${n}:${ps}:${qs}:${js}:${size}`,
    code: () =>
      elementwiseKernel([x.dtype, idx.dtype, upd.dtype], x.dtype, size, `${clampFn(n)}
fn value(o: i32) -> ${T} {
  let q = o % ${qs}; let t = o / ${qs}; let k = t % ${n}; let bp = t / ${n}; let b = bp / ${ps};
  var acc: ${T} = A0[o];
  for (var j = 0; j < ${js}; j = j + 1) {
    if (clampIndex(${indexRead(idx, 1, `b * ${js} + j`)}) == k) { acc = acc + ${int ? `A2[(bp * ${js} + j) * ${qs} + q]` : `x2((bp * ${js} + j) * ${qs} + q)`}; }
  }
  return acc;
}`),
    inputs: [x, idx, upd],
    n: size,
    dtype: x.dtype
  })
}

/** Each element's rank in its row (stable; NaN last, or first when descending); its index is written at that rank. */
const argsort = (device: Device, x: Handle, shape: Shape, descending: boolean): Handle => {
  const m = shape[shape.length - 1]!
  const size = sizeOf(shape)
  const int = x.dtype === "int32"
  const rd = (e: string) => (int ? `A0[${e}]` : `x0(${e})`)
  const nanOf = (v: string) => (int ? "false" : `isnan_(${v})`)
  const before = descending
    ? `select(!${nanOf("c")} && (v > c || (v == c && j < i)), !${nanOf("c")} || j < i, ${nanOf("v")})`
    : `select(!${nanOf("v")} && (v < c || (v == c && j < i)), !${nanOf("v")} || j < i, ${nanOf("c")})`
  return device.run({
    key: `argsort:${x.dtype}:${m}:${size}:${descending}`,
    code: () => `${mathLib}
${bindings([x.dtype], "int32")}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${uses(1)}
  let e = i32((wid.y * nw.x + wid.x) * 64u + li);
  if (e >= ${size}) { return; }
  let i = e % ${m};
  let base = e - i;
  let c = ${rd("e")};
  var r = 0;
  for (var j = 0; j < ${m}; j = j + 1) {
    let v = ${rd("base + j")};
    if (${before}) { r = r + 1; }
  }
  O[base + r] = i;
}`,
    inputs: [x],
    n: size,
    dtype: "int32"
  })
}

const cumsum = (device: Device, x: Handle, shape: Shape, axis: number, reverse: boolean, outDtype: DType): Handle => {
  const n = shape[axis]!
  const qs = sizeOf(shape.slice(axis + 1))
  const size = sizeOf(shape)
  const int = x.dtype === "int32" && outDtype === "int32"
  const T = int ? "i32" : "f32"
  return device.run({
    key: `cumsum:${x.dtype}:${outDtype}:${n}:${qs}:${size}:${reverse}`,
    code: () =>
      elementwiseKernel([x.dtype], outDtype, size, `fn value(o: i32) -> ${storageType(outDtype)} {
  let q = o % ${qs}; let t = o / ${qs}; let k = t % ${n}; let base = (t - k) * ${qs} + q;
  var acc: ${T} = ${int ? "0" : "0.0"};
  ${reverse ? `for (var j = ${n - 1}; j >= k; j = j - 1)` : "for (var j = 0; j <= k; j = j + 1)"} { acc = acc + ${int ? "A0" : "x0"}${int ? `[base + j * ${qs}]` : `(base + j * ${qs})`}; }
  return ${outDtype === "int32" && !int ? "toI32(acc)" : "acc"};
}`),
    inputs: [x],
    n: size,
    dtype: outDtype
  })
}

// ------------------------------------------------------------------ conv

const conv = (device: Device, x: Handle, w: Handle, xShape: Shape, wShape: Shape, outShape: Shape, p: Parameters<BackendShape["kernels"]["conv"]>[1], outDtype: DType): Handle => {
  const { strides, padding, lhsDilation, rhsDilation, groups } = p
  const sd = xShape.length - 2
  const xs = xShape.slice(2)
  const [o, cg] = wShape as [number, number]
  const ks = wShape.slice(2)
  const os = outShape.slice(2)
  const og = o / groups
  const xStr = stridesOf(xShape), wStr = stridesOf(wShape)
  const n = sizeOf(outShape)
  const dims = Array.from({ length: sd }, (_, d) => d)
  const code = () => {
    const loops = dims.map(
      (d) => `for (var t${d} = 0; t${d} < ${ks[d]}; t${d} = t${d} + 1) {
    var q${d} = c${d + 2} * ${strides[d]} - ${padding[d]![0]} + t${d} * ${rhsDilation[d]};
    ${lhsDilation[d] === 1 ? "" : `if (q${d} < 0 || q${d} % ${lhsDilation[d]} != 0) { continue; } q${d} = q${d} / ${lhsDilation[d]};`}
    if (q${d} < 0 || q${d} >= ${xs[d]}) { continue; }`
    )
    const xIdx = [`c0 * ${xStr[0]} + (g * ${cg} + ci) * ${xStr[1]}`, ...dims.map((d) => `q${d} * ${xStr[d + 2]}`)].join(" + ")
    const wIdx = [`c1 * ${wStr[0]} + ci * ${wStr[1]}`, ...dims.map((d) => `t${d} * ${wStr[d + 2]}`)].join(" + ")
    return elementwiseKernel([x.dtype, w.dtype], outDtype, n, `fn value(o: i32) -> ${storageType(outDtype)} {
  ${coords(outShape, "o", "c")}
  let g = c1 / ${og};
  var acc = 0.0;
  for (var ci = 0; ci < ${cg}; ci = ci + 1) {
  ${loops.join("\n  ")}
    acc = acc + x0(${xIdx}) * x1(${wIdx});
  ${dims.map(() => "}").join(" ")}
  }
  return ${outDtype === "int32" ? "toI32(acc)" : "acc"};
}`)
  }
  void os
  return device.run({
    key: `conv:${x.dtype}:${w.dtype}:${outDtype}:${xShape}|${wShape}|${strides}|${padding.flat()}|${lhsDilation}|${rhsDilation}|${groups}`,
    code,
    inputs: [x, w],
    n,
    dtype: outDtype
  })
}

// ------------------------------------------------------------------ the table

const complexUnsupported = (what: string): never => {
  throw new BackendError({ message: `webgpu backend: ${what} needs complex64, which is not supported; use the CPU backend (CpuBackend.layer) for complex numbers` })
}

/** Whether every operand has host values. */
const onHost = (args: ReadonlyArray<KernelArg>): boolean => args.every((a) => h(a).host !== undefined)

export const makeKernels = (device: Device, cpuThreshold: number): { kernels: BackendShape["kernels"]; viewKernels: NonNullable<BackendShape["viewKernels"]> } => {
  const guard =
    <P extends Prim>(name: P, k: Kernel<P>): Kernel<P> =>
    (args, params, out) => {
      device.check(name)
      if (cpuThreshold > 0 && sizeOf(out.shape) <= cpuThreshold && onHost(args) && args.every((a) => a.strides === undefined)) {
        const hostArgs = args.map((a) => ({ ...a, handle: h(a).host! }))
        return device.hostHandle(asHost(cpu[name](hostArgs, params, out) as HostArray, out.dtype), out.dtype)
      }
      return k(args, params, out)
    }
  /**
   * Runs the CPU backend's kernel on the operands read back asynchronously
   * (the kernel answers with a Promise), and uploads the result.
   */
  const viaHost =
    <P extends Prim>(name: P): Kernel<P> =>
    (args, params, out) => {
      device.check(name)
      const sync = onHost(args)
      const finish = (hosts: ReadonlyArray<HostArray>): Handle => {
        const res = asHost(cpu[name](args.map((a, i) => ({ ...a, handle: hosts[i]! })), params, out) as HostArray, out.dtype)
        return res.length <= cpuThreshold ? device.hostHandle(res, out.dtype) : device.upload(res, out.dtype)
      }
      if (sync) return finish(args.map((a) => asHost(h(a).host!, a.dtype)))
      return Promise.all(args.map((a) => device.read(h(a)).then((v) => asHost(v, a.dtype)))).then((hosts) => {
        device.check(name)
        return finish(hosts)
      })
    }
  const un = (op: Prim): Kernel<any> => guard(op, (args, _p, out) => elementwise(device, op, args.map(h), out.dtype))
  const share = (name: Prim): Kernel<any> => guard(name, ([a]) => device.share(h(a)))
  const matmulKernel: Kernel<"matmul"> = guard("matmul", ([a, b], _p, out) => matmul(device, a!, b!, out.dtype))
  const kernels: BackendShape["kernels"] = {
    neg: un("neg"),
    exp: un("exp"),
    log: un("log"),
    sin: un("sin"),
    cos: un("cos"),
    tanh: un("tanh"),
    sqrt: un("sqrt"),
    abs: un("abs"),
    sign: un("sign"),
    log1p: un("log1p"),
    expm1: un("expm1"),
    erf: un("erf"),
    floor: un("floor"),
    add: un("add"),
    sub: un("sub"),
    mul: un("mul"),
    div: un("div"),
    pow: un("pow"),
    max: un("max"),
    min: un("min"),
    atan2: un("atan2"),
    greater: un("greater"),
    less: un("less"),
    equal: un("equal"),
    where: un("where"),
    sum: guard("sum", ([a], { axes }, out) => reduce(device, "sum", h(a), a!.shape, axes, out.dtype)),
    reduceMax: guard("reduceMax", ([a], { axes }, out) => reduce(device, "max", h(a), a!.shape, axes, out.dtype)),
    reshape: share("reshape"),
    broadcast: guard("broadcast", ([a], { shape, dims }) => broadcast(device, h(a), a!.shape, shape, dims)),
    transpose: guard("transpose", ([a], { perm }) => transpose(device, h(a), a!.shape, perm)),
    slice: guard("slice", ([a], { starts, stops }) => slice(device, h(a), a!.shape, starts, stops)),
    pad: guard("pad", ([a], { before, after }) => pad(device, h(a), a!.shape, before, after)),
    concat: guard("concat", (args, { axis }, out) => concat(device, args.map((x) => ({ handle: h(x), shape: x.shape })), axis, out.dtype)),
    matmul: matmulKernel,
    // bool is stored as f32 0 and 1: a cast between float32 and bool of 0s and 1s, or to the same dtype, keeps the buffer
    cast: guard("cast", ([a], { dtype }, out) =>
      a!.dtype === dtype || (dtype === "float32" && a!.dtype === "bool") ? device.share(h(a)) : elementwise(device, "cast", [h(a)], out.dtype)
    ),
    stopGradient: share("stopGradient"),
    // real dtypes only (complex64 is refused before a kernel runs)
    real: guard("real", ([a]) => (a!.dtype === "complex64" ? complexUnsupported("real") : device.share(h(a)))),
    imag: guard("imag", ([a], _p, out) => (a!.dtype === "complex64" ? complexUnsupported("imag") : zeros(device, h(a).n, out.dtype))),
    complex: guard("complex", () => complexUnsupported("complex")),
    conj: guard("conj", ([a]) => (a!.dtype === "complex64" ? complexUnsupported("conj") : device.share(h(a)))),
    // Threefry on the GPU (random.ts): the CPU's numbers (exactly but for normal's last ulps)
    random: guard("random", ([k], p, out) => randomKernel(device, h(k), p, sizeOf(out.shape), out.dtype)),
    gather: guard("gather", ([x, i], { axis, batchDims }, out) => gather(device, h(x), h(i), x!.shape, i!.shape, axis, batchDims, sizeOf(out.shape))),
    scatterAdd: guard("scatterAdd", ([x, i, u], { axis, batchDims }) => scatterAdd(device, h(x), h(i), h(u), x!.shape, i!.shape, axis, batchDims)),
    argsort: guard("argsort", ([x], { descending }) => argsort(device, h(x), x!.shape, descending)),
    cumsum: guard("cumsum", ([x], { axis, reverse }, out) => cumsum(device, h(x), x!.shape, axis, reverse, out.dtype)),
    // checked (a LinalgError for a matrix that is not positive-definite) where it may answer asynchronously; NaN in loop bodies
    cholesky: guard("cholesky", ([a], _p, out) =>
      Internal.mayAnswerAsync() ? choleskyChecked(device, h(a), a!.shape, out.dtype) : cholesky(device, h(a), a!.shape, out.dtype)
    ),
    triangularSolve: guard("triangularSolve", ([a, b], p, out) => triangularSolve(device, h(a), h(b), a!.shape, b!.shape, p, out.dtype)),
    lu: guard("lu", ([a], _p, out) => lu(device, h(a), a!.shape, out.dtype)),
    qr: viaHost("qr"),
    eigh: viaHost("eigh"),
    svd: viaHost("svd"),
    conv: guard("conv", ([x, w], params, out) => conv(device, h(x), h(w), x!.shape, w!.shape, out.shape, params, out.dtype))
  }
  return { kernels, viewKernels: { matmul: matmulKernel } }
}

export { Handle }
