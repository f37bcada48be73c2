/**
 * Elementwise kernels: unary and binary arithmetic, comparisons, `where` and
 * `cast`. Operands of an elementwise primitive have equal sizes, hence the
 * same layout, so each fragment reads the same texel of every input and
 * computes four elements at once as a vec4.
 */
import type { DType as D, Internal } from "@diffect/core"
import type { Device, Handle } from "../device.js"
import { mathLib } from "../glsl.js"

type DType = D.DType
type UnaryPrim = Internal.UnaryPrim
type BinaryPrim = Internal.BinaryPrim
type ComparePrim = Internal.ComparePrim

export const unaryGlsl: Record<UnaryPrim, string> = {
  neg: "-x",
  exp: "exp(x)",
  log: "logv(x)",
  sin: "sin(reduce2pi(x))",
  cos: "cos(reduce2pi(x))",
  tanh: "tanhv(x)",
  sqrt: "sqrtv(x)",
  abs: "abs(x)",
  sign: "mix(sign(x), x, isnan(x))",
  log1p: "log1pv(x)",
  expm1: "expm1v(x)",
  erf: "erfv(x)",
  floor: "floor(x)"
}

export const binaryGlsl: Record<BinaryPrim | ComparePrim, string> = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "x / y",
  pow: "powv(x, y)",
  // NaN-propagating, as the CPU backend
  max: "mix(mix(y, x, greaterThan(x, y)), x, isnan(x))",
  min: "mix(mix(y, x, lessThan(x, y)), x, isnan(x))",
  atan2: "atan2v(x, y)",
  greater: "vec4(greaterThan(x, y))",
  less: "vec4(lessThan(x, y))",
  equal: "vec4(equal(x, y))"
}

/** Stores a float result the way a typed array of `dtype` would (int32 truncates, NaN → 0; download saturates). */
const store = (expr: string, dtype: DType): string => (dtype === "int32" ? `toInt32(${expr})` : expr)

/** Exact int32 formulas (GLSL highp int arithmetic wraps like the CPU's). */
const intUnaryGlsl: Partial<Record<UnaryPrim, string>> = { neg: "-x", abs: "abs(x)", sign: "sign(x)" }
const intBinaryGlsl: Partial<Record<BinaryPrim, string>> = { add: "x + y", sub: "x - y", mul: "x * y", max: "max(x, y)", min: "min(x, y)" }
const intLib = `
ivec4 mixi(ivec4 a, ivec4 b, bvec4 c) { return ivec4(c.x ? b.x : a.x, c.y ? b.y : a.y, c.z ? b.z : a.z, c.w ? b.w : a.w); }
ivec4 truncInt(vec4 v) {
  ivec4 r = ivec4(clamp(trunc(v), -2147483648.0, 2147483520.0));
  return ivec4(isnan(v.x) ? 0 : v.x >= 2147483647.0 ? 2147483647 : r.x, isnan(v.y) ? 0 : v.y >= 2147483647.0 ? 2147483647 : r.y,
               isnan(v.z) ? 0 : v.z >= 2147483647.0 ? 2147483647 : r.z, isnan(v.w) ? 0 : v.w >= 2147483647.0 ? 2147483647 : r.w);
}
`

/**
 * Runs `expr` (GLSL over `x`, `y`, `z`: the inputs in order, vec4 or, for
 * those of `ints`, exact ivec4) for every texel. With `intExpr` the
 * expression is an ivec4 written exactly to the int32 output; otherwise a
 * vec4 stored as `outDtype`. `key` must identify the expression.
 */
export const mapTexels = (
  device: Device,
  key: string,
  inputs: ReadonlyArray<Handle>,
  n: number,
  expr: string,
  outDtype: DType,
  ints: ReadonlyArray<boolean> = inputs.map(() => false),
  intExpr = false
): Handle =>
  device.run(`ew:${key}:${outDtype}:${ints.map(Number).join("")}:${intExpr}`, inputs, n, () => {
    const names = ["x", "y", "z"]
    const reads = inputs
      .map((h, k) => (ints[k] && h.int ? `ivec4 ${names[k]} = texelFetch(A${k}, p, 0);` : `vec4 ${names[k]} = vec4(texelFetch(A${k}, p, 0));`))
      .join("\n  ")
    return `${mathLib}${intLib}
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  ${reads}
  ${intExpr ? `outColorI = ${expr};` : `outColor = ${store(expr, outDtype)};`}
}`
  })

export const unary = (device: Device, op: UnaryPrim, a: Handle, outDtype: DType): Handle => {
  const exact = intUnaryGlsl[op]
  if (a.int && device.outInt && exact !== undefined) return mapTexels(device, op, [a], a.layout.n, exact, outDtype, [true], true)
  return mapTexels(device, op, [a], a.layout.n, unaryGlsl[op], outDtype)
}

export const binary = (device: Device, op: BinaryPrim | ComparePrim, a: Handle, b: Handle, outDtype: DType): Handle => {
  if (a.int && b.int) {
    const exact = (intBinaryGlsl as Record<string, string>)[op]
    if (device.outInt && exact !== undefined) return mapTexels(device, op, [a, b], a.layout.n, exact, outDtype, [true, true], true)
    // comparisons of integers, exactly
    if (op === "greater" || op === "less" || op === "equal") return mapTexels(device, op, [a, b], a.layout.n, binaryGlsl[op], outDtype, [true, true])
  }
  return mapTexels(device, op, [a, b], a.layout.n, binaryGlsl[op], outDtype)
}

export const where = (device: Device, c: Handle, a: Handle, b: Handle, outDtype: DType): Handle =>
  device.outInt && a.int && b.int
    ? mapTexels(device, "where", [c, a, b], c.layout.n, "mixi(z, y, notEqual(x, vec4(0.0)))", outDtype, [false, true, true], true)
    : mapTexels(device, "where", [c, a, b], c.layout.n, "mix(z, y, notEqual(x, vec4(0.0)))", outDtype)

export const cast = (device: Device, a: Handle, from: DType, to: DType): Handle => {
  const n = a.layout.n
  if (to === "bool") return a.int ? mapTexels(device, "tobool", [a], n, "vec4(notEqual(x, ivec4(0)))", to, [true]) : mapTexels(device, "tobool", [a], n, "vec4(notEqual(x, vec4(0.0)))", to)
  if (to === "int32") return mapTexels(device, `toint:${from}`, [a], n, from === "bool" ? "ivec4(x)" : "truncInt(x)", to, [false], true)
  // to float32: from int32 (or a float texture)
  return mapTexels(device, "tofloat", [a], n, "x", to)
}

/** A tensor of zeros. */
export const zeros = (device: Device, n: number): Handle => device.run("zeros", [], n, () => "void main() { outColor = vec4(0.0); }")
