/**
 * Running the user's function inside a transform call: fresh `input` nodes
 * for the arguments being transformed, a state Transaction as the
 * fiber-local handler, and the output checked and flattened.
 */
import * as Effect from "effect/Effect"
import { AuxError, DTypeError, Internal, OptionsError, Pytree, Tensor, type TensorError, Variable } from "@diffect/core"

type Tx = InstanceType<typeof Variable.Transaction>

/** A function a transform accepts: it returns an Effect or a plain value. */
export type Fn<Args extends ReadonlyArray<unknown>, Ret, E, R> = (...args: Args) => Effect.Effect<Ret, E, R> | Ret

/** Calls `f`, accepting a plain return value as well as an Effect. */
export const callFn = <Args extends ReadonlyArray<unknown>, Ret, E, R>(f: Fn<Args, Ret, E, R>, args: Args): Effect.Effect<Ret, E, R> =>
  Effect.suspend(() => {
    const r = f(...args)
    return Effect.isEffect(r) ? (r as Effect.Effect<Ret, E, R>) : Effect.succeed(r as Ret)
  })

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && [Object.prototype, null].includes(Object.getPrototypeOf(u))

/**
 * A value as a pytree of tensors, as the transforms take arguments and give
 * outputs: numbers become float32 scalars (leaves, as in JAX), `null` and
 * `undefined` are empty nodes, arrays and plain objects are walked; anything
 * else (a string, a boolean, a function, a Variable, a class instance) fails
 * with DTypeError naming where it is.
 */
export const toTensorTree = (name: string, what: string, u: unknown): unknown | DTypeError => {
  let bad: DTypeError | undefined
  const go = (x: unknown, path: string): unknown => {
    if (bad !== undefined || Tensor.isTensor(x) || x === null || x === undefined) return x
    if (typeof x === "number") return Internal.scalar(x, "float32")
    if (Array.isArray(x)) return x.map((y, i) => go(y, `${path}[${i}]`))
    if (isPlainObject(x)) return Object.fromEntries(Object.keys(x).map((k) => [k, go(x[k], `${path}.${k}`)]))
    bad = new DTypeError({
      message: `${name}: ${what}${path} must be a Tensor, a number, or an array or plain object of them, got ${Internal.describeValue(x)}`
    })
    return x
  }
  const tree = go(u, "")
  return bad ?? tree
}

/** Checks that `f` is a function (what a transform transforms). */
export const checkFn = (name: string, f: unknown): OptionsError | undefined =>
  typeof f === "function" ? undefined : new OptionsError({ message: `${name}: expected a function to transform, got ${Internal.describeValue(f)}` })

/** One argument replaced by input nodes. */
export interface TracedArg {
  readonly def: Pytree.TreeDef
  readonly inputs: ReadonlyArray<Tensor.Tensor>
}

export interface Traced {
  readonly outLeaves: ReadonlyArray<Tensor.Tensor>
  readonly outDef: Pytree.TreeDef
  /** The output as `f` returned it (without aux). */
  readonly out: unknown
  readonly aux: unknown
  readonly args: ReadonlyArray<TracedArg>
  readonly tx: Tx
}

/** Makes input nodes for every leaf of `arg`. */
export const inputsFor = (arg: unknown): { replaced: unknown; traced: TracedArg } => {
  const [leaves, def] = Pytree.flatten(arg)
  const inputs = leaves.map((t) => Internal.inputTensor(t.shape, t.dtype, t))
  return { replaced: Pytree.unflatten(def, inputs), traced: { def, inputs } }
}

/** Turns numbers among the arguments into float32 scalars (so they can be differentiated). */
export const numbersToTensors = (args: ReadonlyArray<unknown>, positions: ReadonlyArray<number>): unknown[] =>
  args.map((a, i) => (positions.includes(i) && typeof a === "number" ? Internal.scalar(a, "float32") : a))

/**
 * Runs `f` with the arguments at `positions` replaced by input nodes and a
 * new Transaction for the state (differentiating `gradVars`).
 */
export const trace = <E, R>(
  name: string,
  f: Fn<ReadonlyArray<unknown>, unknown, E, R>,
  args: ReadonlyArray<unknown>,
  positions: ReadonlyArray<number>,
  gradVars: ReadonlyArray<Variable.Variable<unknown>>,
  hasAux: boolean
): Effect.Effect<Traced, E | AuxError | OptionsError | TensorError, R> =>
  Effect.gen(function* () {
    const notFn = checkFn(name, f)
    if (notFn) return yield* Effect.fail(notFn)
    const prepared: unknown[] = [...args]
    for (const i of positions) {
      const tree = toTensorTree(name, `argument ${i}`, args[i])
      if (tree instanceof DTypeError) return yield* Effect.fail(tree)
      const failed = Pytree.flatten(tree)[0].find((t) => t.op === "error")
      if (failed) return yield* Effect.fail(failed.error!)
      prepared[i] = tree
    }
    const parent = yield* Variable.CurrentStateHandler
    const tx = new Variable.Transaction(parent, new Set(gradVars))
    const traced: TracedArg[] = []
    const callArgs = prepared.map((a, i) => {
      if (!positions.includes(i)) return a
      const { replaced, traced: t } = inputsFor(a)
      traced[positions.indexOf(i)] = t
      return replaced
    })
    const ret = yield* callFn(f, callArgs).pipe(Effect.provideService(Variable.CurrentStateHandler, tx))
    let out = ret
    let aux: unknown = undefined
    if (hasAux) {
      if (!Array.isArray(ret) || ret.length !== 2)
        return yield* Effect.fail(
          new AuxError({
            message: `${name}: hasAux is set, so the function must return a two-element array [output, aux], got ${Internal.describeValue(ret)}`
          })
        )
      out = ret[0]
      aux = ret[1]
    }
    out = toTensorTree(name, "the output", out)
    if (out instanceof DTypeError) return yield* Effect.fail(out)
    const [outLeaves, outDef] = Pytree.flatten(out)
    const bad = outLeaves.find((t) => t.op === "error")
    if (bad) return yield* Effect.fail(bad.error!)
    if (outLeaves.length === 0)
      return yield* Effect.fail(new DTypeError({ message: `${name}: the function must return a tensor or a pytree of tensors, got ${Pytree.describe(outDef)}` }))
    return { outLeaves, outDef, out, aux, args: traced, tx }
  })

/** Marks the call's inputs as finished (they now stand for their values). */
export const closeInputs = (traced: Traced | undefined, extra: ReadonlyArray<Tensor.Tensor> = []): void => {
  if (traced) {
    for (const a of traced.args) for (const t of a.inputs) t.live = false
    traced.tx.close()
  }
  for (const t of extra) t.live = false
}
