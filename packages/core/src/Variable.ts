/**
 * State variables: mutable cells holding a tensor (or a pytree of tensors)
 * whose reads and writes are effects. Outside any transform they read and
 * write the cell; inside a transform call they are handled by that call's
 * transaction (fiber-local), which captures what is read and commits what is
 * written only when the call succeeds.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tensor, Variable } from "@diffect/core"
 * const program = Effect.gen(function* () {
 *   const w = yield* Variable.make(Tensor.zeros([3]))
 *   yield* Variable.update(w, (x) => Tensor.add(x, 1))
 *   return yield* Tensor.toArray(yield* Variable.get(w)) // [1, 1, 1]
 * })
 * ```
 * @module
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { DType } from "./DType.js"
import { StateError, type TensorError } from "./Errors.js"
import { describeValue } from "./internal/guard.js"
import { settle } from "./internal/settle.js"
import { fmt } from "./internal/shape.js"
import { inputTensor, type Tensor } from "./internal/tensor.js"
import * as Pytree from "./Pytree.js"

const VariableTypeId: unique symbol = Symbol.for("diffect/Variable")
let nextId = 0

/** Every live Variable, weakly (a backend whose device is lost names the Variables whose values it held). */
const live = new Set<WeakRef<Variable<unknown>>>()
const forget = new FinalizationRegistry<WeakRef<Variable<unknown>>>((ref) => live.delete(ref))

interface LeafAval {
  readonly shape: ReadonlyArray<number>
  readonly dtype: DType
}

/** A state variable holding a value of type `A` (a tensor or a pytree of tensors). */
export class Variable<A = Tensor> {
  readonly [VariableTypeId] = VariableTypeId
  /** A unique number (for debugging and messages). */
  readonly id = nextId++
  /** @internal the committed value */
  current: A
  /** @internal */ readonly def: Pytree.TreeDef
  /** @internal */ readonly avals: ReadonlyArray<LeafAval>
  /** @internal use `Variable.make` / `TrainVar.make` */
  constructor(
    init: A,
    /** An optional name used in messages. */
    readonly name: string | undefined,
    /** Whether the variable is trainable (a TrainVar). */
    readonly trainable: boolean
  ) {
    this.current = init
    const ref = new WeakRef<Variable<unknown>>(this)
    live.add(ref)
    forget.register(this, ref)
    const [leaves, def] = Pytree.flatten(init)
    this.def = def
    this.avals = leaves.map((t) => ({ shape: t.shape, dtype: t.dtype }))
  }
  /** A label for messages: the name, or `Variable#id`. */
  get label(): string {
    return this.name ?? `${this.trainable ? "TrainVar" : "Variable"}#${this.id}`
  }
  toString(): string {
    return `Variable(${this.label})`
  }
}

/**
 * @internal For backends: the label and leaf avals of each live Variable
 * whose committed value has a leaf kept only in a device buffer whose
 * handle satisfies `held` (a WebGPU backend names, when its device is
 * lost, the Variables whose values were only on it).
 */
export const holding = (held: (handle: unknown) => boolean): Array<string> => {
  const out: string[] = []
  for (const ref of live) {
    const v = ref.deref()
    if (v === undefined) continue
    const [leaves] = Pytree.flatten(v.current)
    const lost = leaves.flatMap((t, i) => (t.host === undefined && t.buf !== undefined && held(t.buf.handle) ? [`${t.dtype}${fmt(t.shape)}${leaves.length > 1 ? ` at leaf ${i}` : ""}`] : []))
    if (lost.length > 0) out.push(`${v.label} (${lost.join(", ")})`)
  }
  return out
}

/** Whether `u` is a Variable. */
export const isVariable = (u: unknown): u is Variable<unknown> => typeof u === "object" && u !== null && VariableTypeId in u

/** Options of `make`. */
export interface VariableOptions {
  readonly name?: string | undefined
  readonly trainable?: boolean | undefined
}

// ------------------------------------------------------------------ handlers

/** Who answers reads and writes: the plain cells, or a transform call's transaction. */
export interface StateHandler {
  readonly read: (v: Variable<unknown>) => Effect.Effect<unknown, TensorError>
  /** Writes several variables at once (all or nothing). */
  readonly writeAll: (entries: ReadonlyArray<readonly [Variable<unknown>, unknown]>) => Effect.Effect<void, TensorError>
}

