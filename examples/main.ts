/**
 * diffect in five minutes (`npm start`).
 *
 * 1. Two spirals, generated in code from a seeded `Random` key.
 * 2. A small MLP made of `@diffect/nn` layers (its parameters are
 *    `TrainVar`s), trained with `Optim.adam`, whose moments and step count
 *    are `Variable`s too; the step is `jit`ted (traced once, then
 *    replayed) and `Train.loop` shows the progress.
 * 3. A checkpoint of every Variable (parameters and Adam's state) saved as
 *    JSON with `Codec`, restored into a fresh model; a mismatched restore is
 *    a typed `ShapeError`, caught with `catchTag`.
 * 4. Newton's method with `hessian` on a logistic regression of 2 features.
 *
 * `DIFFECT_EXAMPLE_FAST=1` shortens training (used by the test suite).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { CpuBackend, Random, Tensor, TrainVar, Variable } from "@diffect/core"
import * as Codec from "@diffect/core/Codec"
import { grad, hessian, jit } from "@diffect/transforms"
import { Init, Layer, Loss, Metrics, Module, Optim, Train } from "@diffect/nn"

const FAST = process.env.DIFFECT_EXAMPLE_FAST === "1"
const STEPS = FAST ? 250 : 1000
const TURNS = 2 // how many times each arm winds around
const NOISE = 0.04

// ------------------------------------------------------------------ data

/** `n` points per class on two interleaved spirals, with a little Gaussian noise. */
const twoSpirals = (key: Random.Key, n: number) =>
  Effect.gen(function* () {
    const r = Tensor.linspace(0.1, 1, n) // the radius grows along each arm
    const arms: Tensor.Tensor[] = []
    for (const arm of [0, 1]) {
      const angle = Tensor.add(Tensor.mul(r, TURNS * 2 * Math.PI), arm * Math.PI) // TURNS turns; arm 1 is arm 0 rotated by π
      const xy = Tensor.concat([Tensor.expandDims(Tensor.mul(r, Tensor.cos(angle)), 1), Tensor.expandDims(Tensor.mul(r, Tensor.sin(angle)), 1)], 1)
      const noise = yield* Random.normal(key, [n, 2], { stddev: NOISE })
      arms.push(Tensor.add(xy, noise))
    }
    const x = Tensor.concat(arms) // [2n, 2]
    const y = Tensor.concat([Tensor.zeros([n]), Tensor.ones([n])]) // [2n]: the arm of each point
    return { x, y }
  })

// ------------------------------------------------------------------ model

const HIDDEN = 32

// #region spirals-model
/** An MLP 2-32-32-1 whose parameters are TrainVars (a large first-layer scale: spirals need many wiggles). */
const makeModel = (key: Random.Key) =>
  Effect.gen(function* () {
    return yield* Layer.sequential(
      yield* Layer.linear(key, 2, HIDDEN, { init: Init.normal(4 / Math.sqrt(2)) }),
      Layer.fn(Tensor.tanh),
      yield* Layer.linear(key, HIDDEN, HIDDEN, { init: Init.normal(1 / Math.sqrt(HIDDEN)) }),
      Layer.fn(Tensor.tanh),
      yield* Layer.linear(key, HIDDEN, 1, { init: Init.normal(1 / Math.sqrt(HIDDEN)) })
    )
  })
// #endregion

type Model = Effect.Success<ReturnType<typeof makeModel>>

/** The logits of the positive class, one per point. */
const logits = (model: Model, x: Tensor.Tensor) => Effect.map(model.apply(x), (z) => Tensor.reshape(z, [-1]))

// ------------------------------------------------------------------ a picture

