/**
 * Control flow: `scan`, `fori`, `whileLoop`, `cond` and `checkpoint`, as
 * higher-order primitives. A body is traced once into a sub-program (the
 * cost of building the program does not grow with the number of
 * iterations) and runs step after step on the backend; every transform
 * applies to it (jvp, vjp, grad, jacfwd, jacrev, hessian, vmap, jit), to
 * any order.
 *
 * State (brainstate's semantics): a Variable read in a body is captured
 * (differentiable when it is in an enclosing transform's `gradVars`); one
 * written in a body is carried: the next iteration reads the new value,
 * and the last value is written when the whole call succeeds, nothing if
 * any iteration fails.
 * @module
 */
import * as Effect from "effect/Effect"
import { Backend, ControlFlowError, DTypeError, Internal, Pytree, StateError, Tensor, type TensorError, Variable } from "@diffect/core"
import { BodyState, capturesOf, checkSame, leavesOf } from "./internal/body.js"
import { callFn, type Fn } from "./internal/trace.js"

type Var = Variable.Variable<unknown>
type Errors = TensorError | ControlFlowError | DTypeError | StateError

/** Options of `scan`. */
export interface ScanOptions {
  /** The number of steps; required when `xs` is null, else it must equal the xs' leading length. */
  readonly length?: number | undefined
  /** Run the steps from the last to the first (ys keep their positions: ys[k] is step k's y). */
  readonly reverse?: boolean | undefined
}

const Checkpointed: unique symbol = Symbol.for("diffect/checkpoint")

/** The function `checkpoint` wrapped, if `f` is one. */
const unwrap = (f: unknown): { fn: unknown; checkpoint: boolean } => {
  const inner = typeof f === "function" ? (f as { [Checkpointed]?: unknown })[Checkpointed] : undefined
  return inner === undefined ? { fn: f, checkpoint: false } : { fn: inner, checkpoint: true }
}

const notFunction = (name: string, what: string, f: unknown) =>
  new ControlFlowError({ message: `${name}: ${what} must be a function, got ${Internal.describeValue(f)}` })

/** The state a traced body wrote, as carries: their input nodes, the values outside, and the values the body wrote. */
const stateCarries = (state: BodyState) =>
  Effect.gen(function* () {
    const written = [...state.writes.keys()]
    for (const v of written) if (!state.reads.has(v)) yield* state.enter(v)
    return {
      written,
      inputs: written.flatMap((v) => state.reads.get(v)!.inputs),
      outer: written.flatMap((v) => state.reads.get(v)!.outer),
      outs: written.flatMap((v) => Pytree.flatten(state.writes.get(v))[0])
    }
  })

/** The Variables read and not written: their input nodes and outer values (constants of the loop). */
const stateConsts = (state: BodyState) => {
  const read = [...state.reads.keys()].filter((v) => !state.writes.has(v))
  return { inputs: read.flatMap((v) => state.reads.get(v)!.inputs), outer: read.flatMap((v) => state.reads.get(v)!.outer) }
}

/** Evaluates the results when nothing outside can still differentiate them, then commits the state. */
const finishCall = (parent: Variable.StateHandler, outs: ReadonlyArray<Tensor.Tensor>, first: number, written: ReadonlyArray<Var>) =>
  Effect.gen(function* () {
    const settled = yield* Internal.settle(outs)
    if (written.length > 0) {
      let k = first
      const entries = written.map((v) => {
        const n = v.avals.length
        const value = Pytree.unflatten(v.def, settled.slice(k, k + n))
        k += n
        return [v, value] as const
      })
      yield* parent.writeAll(entries)
    }
    return settled
  })

const badWrite = (leaves: ReadonlyArray<Tensor.Tensor>) => leaves.find((t) => t.op === "error")

