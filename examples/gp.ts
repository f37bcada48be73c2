/**
 * Gaussian-process regression with diffect's `Linalg`:
 *
 * 1. The gradient of a Gaussian negative log-likelihood with respect to its
 *    covariance matrix (the README's snippet), checked against the closed form.
 * 2. A GP with an RBF kernel on noisy samples of sin(2x) generated here; its
 *    three hyperparameters (log lengthscale, log signal and noise scales)
 *    are `TrainVar`s fitted by Adam on the gradient of the log marginal
 *    likelihood, computed with `cholesky` and `solveTriangular`. The
 *    posterior mean then predicts held-out points.
 *
 * Run: `node --import tsx examples/gp.ts` (`DIFFECT_EXAMPLE_FAST=1`: fewer steps).
 */
import { Effect } from "effect"
import { Linalg, Random, Tensor, TrainVar, Variable } from "@diffect/core"
import { grad, valueAndGrad } from "@diffect/transforms"

const FAST = process.env.DIFFECT_EXAMPLE_FAST === "1"
const STEPS = FAST ? 60 : 200
const f64 = { dtype: "float64" as const }
type T = Tensor.Tensor

// ------------------------------------------------------------------ 1. the gradient of a Gaussian likelihood

const covarianceGradient = Effect.gen(function* () {
  const k = Tensor.make([[2, 0.5], [0.5, 1]], { dtype: "float64" })
  const y = Tensor.make([1, -1], { dtype: "float64" })
  const nll = (k: Tensor.Tensor) => {
    const l = Linalg.cholesky(k) // k = l lᵀ
    const alpha = Linalg.solveTriangular(l, y, { lower: true })
    return Tensor.add(Tensor.mul(Tensor.sum(Tensor.square(alpha)), 0.5), Linalg.slogdet(l)[1]) // ½ yᵀk⁻¹y + ½ log det k
  }
  const dk = yield* grad(nll)(k) // symmetric: ½ (k⁻¹ − k⁻¹ y yᵀ k⁻¹)

  const kinv = Linalg.inv(k)
  const kinvY = Tensor.matmul(kinv, Tensor.reshape(y, [2, 1]))
  const closedForm = Tensor.mul(Tensor.sub(kinv, Tensor.matmul(kinvY, Tensor.transpose(kinvY))), 0.5)
  const err = yield* Tensor.item(Tensor.max(Tensor.abs(Tensor.sub(dk, closedForm))))
  console.log(`dNLL/dK: ${JSON.stringify(yield* Tensor.toArray(dk))} (max difference from the closed form ${err.toExponential(1)})`)
})

// ------------------------------------------------------------------ 2. GP regression

/** Squared distances between the points of two vectors, [n, m]. */
const sqdist = (a: T, b: T) => Tensor.square(Tensor.sub(Tensor.expandDims(a, 1), Tensor.expandDims(b, 0)))

/** The RBF kernel σ² exp(−d² / 2ℓ²). */
const rbf = (a: T, b: T, logEll: T, logSigma: T) =>
  Tensor.mul(Tensor.exp(Tensor.mul(logSigma, 2)), Tensor.exp(Tensor.div(sqdist(a, b), Tensor.mul(Tensor.exp(Tensor.mul(logEll, 2)), -2))))

interface Hyper {
  readonly logEll: Variable.Variable<T>
  readonly logSigma: Variable.Variable<T>
  readonly logNoise: Variable.Variable<T>
}

/** −log p(y | x, θ) = ½ yᵀ K⁻¹ y + Σ log Lᵢᵢ + (n/2) log 2π, with K = L Lᵀ. */
const negLogMarginal = (h: Hyper, x: T, y: T) =>
  Effect.gen(function* () {
    const [logEll, logSigma, logNoise] = [yield* Variable.get(h.logEll), yield* Variable.get(h.logSigma), yield* Variable.get(h.logNoise)]
    const n = x.shape[0]!
    const k = Tensor.add(rbf(x, x, logEll, logSigma), Tensor.mul(Tensor.eye(n, n, f64), Tensor.exp(Tensor.mul(logNoise, 2))))
    const l = Linalg.cholesky(k)
    const alpha = Linalg.solveTriangular(l, y, { lower: true }) // L⁻¹ y
    const logDet = Linalg.slogdet(l)[1] // Σ log Lᵢᵢ = ½ log det K
    return Tensor.add(Tensor.add(Tensor.mul(Tensor.sum(Tensor.square(alpha)), 0.5), logDet), (n / 2) * Math.log(2 * Math.PI))
  })