/** The handler outside any transform: reads and writes the cells directly. */
export const directHandler: StateHandler = {
  read: (v) => Effect.succeed(v.current),
  writeAll: (entries) =>
    Effect.gen(function* () {
      // evaluate every written value first, so a failure writes nothing
      const flat = entries.map(([, x]) => Pytree.flatten(x))
      const all = flat.flatMap(([leaves]) => leaves)
      const settled = yield* settle(all)
      let k = 0
      entries.forEach(([v], i) => {
        const [leaves, def] = flat[i]!
        v.current = Pytree.unflatten(def, settled.slice(k, k + leaves.length))
        k += leaves.length
      })
    })
}

/** The fiber-local state handler (the current transform call's transaction, if any). */
export class CurrentStateHandler extends Context.Reference<StateHandler>("diffect/StateHandler", {
  defaultValue: () => directHandler
}) {}

const checkValue = (v: Variable<unknown>, value: unknown): StateError | undefined => {
  const [leaves, def] = Pytree.flatten(value)
  if (!Pytree.defEqual(def, v.def) || leaves.length !== v.avals.length)
    return new StateError({ message: `set ${v.label}: expected a value of structure ${Pytree.describe(v.def)}, got ${Pytree.describe(def)}` })
  for (let i = 0; i < leaves.length; i++) {
    const t = leaves[i]!, a = v.avals[i]!
    if (t.op === "error") return undefined // reported as its own error
    if (t.dtype !== a.dtype || t.shape.length !== a.shape.length || t.shape.some((d, j) => d !== a.shape[j]))
      return new StateError({
        message: `set ${v.label}: expected ${a.dtype}${fmt(a.shape)}${leaves.length > 1 ? ` at leaf ${i}` : ""}, got ${t.dtype}${fmt(t.shape)}`
      })
  }
  return undefined
}

// ------------------------------------------------------------------ transactions

/**
 * The state handler of one transform call. Reads go to the parent handler
 * once per variable (then are served from this call's snapshot, or from its
 * own pending writes); variables in `gradVars` are read as fresh `input`
 * nodes so the call can differentiate with respect to them. Writes stay
 * pending until `commit`.
 * @internal used by @diffect/transforms
 */
export class Transaction implements StateHandler {
  /** What the parent gave for each variable read (input nodes for gradVars). */
  readonly snapshot = new Map<Variable<unknown>, unknown>()
  /** The input node leaves standing for each gradVar that was read. */
  readonly inputs = new Map<Variable<unknown>, ReadonlyArray<Tensor>>()
  readonly writes = new Map<Variable<unknown>, unknown>()
  constructor(
    readonly parent: StateHandler,
    readonly gradVars: ReadonlySet<Variable<unknown>>
  ) {}

  read = (v: Variable<unknown>): Effect.Effect<unknown, TensorError> =>
    this.writes.has(v) ? Effect.succeed(this.writes.get(v)) : this.enter(v)

  /** The value `v` had when this call began (taken from the parent once). */
  private enter = (v: Variable<unknown>): Effect.Effect<unknown, TensorError> => {
    if (this.snapshot.has(v)) return Effect.succeed(this.snapshot.get(v))
    return Effect.map(this.parent.read(v), (value) => {
      let seen = value
      if (this.gradVars.has(v)) {
        const [leaves, def] = Pytree.flatten(value)
        const inputs = leaves.map((t) => inputTensor(t.shape, t.dtype, t))
        this.inputs.set(v, inputs)
        seen = Pytree.unflatten(def, inputs)
      }
      this.snapshot.set(v, seen)
      return seen
    })
  }

  writeAll = (entries: ReadonlyArray<readonly [Variable<unknown>, unknown]>): Effect.Effect<void, TensorError> =>
    Effect.sync(() => {
      for (const [v, x] of entries) this.writes.set(v, x)
    })

  /**
   * The input nodes of a gradVar, reading its entry value now if `f` never
   * did (also when `f` only wrote it: the gradient is then zero).
   */
  inputsOf = (v: Variable<unknown>): Effect.Effect<ReadonlyArray<Tensor>, TensorError> =>
    this.inputs.has(v) ? Effect.succeed(this.inputs.get(v)!) : Effect.map(this.enter(v), () => this.inputs.get(v)!)