/** scan with the name used in messages (scan, or fori). */
const scanImpl = (name: string, body: unknown, init: unknown, xs: unknown, options: ScanOptions | undefined): Effect.Effect<[unknown, unknown], unknown, unknown> =>
  Effect.gen(function* () {
    const { fn, checkpoint } = unwrap(body)
    if (typeof fn !== "function") return yield* Effect.fail(notFunction(name, "the body", fn))
    if (options !== undefined && (typeof options !== "object" || options === null))
      return yield* Effect.fail(new ControlFlowError({ message: `${name}: options must be an object { length?, reverse? }, got ${Internal.describeValue(options)}` }))
    const reverse = options?.reverse === true
    const c0 = yield* leavesOf(name, "init", init)
    const hasXs = xs !== null && xs !== undefined
    const x0 = hasXs ? yield* leavesOf(name, "xs", xs) : { leaves: [] as Tensor.Tensor[], def: Pytree.flatten(null)[1], tree: null }
    let length = options?.length
    if (length !== undefined && (!Number.isInteger(length) || length < 0))
      return yield* Effect.fail(new ControlFlowError({ message: `${name}: length must be a non-negative integer, got ${Internal.describeValue(length)}` }))
    for (let i = 0; i < x0.leaves.length; i++) {
      const x = x0.leaves[i]!
      if (x.ndim === 0) return yield* Effect.fail(new ControlFlowError({ message: `${name}: xs leaf ${i} is a scalar (${x.dtype}[]); every xs leaf needs a leading axis to scan over` }))
      const n = x.shape[0]!
      if (length !== undefined && n !== length)
        return yield* Effect.fail(
          new ControlFlowError({
            message:
              i === 0 && options?.length !== undefined
                ? `${name}: xs has leading length ${n} (leaf 0, ${x.dtype}[${x.shape.join(", ")}]) but options.length is ${length}`
                : `${name}: xs have different lengths: leaf 0 has ${length} (${x0.leaves[0]!.dtype}[${x0.leaves[0]!.shape.join(", ")}]) and leaf ${i} has ${n} (${x.dtype}[${x.shape.join(", ")}])`
          })
        )
      length = n
    }
    if (length === undefined) return yield* Effect.fail(new ControlFlowError({ message: `${name}: xs is null, so options.length (the number of steps) is required` }))
    const T = length

    // trace the body once
    const carryIns = c0.leaves.map(Internal.freshInput)
    const xIns = x0.leaves.map((x) => Internal.freshInput({ shape: x.shape.slice(1), dtype: x.dtype }))
    const parent = yield* Variable.CurrentStateHandler
    const state = new BodyState(parent)
    const ret = yield* callFn(fn as Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>, [
      Pytree.unflatten(c0.def, carryIns),
      hasXs ? Pytree.unflatten(x0.def, xIns) : null
    ]).pipe(Effect.provideService(Variable.CurrentStateHandler, state))
    if (!Array.isArray(ret) || ret.length !== 2)
      return yield* Effect.fail(new ControlFlowError({ message: `${name}: the body must return a pair [carry, y], got ${Internal.describeValue(ret)}` }))
    const c1 = yield* leavesOf(name, "the body's carry", ret[0])
    const bad = checkSame(name, "the carry the body returns", c1, "init", c0)
    if (bad) return yield* Effect.fail(bad)
    const y1 = yield* leavesOf(name, "the body's y", ret[1])
    const st = yield* stateCarries(state)
    const failed = badWrite(st.outs)
    if (failed) return yield* Effect.fail(failed.error!)
    const reads = stateConsts(state)
    const own = [...carryIns, ...st.inputs, ...xIns, ...reads.inputs]
    const outputs = [...c1.leaves, ...st.outs, ...y1.leaves]
    const caps = capturesOf(outputs, own)
    const program = Internal.closeProgram([...own, ...caps], outputs)
    yield* Internal.foldConstants(program, yield* Backend)
    const nc = c0.leaves.length + st.inputs.length
    const outs = Internal.loopNode(
      { kind: "scan", body: program, length: T, reverse, numCarry: nc, numX: xIns.length, checkpoint },
      [...c0.leaves, ...st.outer, ...x0.leaves, ...reads.outer, ...caps]
    )
    const settled = yield* finishCall(parent, outs, c0.leaves.length, st.written)
    return [Pytree.unflatten(c0.def, settled.slice(0, c0.leaves.length)), Pytree.unflatten(y1.def, settled.slice(nc))] as [unknown, unknown]
  })

