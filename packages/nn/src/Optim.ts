/**
 * Optimizers over Variables: SGD (momentum, Nesterov, weight decay), Adam,
 * AdamW and RMSprop, with PyTorch's `torch.optim` update formulas and
 * defaults; learning-rate schedules; gradient clipping.
 *
 * An optimizer's state (moments, momentum buffers, the step count) lives in
 * Variables, listed in `opt.state`, so a checkpoint of the parameters and
 * `opt.state` (`Codec.saveVariables({ ...params, ...opt.state })`) is the
 * whole training state, and restoring it continues training exactly. A step
 * writes every parameter and every state Variable at once: when it fails
 * (bad gradients, a tensor error), or is interrupted, nothing is written.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Optim } from "@diffect/nn"
 * import { valueAndGrad } from "@diffect/transforms"
 * const train = Effect.gen(function* () {
 *   const opt = yield* Optim.adam(params, { lr: 1e-3 })
 *   const [loss, grads] = yield* valueAndGrad(lossFn, { gradVars: params })()
 *   yield* opt.step(grads)            // or: yield* Optim.minimize(opt, lossFn)
 * })
 * ```
 * @module
 */
import { Effect } from "effect"
import { DTypeError, type DiffectError, GradVarsError, Internal, OptionsError, Pytree, ShapeError, Tensor, Variable } from "@diffect/core"
import { valueAndGrad, type VarGrads } from "@diffect/transforms"
import * as C from "./internal/check.js"

// ------------------------------------------------------------------ types

/** What an optimizer updates: a Variable, an array or a record of Variables (what `gradVars` accepts). */
export type Params = Variable.Variable<any> | ReadonlyArray<Variable.Variable<any>> | { readonly [k: string]: Variable.Variable<any> }

/** Gradients with the structure of `params`, as `grad(f, { gradVars: params })` returns them. */
export type Grads<P extends Params> = VarGrads<P>

/**
 * A learning-rate schedule: the learning rate for an update, from the number
 * of updates already made (an int32 scalar: 0 for the first update). The
 * schedules here compute in float32 (every backend has it); the rate is cast
 * to each parameter's dtype.
 * @example `const lr: Optim.Schedule = (step) => Tensor.mul(0.1, Tensor.pow(0.5, Tensor.cast(step, "float32")))`
 */
export type Schedule = (step: Tensor.Tensor) => Tensor.Tensor

/** A learning rate: a number, or a schedule of the step count. @example `const lr: Optim.LearningRate = Optim.cosineDecay(0.01, 1000)` */
export type LearningRate = number | Schedule

/** What a step can fail with: bad gradients (`GradVarsError`, `ShapeError`, `DTypeError`), a bad schedule (`OptionsError`), or the tensors' own errors. */
export type StepError = DiffectError

/**
 * An optimizer bound to its parameters. Made by {@link sgd}, {@link adam},
 * {@link adamw} or {@link rmsprop}.
 * @example
 * ```ts
 * const opt = yield* Optim.sgd({ w, b }, { lr: 0.1, momentum: 0.9 })
 * yield* opt.step(yield* grad(loss, { gradVars: opt.params })())
 * ```
 */
export interface Optimizer<P extends Params> {
  /** `"sgd"`, `"adam"`, `"adamw"` or `"rmsprop"`. */
  readonly kind: string
  /** The Variables it updates. */
  readonly params: P
  /**
   * Its state Variables keyed by name (`"adam.step"`, `"adam.m"`, `"adam.v"`...,
   * prefixed by `options.name`), ready to spread into `Codec.saveVariables`.
   */
  readonly state: { readonly [name: string]: Variable.Variable<any> }
  /** The number of updates made so far (an int32 scalar Variable; also in `state`). */
  readonly count: Variable.Variable<Tensor.Tensor>
  /**
   * One update from gradients with the structure of `params`. Writes every
   * parameter and state Variable together (all or nothing, not interruptible
   * half-way).
   */
  readonly step: (grads: Grads<P>) => Effect.Effect<void, StepError>
}

