/**
 * sin and cos for float32 results, written out so that a fused loop that
 * needs both sin(x) and cos(x) shares one range reduction (about as fast
 * as `Math.sin` alone, which V8 calls out of line).
 *
 * They compute in double precision: Cody–Waite range reduction (π/2 split
 * in three parts, exact for |x| < 10⁵) and Taylor polynomials whose
 * truncation error on [−π/4, π/4] is below 10⁻¹³, so that after rounding
 * to float32 they agree with `Math.fround(Math.sin(x))` except, at worst,
 * by one unit in the last place when the exact value lies within 10⁻¹³ of
 * a rounding boundary (none among the samples of the tests). For
 * |x| ≥ 10⁵, NaN and ±∞ they call `Math.*`. float64 keeps `Math.*`.
 *
 * Both the elementwise kernels and the fused loops use these for float32,
 * so fused and separate evaluation stay bit-identical.
 */

const TWO_OVER_PI = 2 / Math.PI
// π/2 = P1 + P2 + P3, P1 and P2 with trailing zero bits so q·P1, q·P2 are exact for |q| < 2¹⁷
const P1 = 1.5707963267341256
const P2 = 6.077100506506192e-11
const P3 = 2.0222662487959506e-21

/**
 * The source of a block computing the reduced argument of `v`: quadrant
 * `q` and r ∈ [−π/4, π/4] with v = q·π/2 + r, then `s` = sin r and `c` = cos r.
 */
const reduce = (v: string) => `
    const q = Math.round(${v} * ${TWO_OVER_PI})
    const r = q === 0 ? ${v} : ((${v} - q * ${P1}) - q * ${P2}) - q * ${P3}
    const z = r * r
    const s = z === 0 ? r : r + r * z * (${-1 / 6} + z * (${1 / 120} + z * (${-1 / 5040} + z * (${1 / 362880} + z * (${-1 / 39916800} + z * ${1 / 6227020800})))))
    const c = 1 + z * (${-1 / 2} + z * (${1 / 24} + z * (${-1 / 720} + z * (${1 / 40320} + z * (${-1 / 3628800} + z * (${1 / 479001600} + z * ${-1 / 87178291200}))))))
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
/** The float32 formulas of the elementwise kernels that differ from `unaryExpr` (functions in scope as sinF, cosF). */
export const float32Expr: Partial<Record<string, string>> = { sin: "sinF(x)", cos: "cosF(x)" }