/**
 * Loops `body` over the leading axis of `xs` (a pytree of tensors of equal
 * leading length, or `null` with `options.length`), threading a carry:
 * `body(carry, x)` returns `[carry, y]`; the result is `[final carry, ys]`
 * with the ys stacked on a new axis 0. The body is traced once.
 *
 * Reverse mode stores one set of residuals per step; `scan(checkpoint(body),
 * ...)` stores only the carries and recomputes the rest in the backward
 * pass. Variables written in the body are carried and committed at the end.
 *
 * Fails with ControlFlowError when the carry the body returns differs from
 * `init` in structure, shape or dtype, or when xs have different lengths.
 *
 * @example
 * ```ts
 * // x ← x + dt·(tanh(W x) − x), 1,000 steps, keeping every state
 * const [xT, xs] = yield* scan((x: Tensor.Tensor) => {
 *   const next = Tensor.add(x, Tensor.mul(dt, Tensor.sub(Tensor.tanh(Tensor.matmul(W, x)), x)))
 *   return [next, next]
 * }, x0, null, { length: 1000 })
 * ```
 */
export const scan = <C, X, Y, E = never, R = never>(
  body: (carry: C, x: X) => Effect.Effect<readonly [C, Y], E, R> | readonly [C, Y],
  init: C,
  xs: X | null,
  options?: ScanOptions
): Effect.Effect<[C, Y], E | Errors, R> => scanImpl("scan", body, init, xs, options) as Effect.Effect<[C, Y], E | Errors, R>

/**
 * `body(i, carry)` for `i` from `lower` to `upper - 1` (an int32 scalar),
 * returning the final carry. With number bounds it is a `scan` (every
 * transform applies, reverse mode included); with tensor bounds it is a
 * `whileLoop` (forward mode and vmap only).
 * @example
 * ```ts
 * const x = yield* fori(0, 100, (_i, x: Tensor.Tensor) => Tensor.mul(x, 0.99), x0)
 * ```
 */
export const fori = <C, E = never, R = never>(
  lower: number | Tensor.Tensor,
  upper: number | Tensor.Tensor,
  body: (i: Tensor.Tensor, carry: C) => Effect.Effect<C, E, R> | C,
  init: C
): Effect.Effect<C, E | Errors, R> =>
  Effect.suspend(() => {
    const { fn, checkpoint } = unwrap(body)
    if (typeof fn !== "function") return Effect.fail(notFunction("fori", "the body", fn))
    const f = fn as (i: Tensor.Tensor, c: C) => Effect.Effect<C, E, R> | C
    if (typeof lower === "number" && typeof upper === "number") {
      if (!Number.isInteger(lower) || !Number.isInteger(upper))
        return Effect.fail(new ControlFlowError({ message: `fori: number bounds must be integers, got ${lower} and ${upper}` }))
      const step = ([i, c]: readonly [Tensor.Tensor, C]) =>
        Effect.map(callFn(f, [i, c]), (next) => [[Tensor.add(i, Tensor.make(1, { dtype: "int32" })), next], null] as const)
      const wrapped = checkpoint ? checkpointMark(step) : step
      return Effect.map(scanImpl("fori", wrapped, [Tensor.make(lower, { dtype: "int32" }), init], null, { length: Math.max(0, upper - lower) }), ([c]) => (c as [unknown, C])[1])
    }
    const lo = typeof lower === "number" ? Tensor.make(lower, { dtype: "int32" }) : Tensor.cast(lower, "int32")
    const hi = typeof upper === "number" ? Tensor.make(upper, { dtype: "int32" }) : Tensor.cast(upper, "int32")
    return Effect.map(
      whileImpl(
        "fori",
        ([i, h]: readonly [Tensor.Tensor, Tensor.Tensor, C]) => Tensor.less(i, h),
        ([i, h, c]: readonly [Tensor.Tensor, Tensor.Tensor, C]) => Effect.map(callFn(f, [i, c]), (next) => [Tensor.add(i, Tensor.make(1, { dtype: "int32" })), h, next] as const),
        [lo, hi, init]
      ),
      (c) => (c as [unknown, unknown, C])[2]
    ) as Effect.Effect<C, E | Errors, R>
  }) as Effect.Effect<C, E | Errors, R>