// ------------------------------------------------------------------ the engine

/** Per-leaf hyperparameters of one update. */
interface Hyper {
  /** The learning rate, a scalar of the leaf's dtype. */
  readonly lr: Tensor.Tensor
  /** The update's number, counting from 1, as a scalar of the leaf's dtype. */
  readonly t: Tensor.Tensor
}

/** One optimizer's update of one tensor leaf: the new parameter and state leaves. */
interface Rule {
  /** Names of the state trees (one Variable each, mirroring the params). */
  readonly state: ReadonlyArray<string>
  readonly update: (p: Tensor.Tensor, g: Tensor.Tensor, s: ReadonlyArray<Tensor.Tensor>, h: Hyper) => readonly [Tensor.Tensor, ReadonlyArray<Tensor.Tensor>]
}

const badLr = (u: unknown): string | undefined =>
  typeof u === "function" ? undefined : typeof u === "number" && Number.isFinite(u) && u >= 0 ? undefined : "a non-negative number or a schedule (step) => Tensor"

const make = <P extends Params>(
  kind: string,
  params: P,
  options: unknown,
  fields: Readonly<Record<string, C.FieldCheck>>,
  rule: (o: Record<string, unknown>) => Rule | string,
  defaultLr?: number
): Effect.Effect<Optimizer<P>, DiffectError> =>
  Effect.gen(function* () {
    const op = `Optim.${kind}`
    const split = C.slotsOf(op, params)
    if (split instanceof GradVarsError) return yield* Effect.fail(split)
    const badOptions = C.checkOptions(op, options, { lr: badLr, name: C.string, ...fields })
    if (badOptions) return yield* Effect.fail(badOptions)
    const o = (options ?? {}) as Record<string, unknown>
    const lr = (o.lr ?? defaultLr) as LearningRate | undefined
    if (lr === undefined) return yield* Effect.fail(new OptionsError({ message: `${op}: lr is required (a non-negative number or a schedule)` }))
    const r = rule(o)
    if (typeof r === "string") return yield* Effect.fail(new OptionsError({ message: `${op}: ${r}` }))
    const { layout, slots } = split
    const prefix = typeof o.name === "string" ? o.name : kind
    for (const s of slots)
      if (s.variable.avals.some((a) => a.dtype !== "float32" && a.dtype !== "float64"))
        return yield* Effect.fail(new DTypeError({ message: `${op}: params${s.path} (${s.variable.label}) holds ${s.variable.avals.map((a) => a.dtype).join(", ")}: only float32 and float64 parameters can be optimized` }))

    // state: one Variable per state name, its value mirroring the params' values with zeros
    const zeros = C.assemble(
      layout,
      slots.map((s) => Pytree.unflatten(s.variable.def, s.variable.avals.map((a) => Tensor.zeros(a.shape, { dtype: a.dtype }))))
    )
    const trees: Array<Variable.Variable<any>> = []
    for (const name of r.state) trees.push(yield* Variable.make(zeros, { name: `${prefix}.${name}` }))
    const count = yield* Variable.make(Tensor.make(0, { dtype: "int32" }), { name: `${prefix}.step` })
    const state: Record<string, Variable.Variable<any>> = { [`${prefix}.step`]: count }
    r.state.forEach((name, i) => (state[`${prefix}.${name}`] = trees[i]!))

    const step = (grads: Grads<P>): Effect.Effect<void, StepError> =>
      Effect.uninterruptible(
        Effect.gen(function* () {
          // check the gradients against the params: structure, then each leaf's shape and dtype
          const gradLeaves: Array<ReadonlyArray<Tensor.Tensor>> = []
          if (layout.kind === "record" && C.isPlainObject(grads)) {
            const extra = Object.keys(grads).filter((k) => !layout.keys.includes(k))
            if (extra.length > 0)
              return yield* Effect.fail(new GradVarsError({ message: `${op}: step: grads has ${extra.map((k) => `"${k}"`).join(", ")}, which params does not (params has ${layout.keys.join(", ")})` }))
          }
          if (layout.kind === "array" && Array.isArray(grads) && grads.length !== layout.length)
            return yield* Effect.fail(new GradVarsError({ message: `${op}: step: grads has ${grads.length} entries, params has ${layout.length}` }))
          for (let i = 0; i < slots.length; i++) {
            const s = slots[i]!
            const where = `${op}: step: grads${s.path}`
            const part = C.pick(layout, grads, i)
            if (!part.found)
              return yield* Effect.fail(new GradVarsError({ message: `${where} is missing (grads must have the structure of params, as grad(f, { gradVars: params }) gives)` }))
            const [leaves, def] = Pytree.flatten(part.value)
            if (!Pytree.defEqual(def, s.variable.def) || leaves.length !== s.variable.avals.length)
              return yield* Effect.fail(new GradVarsError({ message: `${where}: expected ${Pytree.describe(s.variable.def)} (the structure of ${s.variable.label}), got ${Pytree.describe(def)}` }))
            for (let j = 0; j < leaves.length; j++) {
              const g = leaves[j]!, a = s.variable.avals[j]!
              if (g.op === "error") return yield* Effect.fail(g.error!)
              const at = leaves.length > 1 ? ` (leaf ${j})` : ""
              if (g.shape.length !== a.shape.length || g.shape.some((d, k) => d !== a.shape[k]))
                return yield* Effect.fail(new ShapeError({ message: `${where}${at}: expected shape ${Internal.fmt(a.shape)} (the shape of ${s.variable.label}), got ${g.dtype}${Internal.fmt(g.shape)}` }))
              if (g.dtype !== a.dtype)
                return yield* Effect.fail(new DTypeError({ message: `${where}${at}: expected dtype ${a.dtype} (the dtype of ${s.variable.label}), got ${g.dtype}${Internal.fmt(g.shape)}` }))
            }
            gradLeaves.push(leaves)
          }

          const done = (yield* Variable.get(count)) as Tensor.Tensor
          let lrTensor: Tensor.Tensor | undefined
          if (typeof lr === "function") {
            const value: unknown = lr(done)
            if (!Tensor.isTensor(value) || value.shape.length !== 0)
              return yield* Effect.fail(new OptionsError({ message: `${op}: the lr schedule must return a scalar Tensor, got ${Tensor.isTensor(value) ? `shape ${Internal.fmt(value.shape)}` : C.describeValue(value)}` }))
            if (value.op === "error") return yield* Effect.fail(value.error!)
            lrTensor = value
          }
          const next = Tensor.add(done, 1)
          const states = [] as Array<unknown>
          for (const v of trees) states.push(yield* Variable.get(v))
          const newParams: Array<unknown> = []
          const newStates: Array<Array<unknown>> = r.state.map(() => [])
          for (let i = 0; i < slots.length; i++) {
            const s = slots[i]!
            const [pLeaves, def] = Pytree.flatten(yield* Variable.get(s.variable))
            const sLeaves = states.map((tree) => Pytree.flatten(C.pick(layout, tree, i).value)[0])
            const outP: Array<Tensor.Tensor> = []
            const outS: Array<Array<Tensor.Tensor>> = r.state.map(() => [])
            pLeaves.forEach((p, j) => {
              const h: Hyper = { lr: lrTensor === undefined ? Tensor.full([], lr as number, { dtype: p.dtype }) : Tensor.cast(lrTensor, p.dtype), t: Tensor.cast(next, p.dtype) }
              const [p2, s2] = r.update(p, gradLeaves[i]![j]!, sLeaves.map((l) => l[j]!), h)
              outP.push(p2)
              s2.forEach((x, k) => outS[k]!.push(x))
            })
            newParams.push(Pytree.unflatten(def, outP))
            outS.forEach((leaves, k) => newStates[k]!.push(Pytree.unflatten(def, leaves)))
          }
          // every parameter and state Variable at once: all or nothing
          const entries: Array<readonly [Variable.Variable<unknown>, unknown]> = slots.map((s, i) => [s.variable, newParams[i]] as const)
          trees.forEach((v, k) => entries.push([v, C.assemble(layout, newStates[k]!)]))
          entries.push([count, next])
          const handler = yield* Effect.service(Variable.CurrentStateHandler)
          yield* handler.writeAll(entries)
        })
      )
    return { kind, params, state, count, step } satisfies Optimizer<P>
  })