/** The posterior mean at `xs`: K(xs, x) K⁻¹ y, by two triangular solves. */
const posteriorMean = (h: Hyper, x: T, y: T, xs: T) =>
  Effect.gen(function* () {
    const [logEll, logSigma, logNoise] = [yield* Variable.get(h.logEll), yield* Variable.get(h.logSigma), yield* Variable.get(h.logNoise)]
    const n = x.shape[0]!
    const k = Tensor.add(rbf(x, x, logEll, logSigma), Tensor.mul(Tensor.eye(n, n, f64), Tensor.exp(Tensor.mul(logNoise, 2))))
    const l = Linalg.cholesky(k)
    const kInvY = Linalg.solveTriangular(l, Linalg.solveTriangular(l, y, { lower: true }), { lower: true, transpose: true })
    return Tensor.matmul(rbf(xs, x, logEll, logSigma), kInvY)
  })

const regression = Effect.gen(function* () {
  const key = yield* Random.key(7)
  const n = 40
  const x = Tensor.cast(yield* Random.uniform(key, [n], { minval: -3, maxval: 3 }), "float64")
  const noise = Tensor.cast(yield* Random.normal(key, [n], { stddev: 0.1 }), "float64")
  const y = Tensor.add(Tensor.sin(Tensor.mul(x, 2)), noise)
  const xs = Tensor.linspace(-2.5, 2.5, 11, f64)
  const truth = Tensor.sin(Tensor.mul(xs, 2))

  const h: Hyper = {
    logEll: yield* TrainVar.make(Tensor.make(Math.log(3), f64)),
    logSigma: yield* TrainVar.make(Tensor.make(0, f64)),
    logNoise: yield* TrainVar.make(Tensor.make(Math.log(0.5), f64))
  }
  const vars = [h.logEll, h.logSigma, h.logNoise]
  const lossAndGrads = valueAndGrad(() => negLogMarginal(h, x, y), { gradVars: vars })

  const rmse = (pred: T) => Tensor.item(Tensor.sqrt(Tensor.mean(Tensor.square(Tensor.sub(pred, truth)))))
  console.log(`before fitting: NLL ${(yield* Tensor.item(yield* negLogMarginal(h, x, y))).toFixed(3)}, test RMSE ${(yield* rmse(yield* posteriorMean(h, x, y, xs))).toFixed(3)}`)

  // Adam on the three log-hyperparameters
  const lr = 0.05, b1 = 0.9, b2 = 0.999, eps = 1e-8
  const m = vars.map(() => 0), v = vars.map(() => 0)
  for (let step = 1; step <= STEPS; step++) {
    const [loss, grads] = yield* lossAndGrads()
    for (let i = 0; i < vars.length; i++) {
      const g = yield* Tensor.item(grads[i]!)
      m[i] = b1 * m[i]! + (1 - b1) * g
      v[i] = b2 * v[i]! + (1 - b2) * g * g
      const update = (lr * (m[i]! / (1 - b1 ** step))) / (Math.sqrt(v[i]! / (1 - b2 ** step)) + eps)
      yield* Variable.update(vars[i]!, (p) => Tensor.sub(p, update))
    }
    if (step % (STEPS / 4) === 0) console.log(`step ${step}: NLL ${(yield* Tensor.item(loss)).toFixed(3)}`)
  }

  const value = (v: Variable.Variable<T>) => Effect.flatMap(Variable.get(v), (t) => Tensor.item(Tensor.exp(t)))
  console.log(
    `fitted: lengthscale ${(yield* value(h.logEll)).toFixed(3)}, signal ${(yield* value(h.logSigma)).toFixed(3)}, noise ${(yield* value(h.logNoise)).toFixed(3)}`
  )
  console.log(`after fitting: NLL ${(yield* Tensor.item(yield* negLogMarginal(h, x, y))).toFixed(3)}, test RMSE ${(yield* rmse(yield* posteriorMean(h, x, y, xs))).toFixed(3)}`)
})

Effect.runPromise(Effect.andThen(covarianceGradient, regression)).catch((e) => {
  console.error(e)
  process.exit(1)
})