/** A scalar predicate as a bool tensor (numbers: nonzero is true), or a ControlFlowError naming what it got. */
const predicate = (name: string, what: string, p: unknown): Tensor.Tensor | ControlFlowError => {
  if (typeof p === "boolean") return Tensor.make(p ? 1 : 0, { dtype: "bool" })
  if (typeof p === "number") return Tensor.make(p !== 0 ? 1 : 0, { dtype: "bool" })
  if (!Tensor.isTensor(p)) return new ControlFlowError({ message: `${name}: ${what} must be a scalar tensor or a boolean, got ${Internal.describeValue(p)}` })
  if (p.ndim !== 0) return new ControlFlowError({ message: `${name}: ${what} must be a scalar, got ${p.dtype}[${p.shape.join(", ")}]` })
  return p.dtype === "bool" ? p : Tensor.cast(p, "bool")
}

const whileImpl = (name: string, condFn: unknown, body: unknown, init: unknown): Effect.Effect<unknown, unknown, unknown> =>
  Effect.gen(function* () {
    if (typeof condFn !== "function") return yield* Effect.fail(notFunction(name, "condFn", condFn))
    if (typeof body !== "function") return yield* Effect.fail(notFunction(name, "the body", body))
    const c0 = yield* leavesOf(name, "init", init)
    const carryIns = c0.leaves.map(Internal.freshInput)
    const parent = yield* Variable.CurrentStateHandler
    const state = new BodyState(parent)
    const carryTree = Pytree.unflatten(c0.def, carryIns)
    const p = predicate(name, "condFn's result", yield* callFn(condFn as Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>, [carryTree]).pipe(Effect.provideService(Variable.CurrentStateHandler, state)))
    if (p instanceof ControlFlowError) return yield* Effect.fail(p)
    if (p.op === "error") return yield* Effect.fail(p.error!)
    if (state.writes.size > 0) return yield* Effect.fail(new ControlFlowError({ message: `${name}: condFn must not write Variables (it wrote ${[...state.writes.keys()].map((v) => v.label).join(", ")})` }))
    const ret = yield* callFn(body as Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>, [carryTree]).pipe(Effect.provideService(Variable.CurrentStateHandler, state))
    const c1 = yield* leavesOf(name, "the body's carry", ret)
    const bad = checkSame(name, "the carry the body returns", c1, "init", c0)
    if (bad) return yield* Effect.fail(bad)
    const st = yield* stateCarries(state)
    const failed = badWrite(st.outs)
    if (failed) return yield* Effect.fail(failed.error!)
    const reads = stateConsts(state)
    const own = [...carryIns, ...st.inputs, ...reads.inputs]
    const bodyOuts = [...c1.leaves, ...st.outs]
    const caps = capturesOf([p, ...bodyOuts], own)
    const ins = [...own, ...caps]
    const backend = yield* Backend
    const bodyProgram = Internal.closeProgram(ins, bodyOuts)
    const condProgram = Internal.closeProgram(ins, [p])
    yield* Internal.foldConstants(bodyProgram, backend)
    yield* Internal.foldConstants(condProgram, backend)
    const nc = carryIns.length + st.inputs.length
    const outs = Internal.loopNode({ kind: "while", body: bodyProgram, cond: condProgram, numCarry: nc }, [...c0.leaves, ...st.outer, ...reads.outer, ...caps])
    const settled = yield* finishCall(parent, outs, c0.leaves.length, st.written)
    return Pytree.unflatten(c0.def, settled.slice(0, c0.leaves.length))
  })