// ------------------------------------------------------------------ optimizers

/**
 * Options of {@link sgd}: PyTorch's `torch.optim.SGD` (dampening 0).
 * @example `const o: Optim.SgdOptions = { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }`
 */
export interface SgdOptions {
  /** The learning rate (required): a number ≥ 0 or a schedule. */
  readonly lr: LearningRate
  /** Momentum factor (default 0: plain SGD). */
  readonly momentum?: number | undefined
  /** Nesterov momentum (default false; needs momentum > 0). */
  readonly nesterov?: boolean | undefined
  /** L2 penalty added to the gradient (default 0). */
  readonly weightDecay?: number | undefined
  /** Prefix of the state Variables' names (default `"sgd"`). */
  readonly name?: string | undefined
}

/**
 * Stochastic gradient descent, as `torch.optim.SGD` (dampening 0):
 * g ← g + λp; with momentum μ: b ← μb + g (b = g at the first step), g ← g + μb
 * (Nesterov) or g ← b; p ← p − lr·g. State: `sgd.momentum` (when μ > 0), `sgd.step`.
 * @example `const opt = yield* Optim.sgd({ w, b }, { lr: 0.1, momentum: 0.9 })`
 */
export const sgd = <const P extends Params>(params: P, options: SgdOptions): Effect.Effect<Optimizer<P>, DiffectError> =>
  make(
    "sgd",
    params,
    options,
    { momentum: C.nonNegative, nesterov: C.boolean, weightDecay: C.nonNegative },
    (o) => {
      const mu = (o.momentum as number | undefined) ?? 0
      const nesterov = (o.nesterov as boolean | undefined) ?? false
      const wd = (o.weightDecay as number | undefined) ?? 0
      if (nesterov && mu === 0) return "nesterov needs momentum > 0"
      return {
        state: mu > 0 ? ["momentum"] : [],
        update: (p, g0, s, { lr }) => {
          let g = wd !== 0 ? Tensor.add(g0, Tensor.mul(p, wd)) : g0
          const out: Array<Tensor.Tensor> = []
          if (mu > 0) {
            const b = Tensor.add(Tensor.mul(s[0]!, mu), g) // the buffer starts at zero, so the first step gives b = g
            out.push(b)
            g = nesterov ? Tensor.add(g, Tensor.mul(b, mu)) : b
          }
          return [Tensor.sub(p, Tensor.mul(g, lr)), out]
        }
      }
    }
  )

