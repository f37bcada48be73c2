/**
 * A training loop: run a step function `steps` times in training mode, read
 * its metrics every `every` steps, show progress (a bar redrawn in place on
 * a terminal, plain lines a tenth of the run apart otherwise), and stop
 * cleanly when interrupted: each step runs whole (it cannot be cut half-way),
 * and `Fiber.interrupt` lands between steps, so every parameter and every
 * optimizer moment comes from the same step.
 *
 * The loop is short enough to write yourself; it is:
 * `for (let i = 1; i <= steps; i++) { const m = yield* uninterruptible(training(step(i))); if (i % every === 0) report(yield* read(m)) }`.
 *
 * @example
 * ```ts
 * const result = yield* Train.loop(() => Optim.minimize(opt, loss), { steps: 1000, every: 10 })
 * console.log(`${result.steps} steps in ${result.seconds.toFixed(1)} s, loss ${result.metrics.loss}`)
 * ```
 * @module
 */
import { Effect } from "effect"
import { OptionsError, Tensor, type TensorError } from "@diffect/core"
import * as C from "./internal/check.js"
import { training } from "./Module.js"

// ------------------------------------------------------------------ progress

/**
 * A progress display: a bar redrawn in place on a terminal, plain lines
 * otherwise.
 * @example `const bar = Train.progressBar(100, { title: "epoch 1" })`
 */
export interface ProgressBar {
  /** Reports step `i` (1-based) with a label such as `loss 0.1234`. */
  readonly update: (i: number, label: string) => Effect.Effect<void>
  /** Ends the bar (moves past its line on a terminal). */
  readonly done: Effect.Effect<void>
}

/**
 * Options of {@link progressBar}.
 * @example `const o: Train.ProgressOptions = { title: "training", width: 40 }`
 */
export interface ProgressOptions {
  /** The bar's width in characters on a terminal (default 30, at most the terminal's width − 50). */
  readonly width?: number | undefined
  /** Printed before the bar (default `"progress"`). */
  readonly title?: string | undefined
  /**
   * Where to write (default: `process.stdout` in Node, `console.log` lines
   * elsewhere). `isTTY` chooses the bar over lines.
   */
  readonly output?: { readonly write: (s: string) => unknown; readonly isTTY?: boolean | undefined; readonly columns?: number | undefined } | undefined
}

interface NodeLike {
  readonly stdout?: { readonly write: (s: string) => unknown; readonly isTTY?: boolean; readonly columns?: number }
  readonly env?: Record<string, string | undefined>
}

/**
 * A progress bar in plain ANSI, no dependency. On a terminal (`isTTY`, and
 * `TERM` not `dumb`) it redraws one line in place, colored unless
 * `NO_COLOR` is set; otherwise (a pipe, a CI log, a browser) it prints a
 * plain line every tenth of the run, so logs stay readable.
 * @example
 * ```ts
 * const bar = Train.progressBar(1000, { title: "training" })
 * yield* bar.update(10, "loss 0.6931")
 * yield* bar.done
 * ```
 */
export const progressBar = (total: number, options: ProgressOptions = {}): ProgressBar => {
  const proc = (globalThis as { process?: NodeLike }).process
  const out = options.output ?? proc?.stdout ?? { write: (s: string) => console.log(s.replace(/\n$/, "")), isTTY: false }
  const env = proc?.env ?? {}
  const tty = out.isTTY === true && env.TERM !== "dumb"
  const color = tty && env.NO_COLOR === undefined
  const width = Math.max(10, Math.min(options.width ?? 30, (out.columns ?? 80) - 50))
  const title = options.title ?? "progress"
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s)
  let lastTenth = -1
  return {
    update: (i, label) =>
      Effect.sync(() => {
        const frac = Math.min(1, i / total)
        if (tty) {
          const filled = Math.round(frac * width)
          const bar = paint("32", "█".repeat(filled)) + paint("2", "░".repeat(width - filled))
          const pct = `${Math.floor(frac * 100)}`.padStart(3)
          out.write(`\r\x1b[2K${title} ${bar} ${pct}% ${`${i}`.padStart(`${total}`.length)}/${total}  ${label}`)
        } else {
          const tenth = Math.floor(frac * 10)
          if (tenth > lastTenth) {
            lastTenth = tenth
            out.write(`${title} ${`${Math.floor(frac * 100)}`.padStart(3)}% ${i}/${total}  ${label}\n`)
          }
        }
      }),
    done: Effect.sync(() => {
      if (tty) out.write("\n")
    })
  }
}

