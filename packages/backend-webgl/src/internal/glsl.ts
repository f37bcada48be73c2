/**
 * GLSL ES 3.00 building blocks shared by every kernel: the full-screen
 * vertex shader, the fragment prelude (input samplers with fetch helpers in
 * the flat layout of `layout.ts`), and float helpers (infinities, NaN, and
 * accurate expm1 / log1p / tanh / pow, which GPUs do not all provide well).
 */
import type { Layout } from "./layout.js"

/** One triangle covering the viewport; no vertex buffers (gl_VertexID). */
export const vertexShader = `#version 300 es
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}`

const log2 = (w: number): number => Math.round(Math.log2(w))

/** An input of a program: its layout and whether it is an int32 (RGBA32I) texture. */
export interface InputKind {
  readonly layout: Layout
  readonly int: boolean
}

/**
 * The fragment prelude: `A0..Ak` samplers, `texelK(t)` returning texel `t`
 * of input K and `elemK(i)` returning its element `i` as floats; for an
 * int32 input also `itexelK(t)` and `ielemK(i)`, its exact integers.
 * `outTexel()` is the index of the texel this fragment writes (in each of
 * `outputs` textures of the same size: `outColor`, or `outColor0..` for
 * several). With `outInt` the targets are int32 textures: a body that
 * writes `outColorI` (`outColorI0..`) gives exact integers; one that writes
 * `outColor` has it converted. The prelude depends only on the row widths
 * and the kinds, so a program's cache key is its body's key plus those.
 */
export const prelude = (inputs: ReadonlyArray<InputKind>, out: Layout, outputs = 1, outInt = false): string => {
  const names = outputs === 1 ? [""] : Array.from({ length: outputs }, (_, r) => String(r))
  const lines = [
    "#version 300 es",
    "precision highp float;",
    "precision highp int;",
    "precision highp sampler2D;",
    "precision highp isampler2D;",
    ...(outInt
      ? names.flatMap((r, i) => [`layout(location = ${i}) out highp ivec4 outColorI${r};`, `vec4 outColor${r};`])
      : outputs === 1
        ? ["out vec4 outColor;"]
        : names.map((r, i) => `layout(location = ${i}) out vec4 outColor${r};`))
  ]
  inputs.forEach(({ layout: l, int }, k) => {
    const lw = log2(l.width)
    const at = `ivec2(t & ${l.width - 1}, t >> ${lw})`
    if (int)
      lines.push(
        `uniform highp isampler2D A${k};`,
        `ivec4 itexel${k}(int t) { return texelFetch(A${k}, ${at}, 0); }`,
        `int ielem${k}(int i) { return itexel${k}(i >> 2)[i & 3]; }`,
        `vec4 texel${k}(int t) { return vec4(itexel${k}(t)); }`,
        `float elem${k}(int i) { return float(ielem${k}(i)); }`
      )
    else
      lines.push(
        `uniform sampler2D A${k};`,
        `vec4 texel${k}(int t) { return texelFetch(A${k}, ${at}, 0); }`,
        `float elem${k}(int i) { return texel${k}(i >> 2)[i & 3]; }`
      )
  })
  lines.push(`int outTexel() { return (int(gl_FragCoord.y) << ${log2(out.width)}) + int(gl_FragCoord.x); }`)
  return lines.join("\n") + "\n"
}

/** float → int32 as a store: truncating, saturating (a float32 holds no value between 2³¹ − 128 and 2³¹). */
const toIntStore = `ivec4 storeInt(vec4 v) {
  vec4 c = clamp(v, -2147483648.0, 2147483520.0);
  ivec4 r = ivec4(c);
  return ivec4(v.x >= 2147483647.0 ? 2147483647 : r.x, v.y >= 2147483647.0 ? 2147483647 : r.y,
               v.z >= 2147483647.0 ? 2147483647 : r.z, v.w >= 2147483647.0 ? 2147483647 : r.w);
}`

/**
 * The whole fragment shader: the prelude and the body. An int32 output of a
 * body that writes float `outColor` gets a `main` that converts it.
 */
export const fragmentSource = (inputs: ReadonlyArray<InputKind>, out: Layout, outputs: number, outInt: boolean, body: string): string => {
  const head = prelude(inputs, out, outputs, outInt)
  if (!outInt || body.includes("outColorI")) return head + body
  const names = outputs === 1 ? [""] : Array.from({ length: outputs }, (_, r) => String(r))
  return `${head}${body.replace("void main()", "void kernelMain()")}
${toIntStore}
void main() {
  kernelMain();
  ${names.map((r) => `outColorI${r} = storeInt(outColor${r});`).join(" ")}
}`
}

