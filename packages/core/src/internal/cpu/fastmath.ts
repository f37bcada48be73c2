/**
 * sin, cos and exp for float32 results. The WebAssembly kernels
 * (`assembly/kernels.ts`, two lanes of doubles at a time) run exactly these
 * operations, so large arrays (WebAssembly) and small ones (these
 * functions) give the same bits; a fused loop with both sin(x) and cos(x)
 * shares one range reduction.
 *
 * They compute in double precision: Cody–Waite range reduction (π/2 split
 * in three parts, exact for |x| < 10⁵) and Taylor polynomials whose
 * truncation error on [−π/4, π/4] is below 10⁻¹³, so that after rounding
 * to float32 they agree with `Math.fround(Math.sin(x))` except, at worst,
 * by one unit in the last place when the exact value lies within 10⁻¹³ of
 * a rounding boundary: on every float32 of their ranges (the repository's
 * check-fastmath-f32 script in packages/core/scripts, 6 Dec 2026), sin differs
 * from Math.sin's float32 for 6 of the 2.4 · 10⁹ with |x| < 10⁵, cos for 2,
 * exp from Math.exp's for 2 of the 2.24 · 10⁹ in [−105, 89], each by one
 * unit; tanh for none. For |x| ≥ 10⁵, NaN and ±∞ sin and cos call
 * `Math.*`. float64 keeps `Math.*`.
 *
 * Every polynomial is evaluated by Estrin's scheme (pairs of terms, then
 * pairs of pairs with the square, fourth and eighth powers): the chain of
 * dependent operations is a half to a third of Horner's, which the two-lane
 * WebAssembly kernels turn into throughput (sin and cos 1.07×, exp 1.2×,
 * tanh 1.3×). Each gives the same float32 for every input as Horner's order
 * did (6 Dec 2026: sin and cos compared on all 2.4 · 10⁹ float32 with
 * |x| < 10⁵, exp on all 2.24 · 10⁹ in [−105, 89], tanh against Math.tanh).
 *
 * Both the elementwise kernels and the fused loops use these for float32,
 * so fused and separate evaluation stay bit-identical.
 */

const TWO_OVER_PI = 2 / Math.PI
/** 1.5 · 2⁵²: (t + ROUND) − ROUND rounds |t| < 2⁵¹ to the nearest integer, ties to even (as WebAssembly's `nearest`). */
const ROUND = 6755399441055744
// π/2 = P1 + P2 + P3, P1 and P2 with trailing zero bits so q·P1, q·P2 are exact for |q| < 2¹⁷
const P1 = 1.5707963267341256
const P2 = 6.077100506506192e-11
const P3 = 2.0222662487959506e-21

/**
 * The source of a block computing the reduced argument of `v`: quadrant
 * `q` and r ∈ [−π/4, π/4] with v = q·π/2 + r, then `s` = sin r and `c` = cos r.
 */
const reduce = (v: string) => `
    const q = (${v} * ${TWO_OVER_PI} + ${ROUND}) - ${ROUND}
    const r = q === 0 ? ${v} : ((${v} - q * ${P1}) - q * ${P2}) - q * ${P3}
    const z = r * r
    const z2 = z * z, z4 = z2 * z2
    const s = z === 0 ? r : r + r * z * (((${-1 / 6} + z * ${1 / 120}) + z2 * (${-1 / 5040} + z * ${1 / 362880})) + z4 * (${-1 / 39916800} + z * ${1 / 6227020800}))
    const c = 1 + z * (((${-1 / 2} + z * ${1 / 24}) + z2 * (${-1 / 720} + z * ${1 / 40320})) + z4 * ((${-1 / 3628800} + z * ${1 / 479001600}) + z2 * ${-1 / 87178291200}))
    const o = q & 3`

/** Source of statements setting `sinOut` and/or `cosOut` (declared by the caller) from `v`. */
export const sinCosSource = (v: string, sinOut: string | undefined, cosOut: string | undefined): string => `
  if (${v} < 1e5 && ${v} > -1e5) {${reduce(v)}
    ${sinOut !== undefined ? `${sinOut} = o === 0 ? s : o === 1 ? c : o === 2 ? -s : -c` : ""}
    ${cosOut !== undefined ? `${cosOut} = o === 0 ? c : o === 1 ? -s : o === 2 ? -c : s` : ""}
  } else {
    ${sinOut !== undefined ? `${sinOut} = Math.sin(${v})` : ""}
    ${cosOut !== undefined ? `${cosOut} = Math.cos(${v})` : ""}
  }`

