// Checks fastmath.ts's float32 tanh against Math.tanh on every positive
// float32 up to 10 (1.09 · 10⁹ of them, about 40 s here; beyond 10 both
// round to 1, and tanhF is odd by construction): prints how many round to
// a different float32 and the largest relative difference before rounding.
//   node --import tsx packages/core/scripts/check-tanh-f32.ts [step]
// (step > 1 checks every step-th float32 only.)
import { tanhF } from "../src/internal/cpu/fastmath.js"

const step = Number(process.argv[2] ?? 1)
const F = new Float32Array(1)
const U = new Uint32Array(F.buffer)
let checked = 0
let differ = 0
let worst = 0
for (let u = 1; ; u += step) {
  U[0] = u
  const x = F[0]!
  if (x > 10) break
  checked++
  const want = Math.tanh(x)
  const got = tanhF(x)
  if (Math.fround(got) !== Math.fround(want)) {
    differ++
    if (differ <= 10) console.log(`x = ${x}: tanhF ${got}, Math.tanh ${want}`)
  }
  const rel = Math.abs(got - want) / want
  if (rel > worst) worst = rel
}
console.log(`${checked} float32 checked, ${differ} round differently, largest relative difference ${worst.toExponential(2)}`)
process.exitCode = differ === 0 ? 0 : 1
