/**
 * ShapeError, DTypeError, BackendError and ConcretizationError: their tags and
 * what their messages say (the op, the argument, the shapes and dtypes
 * expected and got). Pure ops never throw: a bad argument, of any kind, gives
 * a tensor that fails when read; reading something that is not a tensor fails
 * too, and none of it is a defect.
 */
import { Effect, pipe } from "effect"
import { describe, expect, it } from "vitest"
import { Backend, Random, Tensor } from "@diffect/core"
import * as Codec from "@diffect/core/Codec"
import { grad, jvp, vmap } from "@diffect/transforms"
import { WebGLBackend } from "@diffect/backend-webgl"
import { WebGPUBackend } from "@diffect/backend-webgpu"
import { expectBadTensor, expectFailure, f64, type T } from "./helpers.js"

const x2 = f64([1, 2])
const a23 = Tensor.ones([2, 3])

/** Values that are not tensors, as plain JavaScript can pass them. */
const junk: ReadonlyArray<readonly [string, unknown, string]> = [
  ["null", null, "got null"],
  ["undefined", undefined, "got undefined"],
  ["a string", "1", 'got the string "1"'],
  ["a boolean", true, "got the boolean true"],
  ["a plain object", { shape: [2], dtype: "float32" }, "got an object"],
  ["an array", [1, 2], "got an array of length 2"],
  ["a function", () => 1, "got a function"],
  ["a bigint", 3n, "got the bigint 3n"],
  ["a symbol", Symbol("s"), "got a symbol"]
]

describe("ShapeError", () => {
  it("matmul, broadcasting, reshape, concat, slice, transpose, axes: the op and the shapes", async () => {
    await expectBadTensor(() => Tensor.matmul(Tensor.ones([3]), Tensor.ones([2, 2])), "ShapeError", "matmul: inner dimensions differ: [3] @ [2, 2]")
    await expectBadTensor(() => Tensor.add(Tensor.ones([2]), Tensor.ones([3])), "ShapeError", "add", "[2]", "[3]")
    await expectBadTensor(() => pipe(a23, Tensor.mul(Tensor.ones([3, 2]))), "ShapeError", "mul", "[2, 3]", "[3, 2]")
    await expectBadTensor(() => Tensor.reshape(a23, [4, 2]), "ShapeError", "reshape", "[2, 3]", "[4, 2]")
    await expectBadTensor(() => Tensor.concat([a23, Tensor.ones([2, 4])]), "ShapeError", "concat", "[2, 3]", "[2, 4]")
    await expectBadTensor(() => Tensor.slice(a23, [0], [1]), "ShapeError", "slice", "[2, 3]")
    await expectBadTensor(() => Tensor.transpose(a23, [0, 0]), "ShapeError", "transpose", "[0, 0]", "[2, 3]")
    await expectBadTensor(() => Tensor.sum(a23, { axis: 2 }), "ShapeError", "sum", "2", "[2, 3]")
    await expectBadTensor(() => Tensor.expandDims(a23, 5), "ShapeError", "expandDims", "5", "[2, 3]")
    await expectBadTensor(() => Tensor.broadcastTo(Tensor.ones([3]), [2, 2]), "ShapeError", "broadcastTo", "[3]", "[2, 2]")
  })

  it("shape-like arguments of the wrong kind: the op and the argument", async () => {
    await expectBadTensor(() => Tensor.zeros("3" as never), "ShapeError", 'zeros: shape must be an array of integers, got the string "3"')
    await expectBadTensor(() => Tensor.reshape(a23, null as never), "ShapeError", "reshape: shape must be an array of integers, got null")
    await expectBadTensor(() => Tensor.transpose(a23, "10" as never), "ShapeError", "transpose: perm", 'got the string "10"')
    await expectBadTensor(() => Tensor.slice(a23, [0, 0], { 0: 1, 1: 1 } as never), "ShapeError", "slice: stops", "got an object")
    await expectBadTensor(() => Tensor.expandDims(a23, "0" as never), "ShapeError", "expandDims: axis must be an integer")
    await expectBadTensor(() => Tensor.sum(a23, { axis: "0" } as never), "ShapeError", "sum: options.axis")
    await expectBadTensor(() => Tensor.mean(a23, { keepdims: "yes" } as never), "ShapeError", "mean: options.keepdims must be a boolean")
    await expectBadTensor(() => Tensor.concat([a23, a23], "1" as never), "ShapeError", "concat: axis must be an integer")
    await expectBadTensor(() => Tensor.make([1, 2], { shape: "2" } as never), "ShapeError", "make: options.shape")
  })

  it("the error propagates through later ops and surfaces at a transform boundary", async () => {
    const bad = Tensor.add(Tensor.ones([2]), Tensor.ones([3]))
    await expectBadTensor(() => Tensor.exp(Tensor.sum(Tensor.mul(bad, 2))), "ShapeError", "add", "[2]", "[3]")
    await expectFailure(grad((x: T) => Tensor.sum(Tensor.add(x, f64([1, 2, 3]))))(x2), "ShapeError", "add", "[2]", "[3]")
    await expectFailure(grad((x: T) => Tensor.sum(x))(bad), "ShapeError", "add", "[2]", "[3]")
  })

  it("item of several elements, Random with a bad shape, Codec with a wrong length, jvp tangents, vmap axes", async () => {
    await expectFailure(Tensor.item(x2), "ShapeError", "item", "[2]")
    await expectFailure(Effect.flatMap(Random.key(0), (k) => Random.uniform(k, [2, -1])), "ShapeError", "Random.uniform", "[2, -1]")
    await expectFailure(Codec.decode({ shape: [2, 2], dtype: "float32", data: [1, 2, 3] }), "ShapeError", "Codec.decode", "[2, 2]", "needs 4 values, got 3")
    await expectFailure(jvp((x: T) => Tensor.sin(x), [x2], [f64([1, 2, 3])]), "ShapeError", "jvp: tangent 0 has shape [3], expected [2]")
    await expectFailure(vmap((x: T) => Tensor.sum(x), { inAxes: 5 })(x2), "ShapeError", "vmap: inAxes 5 is out of range for argument 0 of shape [2]")
    await expectFailure(vmap((a: T, b: T) => Tensor.add(a, b))(x2, f64([1, 2, 3])), "ShapeError", "inconsistent batch sizes", "2", "3")
  })
})

