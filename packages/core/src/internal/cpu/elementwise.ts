/**
 * Elementwise CPU kernels on typed arrays. Real dtypes use loops compiled
 * once per (op, dtype) from a one-line expression, so every loop is
 * monomorphic; complex64 (interleaved re, im) has explicit formulas.
 */
import { allocHost, type DType, type HostArray } from "../../DType.js"
import { cosF, expF, float32Expr, sinF, tanhF } from "./fastmath.js"
import { alloc } from "./pool.js"
import { fusedThreshold } from "./fused-threads.js"
import { binaryF32Wasm } from "./fused-wasm.js"
import { erf as erfF } from "./special.js"

type Loop1 = (out: HostArray, a: HostArray, n: number) => void
type Loop2 = (out: HostArray, a: HostArray, b: HostArray, n: number) => void

const compile1 = (expr: string): Loop1 =>
  new Function("sinF", "cosF", "expF", "tanhF", "erfF", `return function (out, a, n) { for (let i = 0; i < n; i++) { const x = a[i]; out[i] = ${expr}; } }`)(sinF, cosF, expF, tanhF, erfF) as Loop1
const compile2 = (expr: string): Loop2 =>
  new Function("out", "a", "b", "n", `for (let i = 0; i < n; i++) { const x = a[i], y = b[i]; out[i] = ${expr}; }`) as Loop2

/** The real formulas (x, y are numbers; results are stored into the output's typed array). */
export const unaryExpr = {
  neg: "-x",
  exp: "Math.exp(x)",
  log: "Math.log(x)",
  sin: "Math.sin(x)",
  cos: "Math.cos(x)",
  tanh: "Math.tanh(x)",
  sqrt: "Math.sqrt(x)",
  abs: "Math.abs(x)",
  sign: "(x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : x)",
  log1p: "Math.log1p(x)",
  expm1: "Math.expm1(x)",
  erf: "erfF(x)",
  floor: "Math.floor(x)"
} as const

export const binaryExpr = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "x / y",
  pow: "Math.pow(x, y)",
  max: "(x > y || x !== x ? x : y)",
  min: "(x < y || x !== x ? x : y)",
  atan2: "Math.atan2(x, y)",
  greater: "((x > y) | 0)",
  less: "((x < y) | 0)",
  equal: "((x === y) | 0)"
} as const

/** int32 arithmetic wraps like C: `| 0` after the operation. */
const intBinaryExpr: Partial<Record<keyof typeof binaryExpr, string>> = {
  add: "(x + y) | 0",
  sub: "(x - y) | 0",
  mul: "Math.imul(x, y)"
}

const cache1 = new Map<string, Loop1>()
const cache2 = new Map<string, Loop2>()

/**
 * The formula of a unary op on `dtype`: float32 sin, cos, exp and tanh use the
 * float32 versions of `fastmath.ts` (the fused loops do the same).
 */
export const unaryFormula = (op: keyof typeof unaryExpr, dtype: DType): string =>
  (dtype === "float32" && float32Expr[op]) || unaryExpr[op]

export const unaryReal = (op: keyof typeof unaryExpr, a: HostArray, dtype: DType, outDtype: DType = dtype): HostArray => {
  // one loop per op and dtypes, so that each sees one array type
  const key = `${op}:${dtype}:${outDtype}`
  let loop = cache1.get(key)
  if (!loop) cache1.set(key, (loop = compile1(unaryFormula(op, dtype))))
  const out = alloc(outDtype, a.length)
  loop(out, a, a.length)
  return out
}

/** Both operands read as dense arrays (the access of binaryF32Wasm). */
const DENSE_PAIR = [{ kind: "d", off: 0, period: 0 }, { kind: "d", off: 0, period: 0 }] as const

export const binaryReal = (op: keyof typeof binaryExpr, a: HostArray, b: HostArray, dtype: DType, outDtype: DType): HostArray => {
  // float32 arithmetic of SINGLE_MIN elements or more (fused-wasm.ts): the WebAssembly kernel (the same bits)
  if (dtype === "float32" && outDtype === "float32" && a instanceof Float32Array && b instanceof Float32Array) {
    const out = binaryF32Wasm(op, [a, b], DENSE_PAIR, a.length, a.length, fusedThreshold())
    if (out !== undefined) return out
  }
  const isInt = dtype === "int32"
  const key = `${op}:${dtype}:${outDtype}`
  let loop = cache2.get(key)
  if (!loop) cache2.set(key, (loop = compile2((isInt && intBinaryExpr[op]) || binaryExpr[op])))
  const out = alloc(outDtype, a.length)
  loop(out, a, b, a.length)
  return out
}

// ---------------------------------------------------------------- complex64

type C = [number, number]
const cexp = (re: number, im: number): C => {
  const r = Math.exp(re)
  if (im === 0) return [r, im] // a real argument stays real (no ∞ · 0 = NaN when eʳᵉ overflows)
  return [r * Math.cos(im), r * Math.sin(im)]
}
const clog = (re: number, im: number): C => [Math.log(Math.hypot(re, im)), Math.atan2(im, re)]
const cmul = (a: number, b: number, c: number, d: number): C => [a * c - b * d, a * d + b * c]
const cdiv = (a: number, b: number, c: number, d: number): C => {
  // Smith's algorithm avoids overflow in |c + di|^2
  if (Math.abs(c) >= Math.abs(d)) {
    const r = d / c
    const den = c + d * r
    return [(a + b * r) / den, (b - a * r) / den]
  }
  const r = c / d
  const den = c * r + d
  return [(a * r + b) / den, (b * r - a) / den]
}
/** The principal square root (branch cut on the negative real axis, where the sign of a zero imaginary part picks the side). */
const csqrt = (re: number, im: number): C => {
  if (re === 0 && im === 0) return [0, im]
  if (im === Infinity || im === -Infinity) return [Infinity, im]
  const m = Math.hypot(re, im)
  // the larger part comes from (m ± re)/2 without cancellation, the other from im = 2·sr·si
  if (re >= 0) {
    const t = Math.sqrt((m + re) / 2)
    return [t, im / (2 * t)]
  }
  const t = Math.sqrt((m - re) / 2)
  return [Math.abs(im) / (2 * t), im < 0 || Object.is(im, -0) ? -t : t]
}

