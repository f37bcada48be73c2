/**
 * Type-level tests of `@diffect/transforms/fp-ts`: every TaskEither form
 * takes the `layer` option, and the layer's error type joins the `Left`'s
 * (the WebGL backend's `BackendError`, or a layer's own error), next to
 * diffect's errors and the function's own.
 */
import { Data, Effect, Layer } from "effect"
import type * as E from "fp-ts/lib/Either.js"
import type * as TE from "fp-ts/lib/TaskEither.js"
import { describe, expectTypeOf, it } from "vitest"
import { Backend, type BackendError, CpuBackend, type DiffectError, type Tensor, type TensorError } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import {
  gradTE,
  hessianTE,
  jacfwdTE,
  jacrevTE,
  runEither,
  runTE,
  toTaskEither,
  valueAndGradTE,
  vectorGradTE,
  vmapTE
} from "@diffect/transforms/fp-ts"

type T = Tensor.Tensor
class ConfigError extends Data.TaggedError("ConfigError")<{ readonly message: string }> {}
class Oops extends Data.TaggedError("Oops")<{ readonly n: number }> {}

declare const x: T
declare const read: Effect.Effect<Tensor.Nested, TensorError>
const gpu = WebGLBackend.layer()
const configured: Layer.Layer<never, ConfigError> = Layer.effect(Backend, Effect.fail(new ConfigError({ message: "no config" })))
const sq = (t: T): T => t
const checked = (t: T): E.Either<Oops, T> => ({ _tag: "Right", right: t })

describe("fp-ts: the layer option and its error type", () => {
  it("runTE / runEither / toTaskEither: the layer's error joins the Left", () => {
    expectTypeOf(runTE(read)).toEqualTypeOf<TE.TaskEither<TensorError, Tensor.Nested>>()
    expectTypeOf(runTE(read, { layer: gpu })).toEqualTypeOf<TE.TaskEither<TensorError | BackendError, Tensor.Nested>>()
    expectTypeOf(runTE(read, { layer: WebGLBackend.layer() })).toEqualTypeOf<TE.TaskEither<TensorError | BackendError, Tensor.Nested>>()
    expectTypeOf(runTE(read, { layer: CpuBackend.layer })).toEqualTypeOf<TE.TaskEither<TensorError, Tensor.Nested>>()
    expectTypeOf(runTE(read, { layer: configured })).toEqualTypeOf<TE.TaskEither<TensorError | ConfigError, Tensor.Nested>>()
    expectTypeOf(runEither(read, { layer: configured })).toEqualTypeOf<E.Either<TensorError | ConfigError, Tensor.Nested>>()
    expectTypeOf(toTaskEither((t: T) => Effect.succeed(t), { layer: configured })).toEqualTypeOf<(t: T) => TE.TaskEither<ConfigError, T>>()
  })


  it("every transform's TaskEither form takes the layer, and its error flows into the Left", () => {
    expectTypeOf(gradTE(sq)(x)).toEqualTypeOf<TE.TaskEither<DiffectError, T>>()
    expectTypeOf(gradTE(sq, { layer: gpu })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | BackendError, T>>()
    expectTypeOf(gradTE(sq, { layer: configured })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | ConfigError, T>>()
    expectTypeOf(gradTE(checked, { layer: configured })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | Oops | ConfigError, T>>()
    expectTypeOf(gradTE(sq, { returnValue: true, layer: configured })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | ConfigError, [T, T]>>()
    expectTypeOf(valueAndGradTE(sq, { layer: configured })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | ConfigError, [T, T]>>()
    expectTypeOf(vectorGradTE(sq, { layer: configured })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | ConfigError, T>>()
    expectTypeOf(jacrevTE(sq, { layer: configured })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | ConfigError, T>>()
    expectTypeOf(jacfwdTE(sq, { argnums: [0], layer: configured })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | ConfigError, [T]>>()
    expectTypeOf(hessianTE(sq, { layer: configured })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | ConfigError, T>>()
    expectTypeOf(vmapTE(sq, { inAxes: 0, layer: configured })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | ConfigError, T>>()
    expectTypeOf(vmapTE(sq, { layer: gpu })(x)).toEqualTypeOf<TE.TaskEither<DiffectError | BackendError, T>>()
  })
})
