/**
 * Running the user's function inside a transform call: fresh `input` nodes
 * for the arguments being transformed, a state Transaction as the
 * fiber-local handler, and the output checked and flattened.
 */
import { Effect } from "effect"
import { AuxError, DTypeError, Internal, Pytree, Tensor, type TensorError, Variable } from "@diffect/core"

type Tx = InstanceType<typeof Variable.Transaction>

/** A function a transform accepts: it returns an Effect or a plain value. */
export type Fn<Args extends ReadonlyArray<unknown>, Ret, E, R> = (...args: Args) => Effect.Effect<Ret, E, R> | Ret

/** Calls `f`, accepting a plain return value as well as an Effect. */
export const callFn = <Args extends ReadonlyArray<unknown>, Ret, E, R>(f: Fn<Args, Ret, E, R>, args: Args): Effect.Effect<Ret, E, R> =>
  Effect.suspend(() => {
    const r = f(...args)
    return Effect.isEffect(r) ? (r as Effect.Effect<Ret, E, R>) : Effect.succeed(r as Ret)
  })

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
): Effect.Effect<Traced, E | AuxError | TensorError, R> =>
  Effect.gen(function* () {
    const parent = yield* Variable.CurrentStateHandler
    const tx = new Variable.Transaction(parent, new Set(gradVars))
    const traced: TracedArg[] = []
    const callArgs = args.map((a, i) => {
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
            message: `${name}: hasAux is set, so the function must return a two-element array [output, aux], got ${Array.isArray(ret) ? `an array of length ${ret.length}` : typeof ret}`
          })
        )
      out = ret[0]
      aux = ret[1]
    }
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
