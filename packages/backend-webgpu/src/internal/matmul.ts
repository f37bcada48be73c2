/**
 * Batched matmul as a tiled compute shader: each workgroup of 16 × 16
 * invocations computes a 64 × 64 tile of the output, each invocation a 4 × 4
 * block held in registers; the 64 × 16 panel of `a` and the 16 × 64 panel of
 * `b` for each step along k are staged in workgroup memory, so every operand
 * element is read from the buffer once per tile instead of once per output.
 * Operands may be strided views (a transposed matrix, a broadcast batch):
 * the loads index them through their strides. int32 accumulates exactly in
 * i32 (wrapping, as the CPU's Int32Array stores do).
 */
import type { DType as D, KernelArg } from "@diffect/core"
import { type Device, grid, type Handle } from "./device.js"
import { bindings, coords, dot, stridesOf, uses } from "./wgsl.js"

type DType = D.DType

const TILE = 64
const TK = 16

/** A WGSL function `fn ${name}(b: i32, i: i32, j: i32) -> i32`: the buffer index of element [batch b][i][j] of an operand. */
const operandIndex = (name: string, arg: KernelArg, batchShape: ReadonlyArray<number>): string => {
  const r = arg.shape.length
  const strides = arg.strides ?? stridesOf(arg.shape)
  const offset = arg.offset ?? 0
  const bs = strides.slice(0, r - 2)
  const batch = batchShape.length === 0 || bs.every((s) => s === 0) ? String(offset) : `${dot(bs, offset, "q")}`
  const decompose = batchShape.length === 0 || bs.every((s) => s === 0) ? "" : coords(batchShape, "b", "q")
  return `fn ${name}(b: i32, i: i32, j: i32) -> i32 { ${decompose} return ${batch} + i * ${strides[r - 2]} + j * ${strides[r - 1]}; }`
}

/**
 * The register-blocked variant without workgroup memory (any dtype and layout): each invocation
 * computes a 4 × 4 block reading its rows of `a` and columns of `b` from the
 * buffers. Used where workgroup memory is the same memory as the buffers
 * and a barrier is expensive (SwiftShader runs invocations on CPU threads
 * and every barrier switches all of a workgroup's coroutines).
 */
const matmulDirect = (device: Device, a: KernelArg, b: KernelArg, outDtype: DType): Handle => {
  const r = a.shape.length
  const m = a.shape[r - 2]!, k = a.shape[r - 1]!, n = b.shape[r - 1]!
  const batchShape = a.shape.slice(0, r - 2)
  const batch = batchShape.reduce((x, y) => x * y, 1)
  const int = outDtype === "int32" && a.dtype === "int32" && b.dtype === "int32"
  const T = int ? "i32" : "f32"
  const zero = int ? "0" : "0.0"
  const rd = (k2: number, idx: string) => (int ? `A${k2}[${idx}]` : `x${k2}(${idx})`)
  const ha = a.handle as Handle, hb = b.handle as Handle
  const key = `matmulDirect:${T}:${a.dtype}:${b.dtype}:${outDtype}:${m}:${k}:${n}:${batchShape}:${a.strides ?? "c"}:${a.offset ?? 0}:${b.strides ?? "c"}:${b.offset ?? 0}`
  const bw = Math.ceil(n / 4), bh = Math.ceil(m / 4)
  const code = () => {
    const acc: string[] = [], body: string[] = [], writes: string[] = [], loadsA: string[] = [], loadsB: string[] = []
    for (let i = 0; i < 4; i++) {
      loadsA.push(`let a${i} = select(${zero}, ${rd(0, `ia(bt, min(row + ${i}, ${m - 1}), kk)`)}, row + ${i} < ${m});`)
      loadsB.push(`let b${i} = select(${zero}, ${rd(1, `ib(bt, kk, min(col + ${i}, ${n - 1}))`)}, col + ${i} < ${n});`)
      for (let j = 0; j < 4; j++) {
        acc.push(`var c${i}${j}: ${T} = ${zero};`)
        body.push(`c${i}${j} = c${i}${j} + a${i} * b${j};`)
        writes.push(`if (row + ${i} < ${m} && col + ${j} < ${n}) { O[bo + (row + ${i}) * ${n} + col + ${j}] = ${!int && outDtype === "int32" ? `toI32(c${i}${j})` : `c${i}${j}`}; }`)
      }
    }
    return `${int ? "" : "fn toI32(v: f32) -> i32 { if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) { return 0; } if (v >= 2147483648.0) { return 2147483647; } return i32(v); }"}
${bindings([a.dtype, b.dtype], outDtype)}
${operandIndex("ia", a, batchShape)}
${operandIndex("ib", b, batchShape)}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${uses(2)}
  let e = i32((wid.y * nw.x + wid.x) * 64u + li);
  if (e >= ${batch * bw * bh}) { return; }
  let bt = e / ${bw * bh};
  let rest = e % ${bw * bh};
  let row = (rest / ${bw}) * 4;
  let col = (rest % ${bw}) * 4;
  ${acc.join(" ")}
  for (var kk = 0; kk < ${k}; kk = kk + 1) {
    ${loadsA.join("\n    ")}
    ${loadsB.join("\n    ")}
    ${body.join("\n    ")}
  }
  let bo = bt * ${m * n};
  ${writes.join("\n  ")}
}`
  }
  return device.run({ key, code, inputs: [ha, hb], n: batch * m * n, dtype: outDtype, groups: grid(Math.ceil((batch * bw * bh) / 64)) })
}