/**
 * Options of {@link adam} and {@link adamw}: PyTorch's names camel-cased
 * (`betas` are `b1`, `b2`).
 * @example `const o: Optim.AdamOptions = { lr: 3e-4, b1: 0.9, b2: 0.999, eps: 1e-8 }`
 */
export interface AdamOptions {
  /** The learning rate (default 1e-3): a number ≥ 0 or a schedule. */
  readonly lr?: LearningRate | undefined
  /** Decay of the first moment, in [0, 1) (default 0.9). */
  readonly b1?: number | undefined
  /** Decay of the second moment, in [0, 1) (default 0.999). */
  readonly b2?: number | undefined
  /** Added to the denominator (default 1e-8). */
  readonly eps?: number | undefined
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay (default 1e-2). */
  readonly weightDecay?: number | undefined
  /** Prefix of the state Variables' names (default `"adam"` / `"adamw"`). */
  readonly name?: string | undefined
}

const adamFields = { b1: C.numberIn(0, 1, { hiOpen: true }), b2: C.numberIn(0, 1, { hiOpen: true }), eps: C.nonNegative, weightDecay: C.nonNegative }

const adamRule =
  (decoupled: boolean) =>
  (o: Record<string, unknown>): Rule => {
    const b1 = (o.b1 as number | undefined) ?? 0.9
    const b2 = (o.b2 as number | undefined) ?? 0.999
    const eps = (o.eps as number | undefined) ?? 1e-8
    const wd = (o.weightDecay as number | undefined) ?? (decoupled ? 1e-2 : 0)
    return {
      state: ["m", "v"],
      update: (p0, g0, [m0, v0], { lr, t }) => {
        const p = decoupled && wd !== 0 ? Tensor.mul(p0, Tensor.sub(1, Tensor.mul(lr, wd))) : p0 // AdamW: p ← p(1 − lr·λ)
        const g = !decoupled && wd !== 0 ? Tensor.add(g0, Tensor.mul(p0, wd)) : g0 // Adam: g ← g + λp
        const m = Tensor.add(Tensor.mul(m0!, b1), Tensor.mul(g, 1 - b1))
        const v = Tensor.add(Tensor.mul(v0!, b2), Tensor.mul(Tensor.square(g), 1 - b2))
        const bc1 = Tensor.sub(1, Tensor.pow(b1, t))
        const bc2 = Tensor.sub(1, Tensor.pow(b2, t))
        // PyTorch: p ← p − (lr / bc1) · m / (√v / √bc2 + eps)
        const denom = Tensor.add(Tensor.div(Tensor.sqrt(v), Tensor.sqrt(bc2)), eps)
        return [Tensor.sub(p, Tensor.mul(Tensor.div(lr, bc1), Tensor.div(m, denom))), [m, v]]
      }
    }
  }

