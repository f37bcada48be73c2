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
import type { Device, Handle } from "./device.js"
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

export const matmul = (device: Device, a: KernelArg, b: KernelArg, outDtype: DType): Handle => {
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
