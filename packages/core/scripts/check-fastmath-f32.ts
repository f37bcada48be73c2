// Checks a float32 function of fastmath.ts against Math.* on every float32
// of its range: prints how many round to a different float32 than
// Math.fround(Math.f(x)), by how many units in the last place at most, and
// the largest relative difference before rounding (where the result is a
// normal float32).
//   node --import tsx packages/core/scripts/check-fastmath-f32.ts tanh|exp|sin|cos [step]
// Ranges: tanh every positive float32 up to 10 (1.09 · 10⁹; beyond, both
// round to 1, and tanhF is odd by construction; about 30 s here); exp every
// float32 in [−105, 89] (2.24 · 10⁹; beyond, both are 0 or ∞ in float32);
// sin and cos every float32 with |x| < 10⁵ (2.4 · 10⁹; beyond, they call
// Math.sin and Math.cos). step > 1 checks every step-th float32 only.
// Exits with 1 where tanh differs anywhere (its documented contract: the
// float32 of Math.tanh for every input); exp, sin and cos are documented
// to within one unit in the last place, and exit with 1 beyond it.
import { cosF, expF, sinF, tanhF } from "../src/internal/cpu/fastmath.js"

const fns = {
  tanh: { f: tanhF, ref: Math.tanh, lo: 0, hi: 10, exact: true },
  exp: { f: expF, ref: Math.exp, lo: -105, hi: 89, exact: false },
  sin: { f: sinF, ref: Math.sin, lo: -1e5, hi: 1e5, exact: false },
  cos: { f: cosF, ref: Math.cos, lo: -1e5, hi: 1e5, exact: false }
} as const
const name = process.argv[2] as keyof typeof fns
const fn = fns[name]
if (fn === undefined) {
  console.error(`usage: check-fastmath-f32.ts ${Object.keys(fns).join("|")} [step]`)
  process.exit(2)
}
const step = Number(process.argv[3] ?? 1)
const F = new Float32Array(2)
const U = new Uint32Array(F.buffer)
/** Units in the last place between two float32 of one sign (their bit patterns as integers). */
const ulps = (a: number, b: number): number => {
  F[0] = a
  F[1] = b
  return Math.abs(U[0]! - U[1]!)
}
let checked = 0
let differ = 0
let worstUlps = 0
let worst = 0
const check = (x: number) => {
  checked++
  const want = fn.ref(x)
  const got = fn.f(x)
  const a = Math.fround(got), b = Math.fround(want)
  if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) {
    differ++
    const d = Math.sign(a) === Math.sign(b) ? ulps(a, b) : Infinity
    if (d > worstUlps) worstUlps = d
    if (differ <= 5) console.log(`x = ${x}: ${name}F ${got}, Math.${name} ${want} (${d} ulp apart in float32)`)
  }
  // relative differences where the result is a normal float32 (the clamped ranges of exp are 0 or ∞ either way)
  if (Math.abs(b) >= 2 ** -126 && Number.isFinite(b)) {
    const rel = Math.abs(got - want) / Math.abs(want)
    if (rel > worst) worst = rel
  }
}
// the non-negative float32 below the range's bound, in order of their bits, each with its negation where the range has it
const bound = Math.max(Math.abs(fn.lo), fn.hi)
for (let u = 0; ; u += step) {
  U[0] = u
  const x = F[0]!
  if (x >= bound) break
  if (x < fn.hi) check(x)
  if (fn.lo < 0 && x > 0 && -x > fn.lo) check(-x)
}
console.log(`${name}: ${checked} float32 checked, ${differ} round differently (at most ${worstUlps} ulp), largest relative difference ${worst.toExponential(2)}`)
process.exitCode = (fn.exact ? differ === 0 : worstUlps <= 1) ? 0 : 1
