/**
 * `jit`: trace a function once per signature into a program, then replay
 * the program without running the function's JavaScript.
 * @module
 */
import * as Effect from "effect/Effect"
import {
  ArgnumsError,
  Backend,
  DTypeError,
  Internal,
  OptionsError,
  Pytree,
  StateError,
  Tensor,
  type TensorError,
  Variable
} from "@diffect/core"
import { isOptionsObject } from "./internal/options.js"
import { callFn, type Fn } from "./internal/trace.js"

/** Options of `jit`. */
export interface JitOptions {
  /**
   * Arguments that are not traced but part of the signature, compared by
   * value (numbers, strings, booleans, null) or by identity (objects and
   * functions): a new value traces again.
   */
  readonly staticArgnums?: number | ReadonlyArray<number> | undefined
}

/** How many signatures one jitted function keeps (least recently used ones go first). */
export const JIT_CACHE_SIZE = 32

type Var = Variable.Variable<unknown>

/** One traced signature. */
interface Entry {
  readonly program: Internal.Program
  /** Variables read (program inputs after the arguments' leaves), with their structures. */
  readonly reads: ReadonlyArray<Var>
  /** Variables written (program outputs after the result's leaves). */
  readonly writes: ReadonlyArray<Var>
  readonly outDef: Pytree.TreeDef
  readonly outCount: number
  /** Whether the program reads inputs of an enclosing transform (then it is inlined, never run on its own). */
  readonly open: boolean
}

const describe = Internal.describeValue

/** The state handler while tracing: every Variable read is a fresh unbound input; writes are recorded. */
class Tracer implements Variable.StateHandler {
  readonly reads: Var[] = []
  readonly readInputs: Internal.Tensor[] = []
  readonly seen = new Map<Var, unknown>()
  readonly writes = new Map<Var, unknown>()
  read = (v: Var): Effect.Effect<unknown, TensorError> =>
    Effect.sync(() => {
      if (this.writes.has(v)) return this.writes.get(v)
      let value = this.seen.get(v)
      if (value === undefined) {
        const inputs = v.avals.map((a) => Internal.inputTensor(a.shape, a.dtype, undefined, "jit"))
        this.readInputs.push(...inputs)
        this.reads.push(v)
        value = Pytree.unflatten(v.def, inputs)
        this.seen.set(v, value)
      }
      return value
    })
  writeAll = (entries: ReadonlyArray<readonly [Var, unknown]>): Effect.Effect<void, TensorError> =>
    Effect.sync(() => {
      for (const [v, x] of entries) this.writes.set(v, x)
    })
}

/** Object identities for static arguments compared by identity. */
const ids = new WeakMap<object, number>()
let nextId = 0
const idOf = (o: object): number => {
  let id = ids.get(o)
  if (id === undefined) ids.set(o, (id = nextId++))
  return id
}

const staticKey = (u: unknown): string => {
  switch (typeof u) {
    case "number":
      return `n${Object.is(u, -0) ? "-0" : String(u)}`
    case "string":
      return `s${JSON.stringify(u)}`
    case "boolean":
    case "bigint":
    case "undefined":
      return `${(typeof u)[0]}${String(u)}`
    case "symbol":
      return `y${String(u.description)}`
    default:
      return u === null ? "null" : `o${idOf(u as object)}`
  }
}

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && [Object.prototype, null].includes(Object.getPrototypeOf(u))

/**
 * Walks a traced argument: its leaves (numbers become float32 scalars) and
 * its part of the signature. Anything that is not a tensor, a number, null,
 * or an array or plain object of them is a DTypeError.
 */
const walkArg = (u: unknown, path: string, leaves: Internal.Tensor[], key: string[]): DTypeError | undefined => {
  if (Tensor.isTensor(u)) {
    leaves.push(u)
    key.push(u.dtype, "[", u.shape.join(","), "]")
    return undefined
  }
  if (typeof u === "number") {
    leaves.push(Internal.scalar(u, "float32"))
    key.push("float32[]")
    return undefined
  }
  if (u === null || u === undefined) {
    key.push(u === null ? "N" : "U")
    return undefined
  }
  if (Array.isArray(u)) {
    key.push("(")
    for (let i = 0; i < u.length; i++) {
      const bad = walkArg(u[i], `${path}[${i}]`, leaves, key)
      if (bad) return bad
    }
    key.push(")")
    return undefined
  }
  if (isPlainObject(u)) {
    key.push("{")
    for (const k of Object.keys(u).sort()) {
      key.push(JSON.stringify(k), ":")
      const bad = walkArg(u[k], `${path}.${k}`, leaves, key)
      if (bad) return bad
    }
    key.push("}")
    return undefined
  }
  return new DTypeError({
    message: `jit: argument ${path} must be a Tensor, a number, or an array or plain object of them, got ${describe(u)}; pass other values as static arguments (staticArgnums)`
  })
}