describe("DTypeError", () => {
  it("an operand that is not a Tensor or a number, for every kind of junk: the op, the operand, what was got", async () => {
    for (const [, value, got] of junk) {
      await expectBadTensor(() => Tensor.add(x2, value as never), "DTypeError", "add: the second operand must be a Tensor or a number", got)
      await expectBadTensor(() => Tensor.mul(value as never, x2), "DTypeError", "mul: the first operand must be a Tensor or a number", got)
      await expectBadTensor(() => Tensor.exp(value as never), "DTypeError", "exp: x must be a Tensor or a number", got)
      await expectBadTensor(() => Tensor.matmul(x2, value as never), "DTypeError", "matmul: the second operand", got)
      await expectBadTensor(() => Tensor.where(value as never, x2, 0), "DTypeError", "where: the condition", got)
      await expectBadTensor(() => Tensor.concat([x2, value as never]), "DTypeError", "concat: xs[1]", got)
      await expectBadTensor(() => Tensor.reshape(value as never, [2]), "DTypeError", "reshape: x must be a Tensor", got)
      await expectBadTensor(() => Tensor.real(value as never), "DTypeError", "real: x must be a Tensor", got)
      await expectBadTensor(() => Tensor.zerosLike(value as never), "DTypeError", "zerosLike: t must be a Tensor", got)
    }
  })

  it("a reduction of junk is data-first and fails (it does not return a function)", async () => {
    for (const [, value, got] of junk) {
      if (value === undefined || (typeof value === "object" && value !== null && !Array.isArray(value))) continue // options-like: data-last
      await expectBadTensor(() => Tensor.sum(value as never), "DTypeError", "sum: x must be a Tensor", got)
      await expectBadTensor(() => Tensor.softmax(value as never), "DTypeError", "softmax: x must be a Tensor", got)
    }
  })

  it("reading something that is not a tensor fails with DTypeError, not a defect", async () => {
    for (const [, value, got] of junk) {
      await expectFailure(Tensor.data(value as never), "DTypeError", "data: expected a Tensor", got)
      await expectFailure(Tensor.toArray(value as never), "DTypeError", "toArray: expected a Tensor", got)
      await expectFailure(Tensor.item(value as never), "DTypeError", "item: expected a Tensor", got)
    }
  })

  it("dtypes an op does not accept, unknown dtypes, dtype options of the wrong kind", async () => {
    const z = Tensor.complex(Tensor.ones([2]), Tensor.zeros([2]))
    await expectBadTensor(() => Tensor.max(z), "DTypeError", "max", "complex")
    await expectBadTensor(() => Tensor.cast(x2, "int8" as never), "DTypeError", "cast: dtype must be one of", '"float32"', 'got the string "int8"')
    await expectBadTensor(() => Tensor.zeros([2], { dtype: "float16" } as never), "DTypeError", "zeros: options.dtype", 'got the string "float16"')
    await expectBadTensor(() => Tensor.ones([2], null as never), "DTypeError", "ones: options must be an object", "got null")
    await expectBadTensor(() => Tensor.make([1], { dtype: "int64" } as never), "DTypeError", "make", "int64")
    await expectBadTensor(() => Tensor.full([2], "7" as never), "DTypeError", "full: value must be a number")
    await expectFailure(Effect.flatMap(Random.key(0), (k) => Random.uniform(k, [2], { dtype: "int32" })), "DTypeError", "Random.uniform", "float32 | float64", "int32")
    await expectFailure(Effect.flatMap(Random.key(0), (k) => Random.shuffle(k, null as never)), "DTypeError", "Random.shuffle", "got null")
    await expectFailure(Codec.decode({ shape: [2], dtype: "int32", data: [1, 2.5] }), "DTypeError", "Codec.decode", "int32", "2.5")
  })

  it("transforms: integer inputs without allowInt, integer or complex outputs, non-tensor arguments and outputs", async () => {
    const i2 = Tensor.make([1, 2], { dtype: "int32" })
    await expectFailure(grad((x: T) => Tensor.sum(Tensor.cast(x, "float32")))(i2), "DTypeError", "grad: argument 0 has dtype int32 (shape [2])", "allowInt")
    await expectFailure(grad((x: T) => Tensor.sum(Tensor.cast(x, "int32")))(x2), "DTypeError", "grad", "int32", "only float or complex outputs")
    await expectFailure(grad((x: T) => Tensor.sum(Tensor.complex(Tensor.cast(x, "float32"), 0)))(x2), "DTypeError", "grad", "complex64", "holomorphic")
    await expectFailure(grad((x: T) => Tensor.sum(x))("x" as never), "DTypeError", 'grad: argument 0 must be a Tensor, a number, or an array or plain object of them, got the string "x"')
    await expectFailure(grad((p: { w: T }) => Tensor.sum(p.w))({ w: x2, tag: true } as never), "DTypeError", "grad: argument 0.tag", "got the boolean true")
    await expectFailure(grad((_x: T) => "loss" as never)(x2), "DTypeError", "grad: the output", 'got the string "loss"')
    await expectFailure(vmap((_x: T) => "y")(x2), "DTypeError", "vmap: the output", 'got the string "y"')
  })
})

