/**
 * Elementwise fusion (`BackendShape.fusion`): a group of elementwise
 * primitives runs as one shader, each fragment computing its four elements
 * through the whole program in registers (one pass, no intermediate
 * textures). Operands that are plain buffers share the output's layout and
 * are read as one texel; strided views (a broadcast bias, a transposed
 * matrix) are read by index, with the one-or-two-texel fast path when the
 * last axis is contiguous or repeated. Each intermediate is stored to its
 * dtype as the separate kernel would; int32 is not fused (its kernels
 * compute it exactly in int32 textures).
 */
import { type BackendShape, CpuBackend, type DType as D, type KernelArg, type Prim } from "@diffect/core"
import type { Device, Handle } from "../device.js"
import { mathLib } from "../glsl.js"
import { binaryGlsl, unaryGlsl } from "./elementwise.js"

type DType = D.DType
type Fusion = NonNullable<BackendShape["fusion"]>
type FusedOp = Parameters<Fusion["kernel"]>[0][number]

// int32 runs in the separate kernels, which keep it exact in int32 textures
const supported = (d: DType): boolean => d === "float32" || d === "bool"

/** The op as a GLSL expression over vec4 operands x, y, z. */
const exprOf = (prim: Prim, dtype: DType): string | undefined => {
  if (prim === "where") return "mix(z, y, notEqual(x, vec4(0.0)))"
  if (prim === "cast") return dtype === "bool" ? "vec4(notEqual(x, vec4(0.0)))" : "x"
  return (unaryGlsl as Record<string, string>)[prim] ?? (binaryGlsl as Record<string, string>)[prim]
}

const sizeOf = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/** GLSL reading the four elements from `o` of view operand k (shape `shape`, given strides and offset). */
const viewReader = (k: number, shape: ReadonlyArray<number>, strides: ReadonlyArray<number>, offset: number): string => {
  const n = sizeOf(shape)
  const r = shape.length
  const lines = ["int r = o;"]
  for (let d = r - 1; d > 0; d--) lines.push(`int c${d} = r % ${shape[d]}; r /= ${shape[d]};`)
  if (r > 0) lines.push("int c0 = r;")
  const terms = strides.flatMap((s, d) => (s === 0 ? [] : [`c${d} * ${s}`]))
  const index = [String(offset), ...terms].join(" + ")
  const last = r === 0 ? 1 : shape[r - 1]!
  const inner = r === 0 ? 0 : strides[r - 1]!
  const fast =
    last >= 4 && (inner === 0 || inner === 1)
      ? `if (o + 3 < ${n} && (o % ${last}) + 3 < ${last}) {
    int s = idx${k}(o);
    ${
      inner === 0
        ? `return vec4(elem${k}(s));`
        : `vec4 lo = texel${k}(s >> 2); int sh = s & 3;
    if (sh == 0) return lo;
    vec4 hi = texel${k}((s >> 2) + 1);
    if (sh == 1) return vec4(lo.yzw, hi.x);
    if (sh == 2) return vec4(lo.zw, hi.xy);
    return vec4(lo.w, hi.xyz);`
    }
  }`
      : ""
  return `int idx${k}(int o) { ${lines.join(" ")} return ${index}; }
vec4 view${k}(int o) {
  ${fast}
  vec4 v = vec4(0.0);
  if (o < ${n}) v.x = elem${k}(idx${k}(o));
  if (o + 1 < ${n}) v.y = elem${k}(idx${k}(o + 1));
  if (o + 2 < ${n}) v.z = elem${k}(idx${k}(o + 2));
  if (o + 3 < ${n}) v.w = elem${k}(idx${k}(o + 3));
  return v;
}`
}

const fused = (device: Device, program: ReadonlyArray<FusedOp>, args: ReadonlyArray<KernelArg>, outShape: ReadonlyArray<number>): Handle => {
  const n = sizeOf(outShape)
  const key =
    "fused:" +
    JSON.stringify([program.map((op) => [op.prim, op.dtype, op.operands]), outShape, args.map((a) => (a.strides === undefined ? 0 : [a.strides, a.offset ?? 0]))])
  return device.run(key, args.map((a) => a.handle as Handle), n, () => {
    const readers = args.flatMap((a, k) => (a.strides === undefined ? [] : [viewReader(k, outShape, a.strides, a.offset ?? 0)]))
    const loads = args.map((a, k) => (a.strides === undefined ? `vec4 v${k} = texelFetch(A${k}, p, 0);` : `vec4 v${k} = view${k}(o);`))
    const steps = program.map((op, i) => {
      const [x, y, z] = op.operands.map((j) => `v${j}`)
      const expr = exprOf(op.prim, op.dtype)!.replace(/\b[xyz]\b(?!\s*\()/g, (m) => ({ x, y, z })[m as "x" | "y" | "z"]!)
      return `vec4 v${args.length + i} = ${op.dtype === "int32" ? `toInt32(${expr})` : expr};`
    })
    return `${mathLib}
${readers.join("\n")}
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  int o = outTexel() * 4;
  ${loads.join("\n  ")}
  ${steps.join("\n  ")}
  outColor = v${args.length + program.length - 1};
}`
  })
}

const cpuFusion = CpuBackend.backend.fusion

/** The fusion of the WebGL backend; small programs on host operands use the CPU's. */
export const makeFusion = (device: Device, cpuThreshold: number): Fusion => ({
  canFuse: (prim, dtype, ins) => exprOf(prim, dtype) !== undefined && supported(dtype) && ins.every(supported),
  kernel: (program, args, out) => {
    device.check("a fused kernel")
    if (
      cpuFusion !== undefined &&
      cpuThreshold > 0 &&
      sizeOf(out.shape) <= cpuThreshold &&
      args.every((a) => (a.handle as Handle).host !== undefined) &&
      program.every((op) => cpuFusion.canFuse(op.prim, op.dtype, op.operands.map((j) => (j < args.length ? args[j]!.dtype : program[j - args.length]!.dtype))))
    )
      return device.hostHandle(cpuFusion.kernel(program, args.map((a) => ({ ...a, handle: (a.handle as Handle).host })), out) as D.HostArray)
    return fused(device, program, args, out.shape)
  }
})
