/**
 * A brainpy-style simulation fitted by gradient through time.
 *
 * A recurrent rate network of 32 units, τ dx/dt = −x + tanh(W x + w_in u(t)),
 * integrated by Euler steps of dt = 0.1 τ over 300 steps, with a linear
 * readout y = w_out · x. A short pulse u(t) kicks it at the start; training
 * makes the readout trace a target (a damped sine that the untrained network
 * does not produce).
 *
 * - The parameters (W, w_in, w_out) are `TrainVar`s; the network's state x
 *   is a plain `Variable` that the loop body reads and writes, as a brainpy
 *   model updates its state: `scan` carries the write from step to step and
 *   commits the last value when the call succeeds.
 * - The loop is one `scan`: its body is traced once, so the cost of building
 *   the program does not grow with the number of steps, and the gradient
 *   through time is the reverse scan (`checkpoint` keeps only the carries).
 * - The training step (loss, gradient through time, Adam's update) is
 *   `jit`ted and driven by `Train.loop`, which shows progress.
 * - At the end: the loss curve and the fitted trajectory against the target,
 *   both as character plots.
 *
 * Run: `node --import tsx examples/rate-network.ts` (after `npm run build`;
 * `DIFFECT_EXAMPLE_FAST=1`: fewer training steps).
 */
import { Effect } from "effect"
import { Random, Tensor, TrainVar, Variable } from "@diffect/core"
import { checkpoint, jit, scan } from "@diffect/transforms"
import { Optim, Train } from "@diffect/nn"

const FAST = process.env.DIFFECT_EXAMPLE_FAST === "1"
const TRAIN_STEPS = FAST ? 150 : 600
const UNITS = 32
const STEPS = 300 // simulation steps
const DT = 0.1 // in units of the time constant τ
type T = Tensor.Tensor

// ------------------------------------------------------------------ the task

/** The input: a pulse over the first 10 steps, [STEPS]. */
const pulse = Tensor.make(Float32Array.from({ length: STEPS }, (_, t) => (t < 10 ? 1 : 0)))
/** The target readout: a damped sine starting after the pulse, [STEPS]. */
const target = Tensor.make(Float32Array.from({ length: STEPS }, (_, t) => (t < 10 ? 0 : 0.8 * Math.sin((2 * Math.PI * (t - 10)) / 100) * Math.exp(-(t - 10) / 250))))

// ------------------------------------------------------------------ the model

// #region rate-model
/** The network: parameters to fit (TrainVars) and its state (a Variable). */
const makeNetwork = (key: Random.Key) =>
  Effect.gen(function* () {
    const W = yield* TrainVar.make(yield* Random.normal(key, [UNITS, UNITS], { stddev: 1.2 / Math.sqrt(UNITS) }), { name: "W" })
    const wIn = yield* TrainVar.make(yield* Random.normal(key, [UNITS]), { name: "w_in" })
    const wOut = yield* TrainVar.make(yield* Random.normal(key, [UNITS], { stddev: 0.1 }), { name: "w_out" })
    const x = yield* Variable.make(Tensor.zeros([UNITS]), { name: "x" })
    return { W, wIn, wOut, x }
  })
type Network = Effect.Success<ReturnType<typeof makeNetwork>>

/** One Euler step, brainpy style: reads the state, writes the next one, returns the readout. */
const update = (net: Network, u: T) =>
  Effect.gen(function* () {
    const [W, wIn, wOut, x] = [yield* Variable.get(net.W), yield* Variable.get(net.wIn), yield* Variable.get(net.wOut), yield* Variable.get(net.x)]
    const drive = Tensor.add(Tensor.matmul(W, x), Tensor.mul(wIn, u))
    const next = Tensor.add(x, Tensor.mul(Tensor.sub(Tensor.tanh(drive), x), DT))
    yield* Variable.set(net.x, next)
    return Tensor.sum(Tensor.mul(wOut, next))
  })