/**
 * Repeats `body` while `condFn(carry)` (a bool scalar) is true; returns the
 * final carry. Forward mode and `vmap` apply (a batched predicate runs
 * until every example is done); reverse mode fails with ControlFlowError
 * (use `fori` with number bounds, or `scan`).
 * @example
 * ```ts
 * const n = yield* whileLoop((x: Tensor.Tensor) => Tensor.less(x, 100), (x) => Tensor.mul(x, 2), Tensor.make(1))
 * ```
 */
export const whileLoop = <C, E = never, R = never>(
  condFn: (carry: C) => Effect.Effect<Tensor.Tensor | boolean, E, R> | Tensor.Tensor | boolean,
  body: (carry: C) => Effect.Effect<C, E, R> | C,
  init: C
): Effect.Effect<C, E | Errors, R> => whileImpl("whileLoop", condFn, body, init) as Effect.Effect<C, E | Errors, R>

/**
 * `onTrue(...operands)` when `pred` is true, else `onFalse(...operands)`
 * (`pred`: a scalar tensor, bool or number, or a boolean). Only the chosen
 * branch runs; under `vmap` with a batched predicate both run and each
 * example takes its own. The branches must return the same structure,
 * shapes and dtypes (else ControlFlowError naming both).
 * @example
 * ```ts
 * const y = yield* cond(Tensor.greater(x, 0), (x) => Tensor.sqrt(x), (x) => Tensor.neg(x), x)
 * ```
 */
export const cond = <Ops extends ReadonlyArray<unknown>, Out, E = never, R = never>(
  pred: Tensor.Tensor | boolean,
  onTrue: (...operands: Ops) => Effect.Effect<Out, E, R> | Out,
  onFalse: (...operands: Ops) => Effect.Effect<Out, E, R> | Out,
  ...operands: Ops
): Effect.Effect<Out, E | Errors, R> =>
  Effect.gen(function* () {
    if (typeof onTrue !== "function") return yield* Effect.fail(notFunction("cond", "onTrue", onTrue))
    if (typeof onFalse !== "function") return yield* Effect.fail(notFunction("cond", "onFalse", onFalse))
    if (typeof pred === "boolean") return yield* callFn(pred ? onTrue : onFalse, operands)
    const p = predicate("cond", "pred", pred)
    if (p instanceof ControlFlowError) return yield* Effect.fail(p)
    if (p.op === "error") return yield* Effect.fail(p.error!)
    const ops = yield* leavesOf("cond", "operands", operands)
    const parent = yield* Variable.CurrentStateHandler
    const branches = []
    for (const f of [onTrue, onFalse]) {
      const ins = ops.leaves.map(Internal.freshInput)
      const state = new BodyState(parent)
      const ret = yield* callFn(f, Pytree.unflatten<Ops>(ops.def, ins)).pipe(Effect.provideService(Variable.CurrentStateHandler, state))
      const out = yield* leavesOf("cond", f === onTrue ? "onTrue's result" : "onFalse's result", ret)
      branches.push({ ins, state, out })
    }
    const [t, f] = branches as [(typeof branches)[0], (typeof branches)[0]]
    const bad = checkSame("cond", "onTrue returns a value that", t.out, "onFalse's", f.out)
    if (bad) return yield* Effect.fail(bad)
    // state written in either branch is an output of both (the other passes its value through)
    const written = [...new Set([...t.state.writes.keys(), ...f.state.writes.keys()])]
    const stateOuts: Tensor.Tensor[][] = []
    for (const b of branches) {
      const leaves: Tensor.Tensor[] = []
      for (const v of written) leaves.push(...Pytree.flatten(yield* b.state.read(v))[0])
      const failed = badWrite(leaves)
      if (failed) return yield* Effect.fail(failed.error!)
      stateOuts.push(leaves)
    }
    const consts = branches.map((b, i) => {
      const reads = [...b.state.reads.values()]
      const own = [...b.ins, ...reads.flatMap((r) => r.inputs)]
      const outputs = [...b.out.leaves, ...stateOuts[i]!]
      const caps = capturesOf(outputs, own)
      return { inputs: [...reads.flatMap((r) => r.inputs), ...caps], outer: [...reads.flatMap((r) => r.outer), ...caps], outputs }
    })
    const programs = branches.map((b, i) => {
      const mine = consts[i]!
      const other = consts[1 - i]!
      const placeholders = other.inputs.map(Internal.freshInput)
      const list = i === 0 ? [...b.ins, ...mine.inputs, ...placeholders] : [...b.ins, ...placeholders, ...mine.inputs]
      return Internal.closeProgram(list, mine.outputs)
    })
    const backend = yield* Backend
    for (const prog of programs) yield* Internal.foldConstants(prog, backend)
    const outs = Internal.loopNode({ kind: "cond", branches: programs, hasPred: true }, [p, ...ops.leaves, ...consts[0]!.outer, ...consts[1]!.outer])
    const settled = yield* finishCall(parent, outs, t.out.leaves.length, written)
    return Pytree.unflatten<Out>(t.out.def, settled.slice(0, t.out.leaves.length))
  }) as Effect.Effect<Out, E | Errors, R>