// ------------------------------------------------------------------ the loop

/** What a step returns: a scalar loss tensor, or a record of named scalar metrics. @example `const m: Train.Metrics = { loss, accuracy }` */
export type Metrics = Tensor.Tensor | { readonly [name: string]: Tensor.Tensor }

/**
 * Options of {@link loop}.
 * @example `const o: Train.LoopOptions = { steps: 1000, every: 10, title: "spirals" }`
 */
export interface LoopOptions {
  /** How many steps (a non-negative integer). */
  readonly steps: number
  /** Read the metrics every this many steps, and at the last (default: a hundredth of the run, at least 1). */
  readonly every?: number | undefined
  /** Show progress (default true). */
  readonly progress?: boolean | undefined
  /** The progress bar's title (default `"training"`). */
  readonly title?: string | undefined
  /** Where the progress goes (see {@link ProgressOptions}). */
  readonly output?: ProgressOptions["output"]
  /** Called with the metrics' values every `every` steps. */
  readonly onMetrics?: ((step: number, metrics: Readonly<Record<string, number>>) => Effect.Effect<void>) | undefined
}

/**
 * What {@link loop} returns.
 * @example `const { steps, seconds, metrics } = yield* Train.loop(step, { steps: 100 })`
 */
export interface LoopResult {
  /** The steps completed. */
  readonly steps: number
  /** Wall-clock seconds. */
  readonly seconds: number
  /** The metrics read last (at the last step). */
  readonly metrics: Readonly<Record<string, number>>
}

const readMetrics = (m: Metrics): Effect.Effect<Record<string, number>, TensorError> =>
  Effect.gen(function* () {
    const named: Record<string, Tensor.Tensor> = Tensor.isTensor(m) ? { loss: m } : (m as Record<string, Tensor.Tensor>)
    const out: Record<string, number> = {}
    for (const k of Object.keys(named)) out[k] = yield* Tensor.item(named[k]!)
    return out
  })

const label = (m: Readonly<Record<string, number>>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4)}`)
    .join("  ")

/**
 * Runs `step(i)` for i = 1..steps in training mode (`Module.training`), each
 * step whole (uninterruptible), so an interruption of the loop's fiber stops
 * it between two steps. Every `every` steps (and at the last) reads the
 * metrics the step returned, shows them on the progress bar and passes them
 * to `onMetrics`. Fails with the step's first failure.
 * @example
 * ```ts
 * const fiber = yield* Effect.forkChild(Train.loop(() => Optim.minimize(opt, loss), { steps: 10_000 }))
 * yield* Fiber.interrupt(fiber) // stops between steps: params and moments from the same step
 * ```
 */
export const loop = <E, R>(step: (i: number) => Effect.Effect<Metrics, E, R>, options: LoopOptions): Effect.Effect<LoopResult, E | TensorError | OptionsError, R> =>
  Effect.gen(function* () {
    const op = "Train.loop"
    if (typeof step !== "function") return yield* Effect.fail(new OptionsError({ message: `${op}: step must be a function (i) => Effect<Metrics>, got ${C.describeValue(step)}` }))
    const bad = C.checkOptions(op, options, { steps: C.nonNegativeInteger, every: C.positiveInteger, progress: C.boolean, title: C.string, output: (u) => (typeof u === "object" && u !== null ? undefined : "an object { write }"), onMetrics: (u) => (typeof u === "function" ? undefined : "a function") })
    if (bad) return yield* Effect.fail(bad)
    if (options?.steps === undefined) return yield* Effect.fail(new OptionsError({ message: `${op}: steps is required` }))
    const steps = options.steps
    const every = options.every ?? Math.max(1, Math.floor(steps / 100))
    const bar = (options.progress ?? true) ? progressBar(steps, { title: options.title ?? "training", output: options.output }) : undefined
    const start = performance.now()
    let metrics: Record<string, number> = {}
    let done = 0
    yield* Effect.gen(function* () {
      for (let i = 1; i <= steps; i++) {
        const m = yield* Effect.uninterruptible(training(step(i)))
        done = i
        if (i % every === 0 || i === steps) {
          metrics = yield* readMetrics(m)
          if (bar) yield* bar.update(i, label(metrics))
          if (options.onMetrics) yield* options.onMetrics(i, metrics)
        }
        yield* Effect.yieldNow // an interruption lands here, between steps
      }
    }).pipe(Effect.ensuring(bar ? bar.done : Effect.void))
    return { steps: done, seconds: (performance.now() - start) / 1000, metrics }
  })
