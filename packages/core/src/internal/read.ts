/** Reading tensors back: the only place evaluation meets the Effect world. */
import * as Effect from "effect/Effect"
import { Backend, type BackendShape } from "../Backend.js"
import type { HostArray } from "../DType.js"
import { BackendError, ConcretizationError, DTypeError, ShapeError, type TensorError } from "../Errors.js"
import { EvalFailure, materializeMany, readHost } from "./evaluate.js"
import { fmt } from "./shape.js"
import { describeValue } from "./guard.js"
import { isTensor, type Tensor } from "./tensor.js"

/** Runs a synchronous evaluation step, turning its failures into typed errors. */
export const runEval = <A>(f: () => A): Effect.Effect<A, TensorError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (e) {
      if (e instanceof EvalFailure) return Effect.fail(e.error)
      if (e instanceof BackendError || e instanceof ShapeError || e instanceof DTypeError || e instanceof ConcretizationError) return Effect.fail(e)
      return Effect.die(e)
    }
  })

/** Evaluates with the current backend. */
export const withBackend = <A>(f: (backend: BackendShape) => A): Effect.Effect<A, TensorError> =>
  Effect.flatMap(Effect.service(Backend), (backend) => runEval(() => f(backend)))

/** A read of something that is not a tensor fails (it is a user's mistake, not a defect). */
const notATensor = (op: string, t: unknown): Effect.Effect<never, DTypeError> =>
  Effect.fail(new DTypeError({ message: `${op}: expected a Tensor, got ${describeValue(t)}` }))

export const data = (t: Tensor): Effect.Effect<HostArray, TensorError> =>
  isTensor(t) ? Effect.flatMap(Effect.service(Backend), (b) => readHost(b, t)) : notATensor("data", t)

/** `data` without the copy where the backend's buffers are host memory (see Tensor.dataShared). */
export const dataShared = (t: Tensor): Effect.Effect<HostArray, TensorError> =>
  isTensor(t) ? Effect.flatMap(Effect.service(Backend), (b) => readHost(b, t, false)) : notATensor("dataShared", t)

/** Evaluates tensors and returns consts holding their values (see materializeMany). */
export const materialize = (ts: ReadonlyArray<Tensor>): Effect.Effect<Tensor[], TensorError> =>
  ts.length === 0 ? Effect.succeed([]) : Effect.flatMap(Effect.service(Backend), (b) => materializeMany(b, ts))

/** Nested arrays as `toArray` returns them. */
export type Nested = number | boolean | ReadonlyArray<Nested>

const nest = (flat: ArrayLike<number>, shape: ReadonlyArray<number>, conv: (i: number) => Nested): Nested => {
  const build = (d: number, offset: number): Nested => {
    if (d === shape.length) return conv(offset)
    const stride = shape.slice(d + 1).reduce((a, b) => a * b, 1)
    return Array.from({ length: shape[d]! }, (_, i) => build(d + 1, offset + i * stride))
  }
  void flat
  return build(0, 0)
}

export const toArray = (t: Tensor): Effect.Effect<Nested, TensorError> =>
  !isTensor(t) ? notATensor("toArray", t) : Effect.map(dataShared(t), (host) =>
    nest(host, t.shape, (i) =>
      t.dtype === "bool" ? host[i] === 1 : t.dtype === "complex64" ? [host[2 * i]!, host[2 * i + 1]!] : host[i]!
    )
  )

export const item = (t: Tensor): Effect.Effect<number, TensorError> =>
  !isTensor(t)
    ? notATensor("item", t)
    : t.op !== "error" && t.dtype === "complex64"
      ? Effect.fail(
          new DTypeError({
            message: `item: a complex64 value is not one number (shape ${fmt(t.shape)}); read it with toArray (a [re, im] pair) or take real / imag first`
          })
        )
      : t.size === 1 || t.op === "error"
        ? Effect.map(dataShared(t), (host) => host[0]!)
        : Effect.fail(new ShapeError({ message: `item: expected a tensor with one element, got shape ${fmt(t.shape)}` }))