/**
 * Adam, as `torch.optim.Adam` (amsgrad off): g ← g + λp; m ← b1·m + (1−b1)g;
 * v ← b2·v + (1−b2)g²; p ← p − lr/(1−b1ᵗ) · m / (√v/√(1−b2ᵗ) + eps).
 * Defaults lr 1e-3, b1 0.9, b2 0.999, eps 1e-8, weightDecay 0 (L2 added to
 * the gradient). State: `adam.m`, `adam.v`, `adam.step`.
 * @example `const opt = yield* Optim.adam(Module.trainVars(model.params), { lr: 1e-3 })`
 */
export const adam = <const P extends Params>(params: P, options: AdamOptions = {}): Effect.Effect<Optimizer<P>, DiffectError> =>
  make("adam", params, options, adamFields, adamRule(false), 1e-3)

/**
 * AdamW, as `torch.optim.AdamW`: Adam with decoupled weight decay,
 * p ← p(1 − lr·λ) before the Adam update. Defaults as {@link adam} but
 * weightDecay 1e-2. State: `adamw.m`, `adamw.v`, `adamw.step`.
 * @example `const opt = yield* Optim.adamw(params, { lr: 1e-3, weightDecay: 0.01 })`
 */
export const adamw = <const P extends Params>(params: P, options: AdamOptions = {}): Effect.Effect<Optimizer<P>, DiffectError> =>
  make("adamw", params, options, adamFields, adamRule(true), 1e-3)

/**
 * Options of {@link rmsprop}: PyTorch's `torch.optim.RMSprop`.
 * @example `const o: Optim.RmspropOptions = { lr: 1e-2, alpha: 0.99, momentum: 0.9 }`
 */
export interface RmspropOptions {
  /** The learning rate (default 1e-2): a number ≥ 0 or a schedule. */
  readonly lr?: LearningRate | undefined
  /** Smoothing constant of the squared average, in [0, 1) (default 0.99). */
  readonly alpha?: number | undefined
  /** Added to the denominator (default 1e-8). */
  readonly eps?: number | undefined
  /** Momentum factor (default 0). */
  readonly momentum?: number | undefined
  /** Centered RMSprop: divide by the estimated variance instead (default false). */
  readonly centered?: boolean | undefined
  /** L2 penalty added to the gradient (default 0). */
  readonly weightDecay?: number | undefined
  /** Prefix of the state Variables' names (default `"rmsprop"`). */
  readonly name?: string | undefined
}

