/**
 * WGSL building blocks shared by the kernels: the bindings of a kernel
 * (inputs, then the output), the entry point of a one-invocation-per-element
 * kernel, index arithmetic of strided views, and scalar float helpers with
 * the CPU backend's edge cases (NaN and infinities are built from bits and
 * tested on bits, since shader compilers may fold `x != x` away).
 */
import type { DType as D } from "@diffect/core"
import { storageType } from "./device.js"

type DType = D.DType

/**
 * Bindings `A0..Ak` (read-only inputs of the given dtypes) and `O` (the
 * output), with `x{k}(i)` reading element i of input k as f32 and, for int32
 * inputs, `ix{k}(i)` reading it exactly as i32.
 */
export const bindings = (inputs: ReadonlyArray<DType>, out: DType): string =>
  [
    ...inputs.flatMap((d, k) => [
      `@group(0) @binding(${k}) var<storage, read> A${k}: array<${storageType(d)}>;`,
      `fn x${k}(i: i32) -> f32 { return f32(A${k}[i]); }`,
      ...(d === "int32" ? [`fn ix${k}(i: i32) -> i32 { return A${k}[i]; }`] : [])
    ]),
    `@group(0) @binding(${inputs.length}) var<storage, read_write> O: array<${storageType(out)}>;`
  ].join("\n")

/** Statements that use every binding (a pipeline with layout "auto" drops unused ones). */
export const uses = (inputs: number): string => Array.from({ length: inputs }, (_, k) => `_ = arrayLength(&A${k});`).join(" ")

/**
 * A whole kernel computing `O[o] = value(o)` for o in [0, n), one
 * invocation per element; `body` defines `fn value(o: i32) -> T` with T the
 * output's storage type.
 */
export const elementwiseKernel = (inputs: ReadonlyArray<DType>, out: DType, n: number, body: string): string => `${mathLib}
${bindings(inputs, out)}
${body}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${uses(inputs.length)}
  let o = i32((wid.y * nw.x + wid.x) * 64u + li);
  if (o >= ${n}) { return; }
  O[o] = value(o);
}`

/** Row-major strides of a shape. */
export const stridesOf = (shape: ReadonlyArray<number>): number[] => {
  const s = new Array<number>(shape.length)
  let acc = 1
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc
    acc *= shape[d]!
  }
  return s
}

/**
 * WGSL statements decomposing the flat index `from` of `shape` into
 * coordinates `${prefix}0..` (row-major).
 */
export const coords = (shape: ReadonlyArray<number>, from: string, prefix: string): string => {
  const r = shape.length
  if (r === 0) return ""
  const lines = [`var ${prefix}r = ${from};`]
  for (let d = r - 1; d > 0; d--) lines.push(`let ${prefix}${d} = ${prefix}r % ${shape[d]}; ${prefix}r = ${prefix}r / ${shape[d]};`)
  lines.push(`let ${prefix}0 = ${prefix}r;`)
  return lines.join(" ")
}

/** The WGSL expression `offset + Σ c_d · strides[d]` over coordinates `${prefix}d`. */
export const dot = (strides: ReadonlyArray<number>, offset: number, prefix: string): string => {
  const terms = strides.flatMap((s, d) => (s === 0 ? [] : [s === 1 ? `${prefix}${d}` : `${prefix}${d} * ${s}`]))
  return [...(offset !== 0 || terms.length === 0 ? [String(offset)] : []), ...terms].join(" + ")
}

/**
 * A WGSL function `fn ${name}(o: i32) -> i32` mapping the flat index of an
 * element of `shape` to its index in a strided buffer.
 */
export const viewIndex = (name: string, shape: ReadonlyArray<number>, strides: ReadonlyArray<number>, offset: number): string => {
  const contiguous = strides.every((s, d) => s === stridesOf(shape)[d] || shape[d] === 1)
  if (contiguous) return `fn ${name}(o: i32) -> i32 { return o + ${offset}; }`
  return `fn ${name}(o: i32) -> i32 { ${coords(shape, "o", "c")} return ${dot(strides, offset, "c")}; }`
}

/**
 * Scalar helpers. Infinity and NaN come from private variables (a constant
 * expression may not be infinite in WGSL), so `inf()` is a run-time value.
 */