/** Replaces the leaves of the traced arguments by `leaves`, in order. */
const rebuildArgs = (args: ReadonlyArray<unknown>, isStatic: ReadonlyArray<boolean>, leaves: ReadonlyArray<Internal.Tensor>): unknown[] => {
  let k = 0
  const go = (u: unknown): unknown => {
    if (Tensor.isTensor(u) || typeof u === "number") return leaves[k++]
    if (Array.isArray(u)) return u.map(go)
    if (isPlainObject(u)) return Object.fromEntries(Object.keys(u).sort().map((key) => [key, go(u[key])]))
    return u
  }
  return args.map((a, i) => (isStatic[i] ? a : go(a)))
}

const checkOptions = (options: unknown): OptionsError | ReadonlyArray<number> => {
  if (options === undefined || options === null) return []
  if (!isOptionsObject(options)) return new OptionsError({ message: `jit: options must be an object { staticArgnums }, got ${describe(options)}` })
  const unknown = Object.keys(options).filter((k) => k !== "staticArgnums")
  if (unknown.length > 0) return new OptionsError({ message: `jit: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (expected staticArgnums)` })
  const s = (options as JitOptions).staticArgnums
  if (s === undefined) return []
  const list = typeof s === "number" ? [s] : s
  if (!Array.isArray(list) || !list.every((n) => Number.isInteger(n)))
    return new OptionsError({ message: `jit: staticArgnums must be an integer or an array of integers, got ${describe(s)}` })
  return list
}

/**
 * Compiles `f`: the first call for a signature (the structure, shapes and
 * dtypes of the arguments, the values of the static ones) runs `f` once,
 * with abstract arguments, to trace a program; later calls with that
 * signature run the program without running `f`'s JavaScript (a counter
 * or a log inside `f` moves only when it traces, as in JAX).
 *
 * Variables `f` reads are inputs of the program, and what it writes are
 * outputs, committed all together when the call succeeds (nothing is
 * written when it fails). `Random` draws inside advance the key on every
 * call. `jit` composes with every transform, in every order
 * (`grad(jit(f))`, `jit(grad(f))`, `vmap(jit(f))`, `jit(jit(f))`).
 * Reading a value inside `f` while it is traced fails with
 * `ConcretizationError`: values are not known then.
 *
 * @example
 * ```ts
 * const step = jit(() => Effect.gen(function* () {
 *   const [loss, g] = yield* valueAndGrad(lossFn, { gradVars: params })()
 *   yield* Variable.update(params.w, (w) => Tensor.sub(w, Tensor.mul(g.w, 0.1)))
 *   return loss
 * }))
 * const loss = yield* step() // traced once, then replayed
 * ```
 */