/**
 * RMSprop, as `torch.optim.RMSprop`: g ← g + λp; s ← αs + (1−α)g²;
 * d = √s + eps (centered: √(s − ḡ²) + eps with ḡ ← αḡ + (1−α)g); with
 * momentum μ: b ← μb + g/d, p ← p − lr·b; else p ← p − lr·g/d. Defaults
 * lr 1e-2, alpha 0.99, eps 1e-8. State: `rmsprop.square` (and `.momentum`,
 * `.mean` when used), `rmsprop.step`.
 * @example `const opt = yield* Optim.rmsprop(params, { lr: 1e-3, momentum: 0.9 })`
 */
export const rmsprop = <const P extends Params>(params: P, options: RmspropOptions = {}): Effect.Effect<Optimizer<P>, DiffectError> =>
  make(
    "rmsprop",
    params,
    options,
    { alpha: C.numberIn(0, 1, { hiOpen: true }), eps: C.nonNegative, momentum: C.nonNegative, centered: C.boolean, weightDecay: C.nonNegative },
    (o) => {
      const alpha = (o.alpha as number | undefined) ?? 0.99
      const eps = (o.eps as number | undefined) ?? 1e-8
      const mu = (o.momentum as number | undefined) ?? 0
      const centered = (o.centered as boolean | undefined) ?? false
      const wd = (o.weightDecay as number | undefined) ?? 0
      return {
        state: ["square", ...(mu > 0 ? ["momentum"] : []), ...(centered ? ["mean"] : [])],
        update: (p, g0, s, { lr }) => {
          const g = wd !== 0 ? Tensor.add(g0, Tensor.mul(p, wd)) : g0
          const sq = Tensor.add(Tensor.mul(s[0]!, alpha), Tensor.mul(Tensor.square(g), 1 - alpha))
          const out: Array<Tensor.Tensor> = [sq]
          let variance = sq
          let mean: Tensor.Tensor | undefined
          if (centered) {
            mean = Tensor.add(Tensor.mul(s[mu > 0 ? 2 : 1]!, alpha), Tensor.mul(g, 1 - alpha))
            variance = Tensor.sub(sq, Tensor.square(mean))
          }
          const denom = Tensor.add(Tensor.sqrt(variance), eps)
          let p2: Tensor.Tensor
          if (mu > 0) {
            const b = Tensor.add(Tensor.mul(s[1]!, mu), Tensor.div(g, denom))
            out.push(b)
            p2 = Tensor.sub(p, Tensor.mul(b, lr))
          } else p2 = Tensor.sub(p, Tensor.mul(Tensor.div(g, denom), lr))
          if (mean !== undefined) out.push(mean)
          return [p2, out]
        }
      }
    },
    1e-2
  )

/**
 * One training step: the loss and its gradient with respect to
 * `opt.params` (`valueAndGrad`), then `opt.step`. Returns the loss before
 * the step. Not interruptible half-way: an interruption lands before or
 * after the whole step.
 * @example `const loss = yield* Optim.minimize(opt, () => Loss.mse(yield* model.apply(x), y))`
 */
export const minimize = <P extends Params, E = never, R = never>(
  opt: Optimizer<P>,
  loss: () => Effect.Effect<Tensor.Tensor, E, R> | Tensor.Tensor
): Effect.Effect<Tensor.Tensor, E | DiffectError, R> =>
  Effect.uninterruptible(
    Effect.gen(function* () {
      const [value, grads] = (yield* valueAndGrad(loss, { gradVars: opt.params as Params })()) as unknown as [Tensor.Tensor, Grads<P>]
      yield* opt.step(grads)
      return value
    })
  )

// ------------------------------------------------------------------ schedules

const stepFloat = (step: Tensor.Tensor) => Tensor.cast(step, "float32")

/**
 * A constant learning rate, as a schedule.
 * @example `const lr = Optim.constant(1e-3)`
 */
export const constant =
  (lr: number): Schedule =>
  () =>
    Tensor.make(lr)

/**
 * Step decay (PyTorch's `StepLR`): lr · γ^⌊step / stepSize⌋.
 * @example `const lr = Optim.stepDecay(0.1, 30, 0.1) // 0.1, then 0.01 from step 30, ...`
 */