/** Draws the decision regions on a character grid over the data's bounding box, with the training points on top. */
const plot = (model: Model, data: { readonly x: Tensor.Tensor; readonly y: Tensor.Tensor }, cols = 56, rows = 22) =>
  Effect.gen(function* () {
    const [xs, ys] = [yield* Tensor.data(data.x), yield* Tensor.data(data.y)]
    const px = xs.filter((_, i) => i % 2 === 0), py = xs.filter((_, i) => i % 2 === 1)
    const [x0, x1, y0, y1] = [Math.min(...px) - 0.05, Math.max(...px) + 0.05, Math.min(...py) - 0.05, Math.max(...py) + 0.05]
    const cx = Tensor.linspace(x0, x1, cols), cy = Tensor.linspace(y1, y0, rows) // rows top to bottom
    const grid = Tensor.concat([Tensor.reshape(Tensor.broadcastTo(Tensor.expandDims(cx, 0), [rows, cols]), [-1, 1]), Tensor.reshape(Tensor.broadcastTo(Tensor.expandDims(cy, 1), [rows, cols]), [-1, 1])], 1)
    const region = yield* Tensor.data(Tensor.greater(yield* logits(model, grid), 0)) // one batched call for the whole grid
    const cells: string[] = Array.from(region, (r) => (r ? ":" : " "))
    for (let i = 0; i < ys.length; i++) {
      const c = Math.round(((px[i]! - x0) / (x1 - x0)) * (cols - 1)), r = Math.round(((y1 - py[i]!) / (y1 - y0)) * (rows - 1))
      cells[r * cols + c] = ys[i] ? "x" : "o"
    }
    const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined
    const paint = (ch: string) => (!color ? ch : ch === "o" ? "\x1b[36mo\x1b[0m" : ch === "x" ? "\x1b[33mx\x1b[0m" : `\x1b[2m${ch}\x1b[0m`)
    for (let r = 0; r < rows; r++) console.log("  " + cells.slice(r * cols, (r + 1) * cols).map(paint).join(""))
    console.log(`  o: arm 0, x: arm 1, ':' where the model says arm 1`)
  })

// ------------------------------------------------------------------ training

const classifier = Effect.gen(function* () {
  const key = yield* Random.key(0)
  const train = yield* twoSpirals(key, 200)
  const test = yield* twoSpirals(key, 100) // fresh noise, other radii
  console.log(`Two spirals: ${train.x.shape[0]} training points, ${test.x.shape[0]} test points; MLP 2-${HIDDEN}-${HIDDEN}-1, Adam`)
  // #region spirals-train
  const model = yield* makeModel(key)
  const params = Module.trainVars(model.params) // { "0.w", "0.b", "2.w", ... }
  const adam = yield* Optim.adam(params, { lr: 0.02 })
  const loss = () => Effect.map(logits(model, train.x), (z) => Loss.sigmoidBinaryCrossEntropy(z, train.y))
  const step = jit(() => Optim.minimize(adam, loss)) // traced once, then replayed
  const run = yield* Train.loop(step, { steps: STEPS, every: 10 })
  // #endregion
  const accuracy = (data: { readonly x: Tensor.Tensor; readonly y: Tensor.Tensor }, m: Model = model) =>
    Effect.flatMap(logits(m, data.x), (z) => Tensor.item(Metrics.accuracy(z, data.y)))

  console.log(`trained ${run.steps} steps in ${run.seconds.toFixed(1)} s (${((run.seconds * 1000) / run.steps).toFixed(1)} ms/step)`)
  const testAcc = yield* accuracy(test)
  console.log(`train accuracy: ${((yield* accuracy(train)) * 100).toFixed(1)}%`)
  console.log(`test accuracy: ${(testAcc * 100).toFixed(1)}%`)
  yield* plot(model, train)

  // ---- checkpoint: every Variable (the parameters and Adam's moments and step) as JSON, restored into a fresh model
  const file = path.join(os.tmpdir(), `diffect-spirals-${process.pid}.json`)
  // #region spirals-checkpoint
  const checkpoint = yield* Codec.saveVariables({ ...params, ...adam.state })
  // #endregion
  yield* Effect.sync(() => fs.writeFileSync(file, JSON.stringify(checkpoint)))
  const fresh = yield* makeModel(yield* Random.key(123))
  const saved: unknown = yield* Effect.sync(() => JSON.parse(fs.readFileSync(file, "utf8")))
  yield* Codec.restoreVariables(Module.trainVars(fresh.params), saved, { strict: false }) // only the parameters; Adam's state stays in the file
  console.log(`checkpoint: ${(fs.statSync(file).size / 1024).toFixed(0)} KiB written to ${file}`)
  console.log(`restored into a fresh model: test accuracy ${((yield* accuracy(test, fresh)) * 100).toFixed(1)}%`)
  yield* Effect.sync(() => fs.rmSync(file))

  // ---- errors are values: restoring into a model of another size is a typed failure, nothing is written
  const small = { "0.w": yield* TrainVar.make(Tensor.zeros([2, 16])) }
  const message = yield* Codec.restoreVariables(small, saved, { strict: false }).pipe(
    Effect.as("restored"),
    Effect.catchTag("ShapeError", (e) => Effect.succeed(`ShapeError: ${e.message}`))
  )
  console.log(`restore into a 16-unit layer: ${message}`)
  return testAcc
})