export const mathLib = `
var<private> INF_BITS: u32 = 0x7f800000u;
var<private> NAN_BITS: u32 = 0x7fc00000u;
fn inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn nan() -> f32 { return bitcast<f32>(NAN_BITS); }
fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isinf_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn finite_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) < 0x7f800000u; }
fn signbit_(x: f32) -> bool { return (bitcast<u32>(x) & 0x80000000u) != 0u; }
fn b2f(c: bool) -> f32 { return select(0.0, 1.0, c); }
// saturating (i32(v) clamps to the largest float32 below 2³¹, the CPU's store to 2³¹ − 1), NaN → 0
fn toI32(v: f32) -> i32 { if (isnan_(v)) { return 0; } if (v >= 2147483648.0) { return 2147483647; } return i32(v); }
fn exp_(x: f32) -> f32 {
  if (isnan_(x)) { return x; }
  if (x > 88.72284) { return inf(); }
  if (x < -103.97208) { return 0.0; }
  return exp(x);
}
fn log_(x: f32) -> f32 {
  if (isnan_(x) || x < 0.0) { return nan(); }
  if (x == 0.0) { return -inf(); }
  if (isinf_(x)) { return x; }
  return log(x);
}
// sin and cos by polynomials on [-π/4, π/4] after a three-part (Cody-Waite) reduction by π/2: the
// built-ins may be off by 2⁻¹¹ absolutely (Vulkan's bound, which SwiftShader uses), far from float32
fn sinPoly(r: f32) -> f32 { let z = r * r; return r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * (-1.9515295891e-4))); }
fn cosPoly(r: f32) -> f32 { let z = r * r; return 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5)); }
fn quadrant(x: f32) -> vec2<f32> {
  let j = floor(x * 0.6366197723675814 + 0.5);
  let r = ((x - j * 1.5703125) - j * 4.837512969970703125e-4) - j * 7.54978995489188216e-8;
  return vec2<f32>(r, j - 4.0 * floor(j / 4.0));
}
fn sin_(x: f32) -> f32 {
  if (!finite_(x)) { return nan(); }
  let q = quadrant(x);
  let s = sinPoly(q.x);
  let c = cosPoly(q.x);
  if (q.y == 0.0) { return s; }
  if (q.y == 1.0) { return c; }
  if (q.y == 2.0) { return -s; }
  return -c;
}
fn cos_(x: f32) -> f32 {
  if (!finite_(x)) { return nan(); }
  let q = quadrant(x);
  let s = sinPoly(q.x);
  let c = cosPoly(q.x);
  if (q.y == 0.0) { return c; }
  if (q.y == 1.0) { return -s; }
  if (q.y == 2.0) { return -c; }
  return s;
}
// atan by a polynomial after reducing |x| below tan(π/8) (the built-in may be off by thousands of ulps)
fn atan_(x: f32) -> f32 {
  let a = abs(x);
  var y = 0.0;
  var v = a;
  if (a > 2.414213562373095) { y = 1.5707963267948966; v = -1.0 / a; }
  else if (a > 0.4142135623730950) { y = 0.7853981633974483; v = (a - 1.0) / (a + 1.0); }
  let z = v * v;
  let r = y + ((((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z - 3.33329491539e-1) * z * v + v);
  return select(r, -r, x < 0.0);
}
fn sqrt_(x: f32) -> f32 {
  if (isnan_(x) || x < 0.0) { return nan(); }
  if (isinf_(x)) { return x; }
  return sqrt(x);
}
fn sign_(x: f32) -> f32 { if (isnan_(x)) { return x; } if (x > 0.0) { return 1.0; } if (x < 0.0) { return -1.0; } return x; }
fn expm1_(x: f32) -> f32 {
  if (abs(x) < 0.5) {
    return x * (1.0 + x * (1.0 / 2.0 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0
      + x * (1.0 / 720.0 + x * (1.0 / 5040.0 + x * (1.0 / 40320.0 + x * (1.0 / 362880.0)))))))));
  }
  return exp_(x) - 1.0;
}
fn log1p_(x: f32) -> f32 {
  if (abs(x) < 0.5) {
    let s = x / (2.0 + x);
    let s2 = s * s;
    return 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0
      + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 * (1.0 / 15.0))))))));
  }
  return log_(1.0 + x);
}
fn tanh_(x: f32) -> f32 {
  if (isnan_(x)) { return x; }
  let e = expm1_(-2.0 * abs(x));
  let r = -e / (e + 2.0);
  return select(r, -r, x < 0.0);
}
// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7)
fn erf_(x: f32) -> f32 {
  if (isnan_(x)) { return x; }
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let r = 1.0 - p * exp_(-a * a);
  return select(r, -r, x < 0.0);
}
fn div_(x: f32, y: f32) -> f32 {
  if (y == 0.0 && !isnan_(x)) {
    if (x == 0.0) { return nan(); }
    return select(inf(), -inf(), signbit_(x) != signbit_(y));
  }
  if (isinf_(x) && isinf_(y)) { return nan(); }
  if (isinf_(y) && finite_(x)) { return select(0.0, -0.0, signbit_(x) != signbit_(y)); }
  return x / y;
}
fn max_(x: f32, y: f32) -> f32 { if (isnan_(x)) { return x; } if (isnan_(y)) { return y; } return select(y, x, x > y); }
fn min_(x: f32, y: f32) -> f32 { if (isnan_(x)) { return x; } if (isnan_(y)) { return y; } return select(y, x, x < y); }
fn gt_(x: f32, y: f32) -> f32 { return b2f(!isnan_(x) && !isnan_(y) && x > y); }
fn lt_(x: f32, y: f32) -> f32 { return b2f(!isnan_(x) && !isnan_(y) && x < y); }
fn eq_(x: f32, y: f32) -> f32 { return b2f(!isnan_(x) && !isnan_(y) && x == y); }
fn pow_(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (isnan_(x) || isnan_(y)) { return nan(); }
  let integral = finite_(y) && floor(y) == y;
  if (integral && abs(y) <= 64.0) {
    var b = x;
    if (y < 0.0) { b = div_(1.0, x); }
    var e = i32(abs(y));
    var r = 1.0;
    for (var k = 0; k < 7; k++) {
      if ((e & 1) == 1) { r = r * b; }
      e = e >> 1u;
      b = b * b;
    }
    return r;
  }
  if (isinf_(y)) {
    let ax = abs(x);
    if (ax == 1.0) { return 1.0; }
    if ((ax > 1.0) == (y > 0.0)) { return inf(); }
    return 0.0;
  }
  if (x == 0.0) { return select(inf(), 0.0, y > 0.0); }
  if (isinf_(x)) {
    if (x > 0.0) { return select(0.0, inf(), y > 0.0); }
    if (!integral) { return nan(); }
    let odd = abs(y - 2.0 * floor(y / 2.0)) == 1.0;
    let m = select(0.0, inf(), y > 0.0);
    return select(m, -m, odd);
  }
  if (x < 0.0) {
    if (!integral) { return nan(); }
    let m = exp2(y * log2(-x));
    return select(m, -m, abs(y - 2.0 * floor(y / 2.0)) == 1.0);
  }
  return exp2(y * log2(x));
}
fn atan2_(y: f32, x: f32) -> f32 {
  if (isnan_(x) || isnan_(y)) { return nan(); }
  if (x == 0.0 && y == 0.0) {
    if (signbit_(x)) { return select(3.141592653589793, -3.141592653589793, signbit_(y)); }
    return y;
  }
  if (isinf_(x) && isinf_(y)) { return select(0.7853981633974483, 2.356194490192345, x < 0.0) * select(1.0, -1.0, y < 0.0); }
  if (isinf_(x)) {
    if (x > 0.0) { return select(0.0, -0.0, signbit_(y)); }
    return select(3.141592653589793, -3.141592653589793, signbit_(y));
  }
  if (isinf_(y)) { return select(1.5707963267948966, -1.5707963267948966, y < 0.0); }
  if (x == 0.0) { return select(1.5707963267948966, -1.5707963267948966, y < 0.0); }
  let t = atan_(y / x);
  if (x > 0.0) { return t; }
  return select(t + 3.141592653589793, t - 3.141592653589793, signbit_(y));
}
fn isign(x: i32) -> i32 { return select(select(0, -1, x < 0), 1, x > 0); }
`