// The same as functions, for the elementwise kernels.
export const sinF = new Function("x", `let y; ${sinCosSource("x", "y", undefined)}; return y`) as (x: number) => number
export const cosF = new Function("x", `let y; ${sinCosSource("x", undefined, "y")}; return y`) as (x: number) => number
const LOG2E = Math.LOG2E
const LN2_HI = 0.6931471803691238
const LN2_LO = 1.9082149292705877e-10
/** 2^k for k in [−1050, 1050). */
const POW2 = new Float64Array(2100)
for (let k = -1050; k < 1050; k++) POW2[k + 1050] = Math.pow(2, k)

/** Source of k = nearest(v · log₂e) and r = v − k·ln 2 (ln 2 in two parts): the reduction of expF and tanhF. */
const ln2Reduce = (v: string): string => `const k = (${v} * ${LOG2E} + ${ROUND}) - ${ROUND}
    const r = (${v} - k * ${LN2_HI}) - k * ${LN2_LO}`

/**
 * e^x for float32 results: x clamped to [−104, 88.8] (beyond it the float32
 * result is 0 or ∞ either way), k = nearest(x · log₂e), r = x − k·ln 2 in
 * two parts, a degree-11 Taylor polynomial (error below 10⁻¹⁴), times 2^k.
 * (Estrin's scheme: 8 dependent operations instead of Horner's 23.)
 */
export const expF = new Function(
  "POW2",
  `return function expF(x) {
    const xc = x > 88.8 ? 88.8 : x < -104 ? -104 : x
    ${ln2Reduce("xc")}
    const r2 = r * r, r4 = r2 * r2, r8 = r4 * r4
    const p0 = 1 + r, p2 = 0.5 + r * ${1 / 6}, p4 = ${1 / 24} + r * ${1 / 120}
    const p6 = ${1 / 720} + r * ${1 / 5040}, p8 = ${1 / 40320} + r * ${1 / 362880}, p10 = ${1 / 3628800} + r * ${1 / 39916800}
    const p = ((p0 + r2 * p2) + r4 * (p4 + r2 * p6)) + r8 * (p8 + r2 * p10)
    return p * POW2[k + 1050]
  }`
)(POW2) as (x: number) => number

/**
 * tanh for float32 results, in double precision: m = eʸ − 1 for y = 2|x|,
 * reduced as expF reduces (y = k·ln 2 + r, y clamped at 88.8, where the
 * result is 1 in double precision) with eʳ − 1 by its Taylor polynomial to
 * r¹³ (error below 10⁻¹⁷ on |r| ≤ ln 2 / 2; evaluated by Estrin's scheme as
 * in expF), m = (eʳ − 1)·2ᵏ + (2ᵏ − 1),
 * and tanh = m / (m + 2); the sign and ±0 of x restored, NaN kept. Within
 * 7 · 10⁻¹⁶ of Math.tanh, it rounds to the float32 of
 * `Math.fround(Math.tanh(x))` for every float32 x: every positive float32
 * up to 10 checked, 1.09 · 10⁹ of them (`node --import tsx
 * packages/core/scripts/check-fastmath-f32.ts tanh`, 30 s; beyond 10 both are 1);
 * the tests check a sample and the odd symmetry.
 * The WebAssembly kernels run the same operations.
 */
export const tanhF = new Function(
  "POW2",
  `return function tanhF(x) {
    const a = Math.abs(x)
    const y = a + a
    const yc = y < 88.8 ? y : 88.8
    ${ln2Reduce("yc")}
    const r2 = r * r, r4 = r2 * r2, r8 = r4 * r4
    const p0 = 1 + r * ${1 / 2}, p2 = ${1 / 6} + r * ${1 / 24}, p4 = ${1 / 120} + r * ${1 / 720}
    const p6 = ${1 / 5040} + r * ${1 / 40320}, p8 = ${1 / 362880} + r * ${1 / 3628800}, p10 = ${1 / 39916800} + r * ${1 / 479001600}
    const q0 = p0 + r2 * p2, q4 = p4 + r2 * p6, q8 = p8 + r2 * p10
    const q = r * ((q0 + r4 * q4) + r8 * (q8 + r4 * ${1 / 6227020800}))
    const s = POW2[k + 1050]
    const m = q * s + (s - 1)
    const t = m / (m + 2)
    return x < 0 ? -t : x > 0 ? t : x
  }`
)(POW2) as (x: number) => number

/** The float32 formulas of the elementwise kernels that differ from `unaryExpr` (functions in scope as sinF, cosF, expF, tanhF). */
export const float32Expr: Partial<Record<string, string>> = { sin: "sinF(x)", cos: "cosF(x)", exp: "expF(x)", tanh: "tanhF(x)" }
