/**
 * Special functions the JavaScript Math object lacks, in float64.
 *
 * erf: for |x| < 2.5 the series erf x = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)),
 * whose terms are all positive (no cancellation); beyond, 1 − erfc x with erfc from
 * its continued fraction (modified Lentz), which converges fast there.
 */

const TWO_OVER_SQRT_PI = 1.1283791670955126
const ONE_OVER_SQRT_PI = 0.5641895835477563

const erfSeries = (x: number): number => {
  const x2 = x * x
  let term = x
  let sum = x
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1)
    sum += term
    if (term < sum * 1e-17) break
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum
}

/** erfc(x) for x ≥ 2.5: e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))). */
const erfcFraction = (x: number): number => {
  const tiny = 1e-300
  let f = x
  let c = x
  let d = 0
  for (let k = 1; k < 300; k++) {
    const a = k / 2
    d = x + a * d
    d = d === 0 ? tiny : 1 / d
    c = x + a / c
    if (c === 0) c = tiny
    const delta = c * d
    f *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f
}

/** The error function, accurate to a few ulps in float64. */
export const erf = (x: number): number => {
  if (x !== x) return x
  const a = Math.abs(x)
  if (a < 2.5) return x < 0 ? -erfSeries(a) : erfSeries(a)
  if (a > 6) return x > 0 ? 1 : -1
  const r = 1 - erfcFraction(a)
  return x > 0 ? r : -r
}