/** Whether every index of the operand along axes other than the last is a multiple of 4 and the last axis is contiguous (vec4 loads along it). */
const vec4Along = (arg: KernelArg): boolean => {
  const r = arg.shape.length
  const strides = arg.strides ?? stridesOf(arg.shape)
  return arg.shape[r - 1]! % 4 === 0 && strides[r - 1] === 1 && (arg.offset ?? 0) % 4 === 0 && strides.slice(0, r - 1).every((st) => st % 4 === 0)
}

/**
 * Rows of the output per invocation of the vec4 kernel, and its columns in
 * vec4s: 8 × 8 outputs each (on SwiftShader, matmul 512 took 120 ms against
 * 220–410 ms with 4 × 4 blocks, 150–160 ms with 8 × 4, 16 × 4 or 8 × 16, 260 ms with 4 × 8;
 * bench/webgl/run.mjs --webgpu, one run each at load 13–16).
 */
const ROWS = 8
const COLS = 2

/**
 * The register-blocked kernel with vec4 loads: `b` read four columns at a
 * time; `a` four steps of k at a time where its rows are contiguous. Each
 * invocation accumulates a ROWS × 4·COLS block as vec4s.
 */
const matmulVec4 = (device: Device, a: KernelArg, b: KernelArg, outDtype: DType): Handle => {
  const r = a.shape.length
  const m = a.shape[r - 2]!, k = a.shape[r - 1]!, n = b.shape[r - 1]!
  const batchShape = a.shape.slice(0, r - 2)
  const batch = batchShape.reduce((x, y) => x * y, 1)
  const aVec = vec4Along(a)
  const ha = a.handle as Handle, hb = b.handle as Handle
  // the columns of a block, in vec4s: as many as divide n / 4
  const C = (n / 4) % COLS === 0 ? COLS : 1
  const R = ROWS
  const key = `matmulVec4:${R}:${C}:${aVec}:${m}:${k}:${n}:${batchShape}:${a.strides ?? "c"}:${a.offset ?? 0}:${b.strides ?? "c"}:${b.offset ?? 0}`
  const bw = n / (4 * C), bh = Math.ceil(m / R)
  const rows = Array.from({ length: R }, (_, i) => i)
  const cols = Array.from({ length: C }, (_, j) => j)
  // strides of b's rows and of a along k, in elements
  const bRow = (b.strides ?? stridesOf(b.shape))[r - 2]!
  const aK = (a.strides ?? stridesOf(a.shape))[r - 1]!
  const lanes = ["x", "y", "z", "w"]
  const code = () => `@group(0) @binding(0) var<storage, read> ${aVec ? "A4: array<vec4<f32>>" : "A0: array<f32>"};
@group(0) @binding(1) var<storage, read> B4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> O: array<vec4<f32>>;
${operandIndex("ia", a, batchShape)}
${operandIndex("ib", b, batchShape)}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  _ = arrayLength(&${aVec ? "A4" : "A0"}); _ = arrayLength(&B4);
  let e = i32((wid.y * nw.x + wid.x) * 64u + li);
  if (e >= ${batch * bw * bh}) { return; }
  let bt = e / ${bw * bh};
  let rest = e % ${bw * bh};
  let row = (rest / ${bw}) * ${R};
  let col = (rest % ${bw}) * ${4 * C};
  ${rows.map((i) => `let r${i} = min(row + ${i}, ${m - 1});`).join(" ")}
  ${rows.flatMap((i) => cols.map((j) => `var c${i}_${j} = vec4<f32>(0.0);`)).join(" ")}
  ${rows.map((i) => `let pa${i} = ia(bt, r${i}, 0)${aVec ? " / 4" : ""};`).join(" ")}
  let pb = ib(bt, 0, col) / 4;
  ${
    aVec
      ? `for (var q = 0; q < ${k / 4}; q = q + 1) {
    let kb = pb + q * ${bRow};
    ${[0, 1, 2, 3].flatMap((t) => cols.map((j) => `let b${t}_${j} = B4[kb + ${(t * bRow) / 4 + j}];`)).join("\n    ")}
    ${rows.map((i) => `let a${i} = A4[pa${i} + q];`).join("\n    ")}
    ${rows.flatMap((i) => cols.map((j) => `c${i}_${j} = c${i}_${j} + ${[0, 1, 2, 3].map((t) => `a${i}.${lanes[t]} * b${t}_${j}`).join(" + ")};`)).join("\n    ")}
  }`
      : `for (var kk = 0; kk < ${k}; kk = kk + 1) {
    ${cols.map((j) => `let bv${j} = B4[pb + kk * ${bRow / 4} + ${j}];`).join(" ")}
    ${rows.map((i) => `let av${i} = A0[pa${i} + kk * ${aK}];`).join(" ")}
    ${rows.flatMap((i) => cols.map((j) => `c${i}_${j} = c${i}_${j} + av${i} * bv${j};`)).join("\n    ")}
  }`
  }
  let bo = bt * ${m * n};
  ${rows.map((i) => `if (row + ${i} < ${m}) { ${cols.map((j) => `O[(bo + (row + ${i}) * ${n} + col) / 4 + ${j}] = c${i}_${j};`).join(" ")} }`).join("\n  ")}
}`
  return device.run({ key, code, inputs: [ha, hb], n: batch * m * n, dtype: outDtype, groups: grid(Math.ceil((batch * bw * bh) / 64)) })
}