/** Runs the whole simulation from rest over the input sequence: the readout at every step, [STEPS]. */
const simulate = (net: Network, inputs: T) =>
  Effect.gen(function* () {
    yield* Variable.set(net.x, Tensor.zeros([UNITS]))
    // the body is traced once into a program; `checkpoint` keeps only the carried state for the backward pass
    const [, ys] = yield* scan(
      checkpoint((carry: null, u: T) => Effect.map(update(net, u), (y) => [carry, y] as const)),
      null,
      inputs
    )
    return ys
  })
// #endregion

// ------------------------------------------------------------------ pictures

/** A character plot of one or more series over the same x range; a later series only marks cells the earlier ones left blank. */
const chart = (series: ReadonlyArray<{ readonly values: ArrayLike<number>; readonly mark: string }>, rows = 12, cols = 60) => {
  const all = series.flatMap((s) => Array.from(s.values))
  const [lo, hi] = [Math.min(...all), Math.max(...all)]
  const grid = Array.from({ length: rows }, () => Array<string>(cols).fill(" "))
  for (const s of series)
    for (let c = 0; c < cols; c++) {
      const v = s.values[Math.round((c / (cols - 1)) * (s.values.length - 1))]!
      const r = Math.round(((hi - v) / (hi - lo || 1)) * (rows - 1))
      if (grid[r]![c] === " ") grid[r]![c] = s.mark
    }
  const fmt = (v: number) => (Math.abs(v) < 1e-2 && v !== 0 ? v.toExponential(1) : v.toFixed(2)).padStart(8)
  return grid.map((row, r) => `${r === 0 ? fmt(hi) : r === rows - 1 ? fmt(lo) : " ".repeat(8)} |${row.join("")}`).join("\n")
}

// ------------------------------------------------------------------ training

const program = Effect.gen(function* () {
  const net = yield* makeNetwork(yield* Random.key(7))
  const params = { W: net.W, wIn: net.wIn, wOut: net.wOut }
  const adam = yield* Optim.adam(params, { lr: 0.01 })

  // #region rate-train
  const loss = () => Effect.map(simulate(net, pulse), (ys) => Tensor.mean(Tensor.square(Tensor.sub(ys, target))))
  const step = jit(() => Optim.minimize(adam, loss)) // loss, gradient through 300 steps, Adam: traced once
  const curve: number[] = []
  const initial = yield* Tensor.item(yield* loss())
  console.log(`Rate network: ${UNITS} units, ${STEPS} Euler steps of dt = ${DT}τ, readout fitted to a damped sine by Adam`)
  console.log(`initial loss: ${initial.toFixed(5)}`)
  const run = yield* Train.loop(step, { steps: TRAIN_STEPS, every: 10, onMetrics: (_, m) => Effect.sync(() => void curve.push(m.loss!)) })
  // #endregion
  const final = yield* Tensor.item(yield* loss())
  console.log(`trained ${run.steps} steps in ${run.seconds.toFixed(1)} s (${((run.seconds * 1000) / run.steps).toFixed(1)} ms per step of ${STEPS} simulated steps)`)
  console.log(`final loss: ${final.toFixed(5)}`)

  console.log("\nloss (log10) every 10 steps:")
  console.log(chart([{ values: curve.map(Math.log10), mark: "*" }]))
  const ys = yield* Tensor.data(yield* simulate(net, pulse))
  console.log("\nreadout after training (o) against the target (. where they differ):")
  console.log(chart([{ values: ys, mark: "o" }, { values: yield* Tensor.data(target), mark: "." }]))

  // the state Variable holds the last step's value, committed by the successful scan
  const lastState = yield* Variable.get(net.x)
  const lastReadout = yield* Tensor.item(Tensor.sum(Tensor.mul(yield* Variable.get(net.wOut), lastState)))
  console.log(`\nstate after the last simulation: x[${STEPS}] has shape [${lastState.shape.join(", ")}], readout ${lastReadout.toFixed(5)} (the trajectory's last value ${ys[STEPS - 1]!.toFixed(5)})`)
})

Effect.runPromise(program).catch((e) => {
  console.error(e)
  process.exitCode = 1
})