export const stepDecay =
  (lr: number, stepSize: number, gamma = 0.1): Schedule =>
  (step) =>
    Tensor.mul(lr, Tensor.pow(gamma, Tensor.cast(Tensor.cast(Tensor.div(stepFloat(step), stepSize), "int32"), "float32"))) // the cast to int32 floors a non-negative quotient

/**
 * Cosine decay (PyTorch's `CosineAnnealingLR` closed form, one half
 * period): minLr + (lr − minLr)(1 + cos(π·min(step, steps)/steps))/2,
 * then minLr after `steps`.
 * @example `const lr = Optim.cosineDecay(0.01, 1000, { minLr: 1e-4 })`
 */
export const cosineDecay =
  (lr: number, steps: number, options: { readonly minLr?: number | undefined } = {}): Schedule =>
  (step) => {
    const minLr = options.minLr ?? 0
    const frac = Tensor.minimum(Tensor.div(stepFloat(step), steps), 1)
    return Tensor.add(minLr, Tensor.mul(lr - minLr, Tensor.mul(0.5, Tensor.add(1, Tensor.cos(Tensor.mul(frac, Math.PI))))))
  }

/**
 * Linear warmup in front of a schedule (or a constant): the rate is scaled
 * by (step + 1) / warmupSteps for the first `warmupSteps` updates, then is
 * the schedule's (which sees the steps counted from the end of the warmup).
 * @example `const lr = Optim.warmup(Optim.cosineDecay(3e-4, 9000), 1000)`
 */
export const warmup =
  (schedule: LearningRate, warmupSteps: number): Schedule =>
  (step) => {
    const s = stepFloat(step)
    const after = Tensor.maximum(Tensor.sub(s, warmupSteps), 0)
    const base = typeof schedule === "number" ? Tensor.make(schedule) : Tensor.cast(schedule(Tensor.cast(after, "int32")), "float32")
    const factor = Tensor.minimum(Tensor.div(Tensor.add(s, 1), Math.max(1, warmupSteps)), 1)
    return Tensor.mul(base, factor)
  }

// ------------------------------------------------------------------ clipping

/**
 * The global L2 norm of every leaf of a pytree of tensors: √(Σ‖g‖²) (pure;
 * a float32 scalar unless every leaf is float64).
 * @example `const norm = Optim.globalNorm(grads)`
 */
export const globalNorm = (tree: unknown): Tensor.Tensor => {
  const [leaves] = Pytree.flatten(tree)
  const dtype = leaves.length > 0 && leaves.every((t) => t.dtype === "float64") ? "float64" : "float32"
  const squares = leaves.map((t) => Tensor.cast(Tensor.sum(Tensor.square(t)), dtype))
  return Tensor.sqrt(squares.reduce((a, b) => Tensor.add(a, b), Tensor.zeros([], { dtype })))
}

/**
 * Scales a pytree of gradients so that its global norm is at most `maxNorm`
 * (optax's `clip_by_global_norm`): g · maxNorm / max(‖g‖, maxNorm). Pure: the
 * same structure comes back; a `maxNorm` that is not a positive number gives
 * leaves that fail with `ShapeError` when read.
 * @example `yield* opt.step(Optim.clipByGlobalNorm(grads, 1))`
 */
export const clipByGlobalNorm = <T>(grads: T, maxNorm: number): T => {
  if (typeof maxNorm !== "number" || !(maxNorm > 0) || !Number.isFinite(maxNorm)) {
    const error = new ShapeError({ message: `Optim.clipByGlobalNorm: maxNorm must be a positive finite number, got ${C.describeValue(maxNorm)}` })
    return Pytree.map(grads, (t) => Internal.errorTensor(error, t.dtype, t.shape)) as T
  }
  const norm = globalNorm(grads)
  const scale = Tensor.div(maxNorm, Tensor.maximum(norm, maxNorm))
  return Pytree.map(grads, (t) => Tensor.mul(t, Tensor.cast(scale, t.dtype))) as T
}