/**
 * A `main()` writing four consecutive output elements per texel, each from
 * a `float value(int e)` the kernel defines (elements at or past `size` are 0).
 */
export const mainOfValue = (size: number): string => `void main() {
  int e = outTexel() * 4;
  vec4 v = vec4(0.0);
  if (e < ${size}) v.x = value(e);
  if (e + 1 < ${size}) v.y = value(e + 1);
  if (e + 2 < ${size}) v.z = value(e + 2);
  if (e + 3 < ${size}) v.w = value(e + 3);
  outColor = v;
}`

/** Infinity and NaN built from bits (literals like 1.0/0.0 may be folded away). */
export const specials = `
const float INF = uintBitsToFloat(0x7f800000u);
const float NAN = uintBitsToFloat(0x7fc00000u);
`

/** Vectorised transcendental helpers with the CPU backend's edge cases. */
export const mathLib = `${specials}
vec4 logv(vec4 x) {
  vec4 r = log(max(x, vec4(1e-45)));
  r = mix(r, vec4(-INF), equal(x, vec4(0.0)));
  r = mix(r, vec4(INF), equal(x, vec4(INF)));
  return mix(r, vec4(NAN), lessThan(x, vec4(0.0)));
}
// x mod 2π with a two-part 2π (Cody-Waite), so sin / cos stay accurate for larger arguments
vec4 reduce2pi(vec4 x) {
  vec4 k = floor(x * 0.15915494309189535 + 0.5);
  return (x - k * 6.28125) - k * 0.0019353071795864769;
}
vec4 sqrtv(vec4 x) {
  return mix(sqrt(max(x, vec4(0.0))), vec4(NAN), lessThan(x, vec4(0.0)));
}
vec4 expm1v(vec4 x) {
  vec4 s = x * (1.0 + x * (1.0 / 2.0 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0
    + x * (1.0 / 720.0 + x * (1.0 / 5040.0 + x * (1.0 / 40320.0 + x * (1.0 / 362880.0)))))))));
  return mix(exp(x) - 1.0, s, lessThan(abs(x), vec4(0.5)));
}
vec4 log1pv(vec4 x) {
  vec4 s = x / (2.0 + x);
  vec4 s2 = s * s;
  vec4 series = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0
    + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 * (1.0 / 15.0))))))));
  return mix(logv(1.0 + x), series, lessThan(abs(x), vec4(0.5)));
}
vec4 tanhv(vec4 x) {
  vec4 e = expm1v(-2.0 * abs(x));
  vec4 r = -e / (e + 2.0);
  return mix(sign(x) * r, x, isnan(x));
}
float powf(float x, float y) {
  if (y == 0.0) return 1.0;
  if (isnan(x) || isnan(y)) return NAN;
  bool integral = floor(y) == y;
  if (integral && abs(y) <= 64.0) {
    // exact for integers: binary exponentiation
    float b = y < 0.0 ? 1.0 / x : x;
    int e = int(abs(y));
    float r = 1.0;
    for (int k = 0; k < 7; k++) {
      if ((e & 1) == 1) r *= b;
      e >>= 1;
      b *= b;
    }
    return r;
  }
  if (x == 0.0) return y > 0.0 ? 0.0 : INF;
  if (x < 0.0) {
    if (!integral) return NAN;
    float m = exp2(y * log2(-x));
    return mod(y, 2.0) == 1.0 ? -m : m;
  }
  return exp2(y * log2(x));
}
// erf with Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7)
vec4 erfv(vec4 x) {
  vec4 a = abs(x);
  vec4 t = 1.0 / (1.0 + 0.3275911 * a);
  vec4 p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  vec4 r = 1.0 - p * exp(-a * a);
  return mix(sign(x) * r, x, isnan(x));
}
float atan2f(float y, float x) {
  if (isnan(x) || isnan(y)) return NAN;
  if (x == 0.0 && y == 0.0) return (1.0 / x < 0.0) ? (1.0 / y < 0.0 ? -3.141592653589793 : 3.141592653589793) : y;
  if (isinf(x) && isinf(y)) return (x > 0.0 ? 0.7853981633974483 : 2.356194490192345) * sign(y);
  return atan(y, x);
}
vec4 atan2v(vec4 y, vec4 x) { return vec4(atan2f(y.x, x.x), atan2f(y.y, x.y), atan2f(y.z, x.z), atan2f(y.w, x.w)); }
vec4 toInt32(vec4 x) { return mix(trunc(x), vec4(0.0), isnan(x)); }
vec4 powv(vec4 x, vec4 y) { return vec4(powf(x.x, y.x), powf(x.y, y.y), powf(x.z, y.z), powf(x.w, y.w)); }
`