const checkpointMark = <F extends (...args: never) => unknown>(f: F): F => {
  const g = ((...args: ReadonlyArray<unknown>) => callCheckpointed(f, args)) as unknown as F
  Object.defineProperty(g, Checkpointed, { value: f })
  return g
}

/** A checkpointed call outside a scan: one application whose reverse mode recomputes it. */
const callCheckpointed = (f: unknown, args: ReadonlyArray<unknown>): Effect.Effect<unknown, unknown, unknown> =>
  Effect.gen(function* () {
    const a = yield* leavesOf("checkpoint", "the arguments", args)
    const ins = a.leaves.map(Internal.freshInput)
    const parent = yield* Variable.CurrentStateHandler
    const state = new BodyState(parent)
    const ret = yield* callFn(f as Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>, Pytree.unflatten<ReadonlyArray<unknown>>(a.def, ins)).pipe(
      Effect.provideService(Variable.CurrentStateHandler, state)
    )
    const out = yield* leavesOf("checkpoint", "the result", ret)
    if (out.leaves.length === 0) return ret
    const st = yield* stateCarries(state)
    const failed = badWrite(st.outs)
    if (failed) return yield* Effect.fail(failed.error!)
    const reads = stateConsts(state)
    const own = [...ins, ...st.inputs, ...reads.inputs]
    const outputs = [...out.leaves, ...st.outs]
    const caps = capturesOf(outputs, own)
    const program = Internal.closeProgram([...own, ...caps], outputs)
    yield* Internal.foldConstants(program, yield* Backend)
    const outs = Internal.loopNode({ kind: "cond", branches: [program], hasPred: false }, [...a.leaves, ...st.outer, ...reads.outer, ...caps])
    const settled = yield* finishCall(parent, outs, out.leaves.length, st.written)
    return Pytree.unflatten(out.def, settled.slice(0, out.leaves.length))
  })

/**
 * `f` with the same signature, rematerialized in reverse mode: its
 * intermediate values are not kept for the backward pass but recomputed
 * from its arguments. `scan(checkpoint(body), ...)` (or `fori`) keeps only
 * the carries of each step, so the gradient of a long simulation fits in
 * memory.
 * @example
 * ```ts
 * const [xT] = yield* scan(checkpoint(step), x0, null, { length: 100_000 })
 * ```
 */
export const checkpoint = <F extends (...args: never) => unknown>(f: F): F => checkpointMark(f)