describe("BackendError", () => {
  it("WebGL2 unavailable (Node has no OffscreenCanvas): the layer fails with BackendError", async () => {
    const program = Tensor.data(Tensor.add(x2, 1)).pipe(Effect.provide(WebGLBackend.layer()))
    await expectFailure(program, "BackendError", "webgl backend", "WebGL2 is not available")
  })

  it("WebGPU unavailable (Node has no navigator.gpu): the layer fails with BackendError, never a crash", async () => {
    const program = Tensor.data(Tensor.add(x2, 1)).pipe(Effect.provide(WebGPUBackend.layer()))
    await expectFailure(program, "BackendError", "webgpu backend", "WebGPU is not available", "navigator.gpu")
  })

  it("a dtype the backend does not support fails when read, naming the backend, the dtype and the shape", async () => {
    const program = Effect.gen(function* () {
      const cpu = yield* Backend
      const noF64 = { ...cpu, name: "no-f64", supports: (d: string) => d !== "float64" }
      return yield* Tensor.data(Tensor.mul(f64([[1, 2]]), 2)).pipe(Effect.provideService(Backend, noF64 as typeof cpu))
    })
    await expectFailure(program, "BackendError", "no-f64 backend: dtype float64 is not supported", "[1, 2]", "the CPU backend (CpuBackend.layer) supports it")
  })
})

describe("ConcretizationError", () => {
  it("reading the data of a tensor batched by vmap", async () => {
    const f = (x: T) => Effect.map(Tensor.data(x), (d) => Tensor.mul(x, d[0]!))
    const msg = await expectFailure(vmap(f)(f64([[1, 2], [3, 4]])), "ConcretizationError", "float64[2]", "batched by vmap")
    expect(msg).toContain("not known")
  })
})