/**
 * Batched matmul: the tiled kernel, or where the device says so
 * (`Device.directMatmul`) the register-blocked one, with vec4 loads when
 * `b`'s rows are contiguous and a multiple of 4 long (float32).
 */
export const matmul = (device: Device, a: KernelArg, b: KernelArg, outDtype: DType): Handle => {
  if (!device.directMatmul) return matmulTiled(device, a, b, outDtype)
  const f32 = a.dtype === "float32" && b.dtype === "float32" && outDtype === "float32"
  return f32 && vec4Along(b) && a.shape[a.shape.length - 1]! > 0 ? matmulVec4(device, a, b, outDtype) : matmulDirect(device, a, b, outDtype)
}

const matmulTiled = (device: Device, a: KernelArg, b: KernelArg, outDtype: DType): Handle => {
  const r = a.shape.length
  const m = a.shape[r - 2]!, k = a.shape[r - 1]!, n = b.shape[r - 1]!
  const batchShape = a.shape.slice(0, r - 2)
  const batch = batchShape.reduce((x, y) => x * y, 1)
  const int = outDtype === "int32" && a.dtype === "int32" && b.dtype === "int32"
  const T = int ? "i32" : "f32"
  const zero = int ? "0" : "0.0"
  const rd = (k2: number, idx: string) => (int ? `A${k2}[${idx}]` : `x${k2}(${idx})`)
  const ha = a.handle as Handle, hb = b.handle as Handle
  const key = `matmul:${T}:${a.dtype}:${b.dtype}:${outDtype}:${m}:${k}:${n}:${batchShape}:${a.strides ?? "c"}:${a.offset ?? 0}:${b.strides ?? "c"}:${b.offset ?? 0}`
  const code = () => {
    const acc: string[] = []
    const body: string[] = []
    const writes: string[] = []
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) {
        acc.push(`var c${i}${j}: ${T} = ${zero};`)
        body.push(`c${i}${j} = c${i}${j} + a${i} * b${j};`)
        writes.push(
          `if (row + ${i} < ${m} && col + ${j} < ${n}) { O[bo + (row + ${i}) * ${n} + col + ${j}] = ${int ? `c${i}${j}` : outDtype === "int32" ? `toI32(c${i}${j})` : `c${i}${j}`}; }`
        )
      }
    return `${int ? "" : "fn toI32(v: f32) -> i32 { if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) { return 0; } if (v >= 2147483648.0) { return 2147483647; } return i32(v); }"}
${bindings([a.dtype, b.dtype], outDtype)}
${operandIndex("ia", a, batchShape)}
${operandIndex("ib", b, batchShape)}
var<workgroup> As: array<${T}, ${TILE * TK}>;
var<workgroup> Bs: array<${T}, ${TK * TILE}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${uses(2)}
  let bt = i32(wid.z);
  let row0 = i32(wid.y) * ${TILE};
  let col0 = i32(wid.x) * ${TILE};
  let tx = i32(lid.x);
  let ty = i32(lid.y);
  let tid = ty * 16 + tx;
  ${acc.join(" ")}
  for (var k0 = 0; k0 < ${k}; k0 = k0 + ${TK}) {
    for (var t = 0; t < 4; t = t + 1) {
      let e = tid + t * 256;
      let ar = e / ${TK};
      let ac = e % ${TK};
      let gr = row0 + ar;
      let gk = k0 + ac;
      var va: ${T} = ${zero};
      if (gr < ${m} && gk < ${k}) { va = ${rd(0, "ia(bt, gr, gk)")}; }
      As[e] = va;
      let br = e / ${TILE};
      let bc = e % ${TILE};
      let gk2 = k0 + br;
      let gc = col0 + bc;
      var vb: ${T} = ${zero};
      if (gk2 < ${k} && gc < ${n}) { vb = ${rd(1, "ib(bt, gk2, gc)")}; }
      Bs[e] = vb;
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${TK}; kk = kk + 1) {
      let a0 = As[(ty * 4) * ${TK} + kk];
      let a1 = As[(ty * 4 + 1) * ${TK} + kk];
      let a2 = As[(ty * 4 + 2) * ${TK} + kk];
      let a3 = As[(ty * 4 + 3) * ${TK} + kk];
      let b0 = Bs[kk * ${TILE} + tx * 4];
      let b1 = Bs[kk * ${TILE} + tx * 4 + 1];
      let b2 = Bs[kk * ${TILE} + tx * 4 + 2];
      let b3 = Bs[kk * ${TILE} + tx * 4 + 3];
      ${body.join("\n      ")}
    }
    workgroupBarrier();
  }
  let row = row0 + ty * 4;
  let col = col0 + tx * 4;
  let bo = bt * ${m * n};
  ${writes.join("\n  ")}
}`
  }
  return device.run({
    key,
    code,
    inputs: [ha, hb],
    n: batch * m * n,
    dtype: outDtype,
    groups: [Math.ceil(n / TILE), Math.ceil(m / TILE), batch]
  })
}