export const complexUnary: Record<string, (re: number, im: number) => C> = {
  neg: (re, im) => [-re, -im],
  exp: cexp,
  log: clog,
  sin: (re, im) => [Math.sin(re) * Math.cosh(im), Math.cos(re) * Math.sinh(im)],
  cos: (re, im) => [Math.cos(re) * Math.cosh(im), -Math.sin(re) * Math.sinh(im)],
  tanh: (re, im) => {
    // Kahan's formula: with t = tan b, β = 1 + t², s = sinh a, ρ = cosh a,
    // tanh(a + ib) = (β ρ s + i t) / (1 + β s²)
    if (Math.abs(re) > 22) {
      // cosh a overflows later; the imaginary part is 4 sin b cos b e^(−2|a|), tiny but not 0
      const e = Math.exp(-Math.abs(re))
      return [Math.sign(re), 4 * Math.sin(im) * Math.cos(im) * e * e]
    }
    const t = Math.tan(im)
    const beta = 1 + t * t
    const s = Math.sinh(re)
    const rho = Math.sqrt(1 + s * s)
    const den = 1 + beta * s * s
    return [(beta * rho * s) / den, t / den]
  },
  sqrt: csqrt,
  sign: (re, im) => {
    const m = Math.hypot(re, im)
    return m === 0 ? [0, 0] : [re / m, im / m]
  },
  log1p: (re, im) =>
    // near 0, |1 + z|² − 1 = re (2 + re) + im² keeps the digits that 1 + re would lose
    Math.hypot(re, im) < 0.5 ? [Math.log1p(re * (2 + re) + im * im) / 2, Math.atan2(im, 1 + re)] : clog(1 + re, im),
  expm1: (re, im) => {
    // e^a cos b − 1 = expm1(a) cos b − 2 sin²(b/2), accurate near 0
    if (im === 0) return [Math.expm1(re), im]
    const h = Math.sin(im / 2)
    return [Math.expm1(re) * Math.cos(im) - 2 * h * h, Math.exp(re) * Math.sin(im)]
  },
  conj: (re, im) => [re, -im]
}

export const complexBinary: Record<string, (a: number, b: number, c: number, d: number) => C> = {
  add: (a, b, c, d) => [a + c, b + d],
  sub: (a, b, c, d) => [a - c, b - d],
  mul: cmul,
  div: cdiv,
  pow: (a, b, c, d) => {
    // 0^w: 1 for w = 0, 0 when Re w > 0, ∞ when Re w < 0 (its phase undefined unless w is real)
    if (a === 0 && b === 0) return c === 0 && d === 0 ? [1, 0] : c > 0 ? [0, 0] : c < 0 ? [Infinity, d === 0 ? 0 : NaN] : [NaN, NaN]
    const [lr, li] = clog(a, b)
    const [er, ei] = cmul(lr, li, c, d)
    return cexp(er, ei)
  }
}

export const mapComplex1 = (f: (re: number, im: number) => C, a: Float32Array): Float32Array => {
  const out = new Float32Array(a.length)
  for (let i = 0; i < a.length; i += 2) {
    const [re, im] = f(a[i]!, a[i + 1]!)
    out[i] = re
    out[i + 1] = im
  }
  return out
}

export const mapComplex2 = (f: (a: number, b: number, c: number, d: number) => C, x: Float32Array, y: Float32Array): Float32Array => {
  const out = new Float32Array(x.length)
  for (let i = 0; i < x.length; i += 2) {
    const [re, im] = f(x[i]!, x[i + 1]!, y[i]!, y[i + 1]!)
    out[i] = re
    out[i + 1] = im
  }
  return out
}

/** Converts between dtypes (complex → real keeps the real part; float → int truncates). */
export const castHost = (a: HostArray, from: DType, to: DType): HostArray => {
  if (from === to) return a
  const n = from === "complex64" ? a.length / 2 : a.length
  const out = allocHost(to, n)
  if (from === "complex64") {
    for (let i = 0; i < n; i++) out[i] = to === "bool" ? (a[2 * i] !== 0 || a[2 * i + 1] !== 0 ? 1 : 0) : a[2 * i]!
  } else if (to === "complex64") {
    for (let i = 0; i < n; i++) out[2 * i] = a[i]!
  } else if (to === "bool") {
    for (let i = 0; i < n; i++) out[i] = a[i] !== 0 ? 1 : 0
  } else if (to === "int32") {
    // saturating, NaN → 0 (as JAX on CPU and GPU)
    for (let i = 0; i < n; i++) {
      const v = a[i]!
      out[i] = v !== v ? 0 : v >= 2147483647 ? 2147483647 : v <= -2147483648 ? -2147483648 : Math.trunc(v)
    }
  } else {
    out.set(a)
  }
  return out
}