  /** Hands the pending writes to the parent, all together. */
  commit = (): Effect.Effect<void, TensorError> =>
    this.writes.size === 0 ? Effect.void : this.parent.writeAll([...this.writes.entries()])

  /** Marks this call's input nodes as finished. */
  close = (): void => {
    for (const leaves of this.inputs.values()) for (const t of leaves) t.live = false
  }
}

// ------------------------------------------------------------------ the API

const notAVariable = (op: string, v: unknown): StateError =>
  new StateError({ message: `Variable.${op}: expected a Variable, got ${describeValue(v)}` })

const badOptions = (options: unknown): StateError | undefined => {
  if (options === undefined) return undefined
  if (typeof options !== "object" || options === null || Array.isArray(options))
    return new StateError({ message: `Variable.make: options must be an object { name?, trainable? }, got ${describeValue(options)}` })
  const { name, trainable } = options as { name?: unknown; trainable?: unknown }
  if (name !== undefined && typeof name !== "string") return new StateError({ message: `Variable.make: options.name must be a string, got ${describeValue(name)}` })
  if (trainable !== undefined && typeof trainable !== "boolean")
    return new StateError({ message: `Variable.make: options.trainable must be a boolean, got ${describeValue(trainable)}` })
  return undefined
}

/**
 * Creates a state variable (an effect). The initial value is evaluated (outside
 * transforms) so the variable holds data, not a pending computation.
 * @example `const w = yield* Variable.make(Tensor.zeros([784, 256]), { name: "w1" })`
 */
export const make = <A>(init: A, options: VariableOptions = {}): Effect.Effect<Variable<A>, TensorError | StateError> =>
  Effect.gen(function* () {
    const bad = badOptions(options)
    if (bad) return yield* Effect.fail(bad)
    const [leaves, def] = Pytree.flatten(init)
    if (leaves.length === 0 || (def.kind === "none"))
      return yield* Effect.fail(new StateError({ message: `Variable.make: expected a tensor or a pytree of tensors, got ${Pytree.describe(def)}` }))
    const settled = yield* settle(leaves)
    return new Variable(Pytree.unflatten<A>(def, settled), options.name, options.trainable ?? false)
  })

/**
 * Reads a variable (an effect handled by the current transform, if any).
 * @example `const w = yield* Variable.get(weights)`
 */
export const get = <A>(v: Variable<A>): Effect.Effect<A, TensorError | StateError> =>
  isVariable(v)
    ? Effect.flatMap(Effect.service(CurrentStateHandler), (h) => h.read(v as Variable<unknown>) as Effect.Effect<A, TensorError>)
    : Effect.fail(notAVariable("get", v))

/**
 * Writes a variable. A value of another structure, shape or dtype fails with
 * `StateError` and leaves the variable as it was.
 * @example `yield* Variable.set(w, Tensor.zeros([3]))`
 */
export const set = <A>(v: Variable<A>, value: A): Effect.Effect<void, TensorError | StateError> =>
  Effect.suspend((): Effect.Effect<void, TensorError | StateError> => {
    if (!isVariable(v)) return Effect.fail(notAVariable("set", v))
    const bad = checkValue(v as Variable<unknown>, value)
    if (bad) return Effect.fail(bad)
    const [leaves] = Pytree.flatten(value)
    const err = leaves.find((t) => t.op === "error")
    if (err) return Effect.fail(err.error!)
    return Effect.flatMap(Effect.service(CurrentStateHandler), (h) => h.writeAll([[v as Variable<unknown>, value]]))
  })

/**
 * Reads, applies `f`, writes.
 * @example `yield* Variable.update(counter, (c) => Tensor.add(c, 1))`
 */
export const update = <A>(v: Variable<A>, f: (a: A) => A): Effect.Effect<void, TensorError | StateError> =>
  typeof f !== "function" && isVariable(v)
    ? Effect.fail(new StateError({ message: `Variable.update ${v.label}: expected a function of the value, got ${describeValue(f)}` }))
    : Effect.flatMap(get(v), (a) => set(v, f(a)))

/** Whether a variable is a TrainVar. */
export const isTrainVar = (v: Variable<unknown>): boolean => v.trainable