// ------------------------------------------------------------------ Newton's method with hessian

/** Solves the small dense system A x = b on the host (Gaussian elimination, partial pivoting). */
const solve = (A: Tensor.Tensor, b: Tensor.Tensor) =>
  Effect.gen(function* () {
    const n = b.size
    const a = Float64Array.from(yield* Tensor.data(A))
    const x = Float64Array.from(yield* Tensor.data(b))
    for (let c = 0; c < n; c++) {
      let p = c
      for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]!) > Math.abs(a[p * n + c]!)) p = r
      for (let k = 0; k < n; k++) [a[c * n + k], a[p * n + k]] = [a[p * n + k]!, a[c * n + k]!]
      ;[x[c], x[p]] = [x[p]!, x[c]!]
      for (let r = c + 1; r < n; r++) {
        const f = a[r * n + c]! / a[c * n + c]!
        for (let k = c; k < n; k++) a[r * n + k] = a[r * n + k]! - f * a[c * n + k]!
        x[r] = x[r]! - f * x[c]!
      }
    }
    for (let r = n - 1; r >= 0; r--) {
      let s = x[r]!
      for (let k = r + 1; k < n; k++) s -= a[r * n + k]! * x[k]!
      x[r] = s / a[r * n + r]!
    }
    return Tensor.make(x, { shape: [n], dtype: b.dtype })
  })

// #region newton-step
/** One Newton step on `w`, w ← w − H⁻¹g: returns the loss and gradient before it. */
const newtonStep = <E>(loss: () => Effect.Effect<Tensor.Tensor, E>, w: Variable.Variable<Tensor.Tensor>) =>
  Effect.gen(function* () {
    const [g, value] = yield* grad(loss, { gradVars: w, returnValue: true })()
    const H = yield* hessian(loss, { gradVars: w })() // [3, 3] for w of shape [3]
    const dw = yield* solve(H, g) // H⁻¹g, on the host
    yield* Variable.update(w, (w) => Tensor.sub(w, dw))
    return { loss: value, grad: g }
  })
// #endregion

const newton = Effect.gen(function* () {
  const key = yield* Random.key(1)
  // two overlapping Gaussian blobs in 2-D, centred at ±(1, 0.5); a constant 1 feature for the bias
  const n = 200
  const centre = Tensor.concat([Tensor.full([n, 2], 1, { dtype: "float64" }), Tensor.full([n, 2], -1, { dtype: "float64" })])
  const blobs = Tensor.add(Tensor.mul(centre, Tensor.make([1, 0.5], { dtype: "float64" })), yield* Random.normal(key, [2 * n, 2], { dtype: "float64" }))
  const x = Tensor.concat([blobs, Tensor.ones([2 * n, 1], { dtype: "float64" })], 1) // [400, 3]
  const y = Tensor.concat([Tensor.ones([n], { dtype: "float64" }), Tensor.zeros([n], { dtype: "float64" })])

  const w = yield* TrainVar.make(Tensor.zeros([3], { dtype: "float64" }), { name: "w" })
  const nll = () => Effect.map(Variable.get(w), (w) => Tensor.add(Loss.sigmoidBinaryCrossEntropy(Tensor.matmul(x, w), y), Tensor.mul(Tensor.sum(Tensor.square(w)), 1e-3)))

  console.log("\nNewton's method on a logistic regression (2 features + bias, float64):")
  for (let i = 0; i <= 5; i++) {
    const before = yield* newtonStep(nll, w)
    const gnorm = Math.sqrt(yield* Tensor.item(Tensor.sum(Tensor.square(before.grad))))
    console.log(`  step ${i}: loss ${(yield* Tensor.item(before.loss)).toFixed(10)}  |grad| ${gnorm.toExponential(2)}`)
  }
})

// ------------------------------------------------------------------ run

const main = Effect.gen(function* () {
  const accuracy = yield* classifier
  yield* newton
  return accuracy
})

// The backend is a Layer: swap CpuBackend.layer for WebGLBackend.layer() to run on the GPU.
Effect.runPromise(main.pipe(Effect.provide(CpuBackend.layer))).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error("failed:", error)
    process.exit(1)
  }
)