/** Unary primitives as WGSL over f32 `x`. */
export const unaryWgsl: Record<string, string> = {
  neg: "-x",
  exp: "exp_(x)",
  log: "log_(x)",
  sin: "sin_(x)",
  cos: "cos_(x)",
  tanh: "tanh_(x)",
  sqrt: "sqrt_(x)",
  abs: "abs(x)",
  sign: "sign_(x)",
  log1p: "log1p_(x)",
  expm1: "expm1_(x)",
  erf: "erf_(x)",
  floor: "floor(x)"
}

/** Binary primitives and comparisons as WGSL over f32 `x`, `y` (comparisons give 0 or 1). */
export const binaryWgsl: Record<string, string> = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "div_(x, y)",
  pow: "pow_(x, y)",
  max: "max_(x, y)",
  min: "min_(x, y)",
  atan2: "atan2_(x, y)",
  greater: "gt_(x, y)",
  less: "lt_(x, y)",
  equal: "eq_(x, y)"
}

/** Exact int32 formulas (i32 arithmetic wraps in WGSL, as the CPU's Int32Array stores do). */
export const intUnaryWgsl: Record<string, string> = { neg: "-x", abs: "abs(x)", sign: "isign(x)" }
export const intBinaryWgsl: Record<string, string> = { add: "x + y", sub: "x - y", mul: "x * y", max: "max(x, y)", min: "min(x, y)" }
/** Comparisons of int32 operands, exactly (f32 0 or 1: a bool). */
export const intCompareWgsl: Record<string, string> = { greater: "b2f(x > y)", less: "b2f(x < y)", equal: "b2f(x == y)" }

/** Substitutes the operands of an expression over x, y, z. */
export const substitute = (expr: string, names: ReadonlyArray<string>): string =>
  expr.replace(/\b[xyz]\b(?!\s*\()/g, (m) => names[{ x: 0, y: 1, z: 2 }[m as "x" | "y" | "z"]]!)
