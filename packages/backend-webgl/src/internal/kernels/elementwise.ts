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

/**
 * Runs `expr` (GLSL over vec4 `x`, `y`, `z`: the inputs in order) for every
 * texel. `key` must identify `expr` and `outDtype`.
 */
export const mapTexels = (device: Device, key: string, inputs: ReadonlyArray<Handle>, n: number, expr: string, outDtype: DType): Handle =>
  device.run(`ew:${key}:${outDtype}`, inputs, n, () => {
    const names = ["x", "y", "z"]
    const reads = inputs.map((_, k) => `vec4 ${names[k]} = texelFetch(A${k}, p, 0);`).join("\n  ")
    return `${mathLib}
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  ${reads}
  outColor = ${store(expr, outDtype)};
}`
  })

export const unary = (device: Device, op: UnaryPrim, a: Handle, outDtype: DType): Handle =>
  mapTexels(device, op, [a], a.layout.n, unaryGlsl[op], outDtype)

export const binary = (device: Device, op: BinaryPrim | ComparePrim, a: Handle, b: Handle, outDtype: DType): Handle =>
  mapTexels(device, op, [a, b], a.layout.n, binaryGlsl[op], outDtype)

export const where = (device: Device, c: Handle, a: Handle, b: Handle, outDtype: DType): Handle =>
  mapTexels(device, "where", [c, a, b], c.layout.n, "mix(z, y, notEqual(x, vec4(0.0)))", outDtype)

export const cast = (device: Device, a: Handle, to: DType): Handle => {
  if (to === "bool") return mapTexels(device, "tobool", [a], a.layout.n, "vec4(notEqual(x, vec4(0.0)))", to)
  return mapTexels(device, "copy", [a], a.layout.n, "x", to)
}

/** A tensor of zeros. */
export const zeros = (device: Device, n: number): Handle => device.run("zeros", [], n, () => "void main() { outColor = vec4(0.0); }")