export const jit = <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never>(
  f: Fn<Args, Ret, E, R>,
  options?: JitOptions
): ((...args: Args) => Effect.Effect<Ret, E | TensorError | OptionsError | ArgnumsError | StateError, R>) => {
  const cache = new Map<string, { readonly entry: Entry; used: number }>()
  let clock = 0
  const opts = checkOptions(options)

  const traceEntry = (args: ReadonlyArray<unknown>, isStatic: ReadonlyArray<boolean>, leaves: ReadonlyArray<Internal.Tensor>) =>
    Effect.gen(function* () {
      const inputs = leaves.map((t) => Internal.inputTensor(t.shape, t.dtype, undefined, "jit"))
      const tracer = new Tracer()
      const ret = yield* callFn(f as Fn<ReadonlyArray<unknown>, unknown, E, R>, rebuildArgs(args, isStatic, inputs)).pipe(
        Effect.provideService(Variable.CurrentStateHandler, tracer)
      )
      const [outLeaves, outDef] = Pytree.flatten(ret)
      const bad = outLeaves.find((t) => t.op === "error")
      if (bad) return yield* Effect.fail(bad.error!)
      const writes = [...tracer.writes.keys()]
      const writeLeaves = writes.flatMap((v) => Pytree.flatten(tracer.writes.get(v))[0])
      const badWrite = writeLeaves.find((t) => t.op === "error")
      if (badWrite) return yield* Effect.fail(badWrite.error!)
      const program = Internal.makeProgram([...inputs, ...tracer.readInputs], [...outLeaves, ...writeLeaves])
      yield* Internal.foldConstants(program, yield* Backend)
      const entry: Entry = { program, reads: tracer.reads, writes, outDef, outCount: outLeaves.length, open: Internal.isOpen(program) }
      return entry
    })

  return (...args: Args) =>
    Effect.suspend((): Effect.Effect<Ret, E | TensorError | OptionsError | ArgnumsError | StateError, R> => {
      if (typeof f !== "function") return Effect.fail(new OptionsError({ message: `jit: expected a function to compile, got ${describe(f)}` }))
      if (opts instanceof OptionsError) return Effect.fail(opts)
      const isStatic = args.map(() => false)
      for (const n of opts) {
        const i = n < 0 ? n + args.length : n
        if (i < 0 || i >= args.length)
          return Effect.fail(new ArgnumsError({ message: `jit: staticArgnums ${n} is out of range for a call with ${args.length} argument${args.length === 1 ? "" : "s"}` }))
        if (Tensor.isTensor(args[i]))
          return Effect.fail(
            new ArgnumsError({
              message: `jit: staticArgnums ${n} points at a Tensor (${args[i].dtype}[${args[i].shape.join(", ")}]); static arguments are compared by value, so pass tensors as traced arguments`
            })
          )
        isStatic[i] = true
      }
      const leaves: Internal.Tensor[] = []
      const key: string[] = [String(args.length), ";"]
      for (let i = 0; i < args.length; i++) {
        if (isStatic[i]) key.push("S", staticKey(args[i]), ";")
        else {
          const bad = walkArg(args[i], String(i), leaves, key)
          if (bad) return Effect.fail(bad)
          key.push(";")
        }
      }
      const failed = leaves.find((t) => t.op === "error")
      if (failed) return Effect.fail(failed.error!)
      const k = key.join("")
      const hit = cache.get(k)
      if (hit !== undefined) {
        hit.used = ++clock
        return replay(hit.entry, leaves)
      }
      const entry: Effect.Effect<Entry, E | TensorError | OptionsError | StateError, R> = Effect.map(traceEntry(args, isStatic, leaves), (e) => {
        if (!e.open) {
          if (cache.size >= JIT_CACHE_SIZE) {
            // the least recently used signature goes
            let oldest: string | undefined
            let at = Infinity
            for (const [key, c] of cache) if (c.used < at) [oldest, at] = [key, c.used]
            cache.delete(oldest!)
          }
          cache.set(k, { entry: e, used: ++clock })
        }
        return e
      })
      return Effect.flatMap(entry, (e) => replay(e, leaves))
    })
}

/** Runs a traced entry on the arguments' leaves: inline under a running transform, else the compiled plan. */
const replay = <Ret>(e: Entry, leaves: ReadonlyArray<Internal.Tensor>): Effect.Effect<Ret, TensorError | StateError> =>
  e.reads.length === 0 && e.writes.length === 0
    ? Effect.map(outputs(e, leaves), (o) => Pytree.unflatten<Ret>(e.outDef, o))
    : Effect.flatMap(Effect.service(Variable.CurrentStateHandler), (handler) =>
        Effect.flatMap(readAll(handler, e.reads), (varLeaves) =>
          Effect.flatMap(outputs(e, varLeaves.length === 0 ? leaves : [...leaves, ...varLeaves]), (o) => {
            const result = Pytree.unflatten<Ret>(e.outDef, o.slice(0, e.outCount))
            if (e.writes.length === 0) return Effect.succeed(result)
            let k = e.outCount
            const entries = e.writes.map((v) => {
              const n = v.avals.length
              const value = Pytree.unflatten(v.def, o.slice(k, k + n))
              k += n
              return [v, value] as const
            })
            return Effect.as(handler.writeAll(entries), result)
          })
        )
      )

/** The program's outputs for these inputs: inlined under a running transform, else run on the backend. */
const outputs = (e: Entry, ins: ReadonlyArray<Internal.Tensor>): Effect.Effect<ReadonlyArray<Internal.Tensor>, TensorError> =>
  e.open || Internal.hasLiveInputs(ins)
    ? Effect.sync(() => Internal.inline(e.program, ins))
    : Effect.flatMap(Effect.service(Backend), (backend) => Internal.run(e.program, backend, ins))

/** The current values of the Variables a program reads, flattened. */
const readAll = (handler: Variable.StateHandler, reads: ReadonlyArray<Var>): Effect.Effect<ReadonlyArray<Internal.Tensor>, TensorError> => {
  if (reads.length === 0) return Effect.succeed([])
  return Effect.map(
    Effect.forEach(reads, (v) => handler.read(v)),
    (values) => values.flatMap((x) => Pytree.flatten(x)[0])
  )
}
