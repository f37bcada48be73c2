/**
 * The README's tour, as one program (`node --import tsx examples/tour.ts`).
 * Every snippet of README.md is copied from this file or another example,
 * and test/examples checks that they still match.
 */
// #region imports
import { Effect, pipe } from "effect"
import { CpuBackend, Tensor, TrainVar, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jit, valueAndGrad, vmap } from "@diffect/transforms"
import { WebGLBackend } from "@diffect/backend-webgl"
import { WebGPUBackend } from "@diffect/backend-webgpu"
// #endregion

const show = (label: string, value: unknown) => console.log(`${label}: ${JSON.stringify(value)}`)

// ------------------------------------------------------------------ tensors

// #region tensors
const x = Tensor.make([[1, 2], [3, 4]]) // float32 unless { dtype } says otherwise
const y = pipe(x, Tensor.mul(2), Tensor.add(1), Tensor.sum({ axis: 0 })) // pure and lazy: nothing is computed yet
console.log(y.shape, y.dtype) // [ 2 ] float32: shapes and dtypes are known at once
const values = await Effect.runPromise(Tensor.toArray(y)) // reading values is an effect
console.log(values) // [ 10, 14 ]
// #endregion
show("tensors", values)

// ------------------------------------------------------------------ variables

// #region variables
const state = Effect.gen(function* () {
  const w = yield* TrainVar.make(Tensor.zeros([3]), { name: "w" }) // a trainable Variable
  yield* Variable.update(w, (v) => Tensor.add(v, 1))
  const error = yield* Effect.flip(Variable.set(w, Tensor.zeros([4]))) // another shape: a StateError, w unchanged
  return { w: yield* Tensor.toArray(yield* Variable.get(w)), error: error.message }
})
// { w: [1, 1, 1], error: "set w: expected float32[3], got float32[4]" }
// #endregion
show("variables", await Effect.runPromise(state))

// ------------------------------------------------------------------ grad

const gradients = Effect.gen(function* () {
  // #region grad-basic
  const f = (x: Tensor.Tensor) => Tensor.sum(Tensor.square(x)) // may return a value or an Effect
  const g = yield* grad(f)(Tensor.make([1, 2, 3])) // [2, 4, 6]
  // #endregion

  // #region grad-state
  const w = yield* TrainVar.make(Tensor.make([0.5, -0.5]), { name: "w" })
  const b = yield* TrainVar.make(Tensor.make(0), { name: "b" })
  const predict = (x: Tensor.Tensor) =>
    Effect.gen(function* () {
      return Tensor.add(Tensor.matmul(x, yield* Variable.get(w)), yield* Variable.get(b))
    })
  const mse = (x: Tensor.Tensor, y: Tensor.Tensor) => Effect.map(predict(x), (p) => Tensor.mean(Tensor.square(Tensor.sub(p, y))))

  const xs = Tensor.make([[1, 2], [3, 4], [5, 6]])
  const ys = Tensor.make([1, 0, 1])
  const gw = yield* grad(mse, { gradVars: w })(xs, ys) // one Variable: one gradient
  const [gw2, gb] = yield* grad(mse, { gradVars: [w, b] })(xs, ys) // an array: an array
  const { w: gw3, b: gb3 } = yield* grad(mse, { gradVars: { w, b } })(xs, ys) // a record: a record
  const [[vars, gx], loss] = yield* grad(mse, { gradVars: { w, b }, argnums: 0, returnValue: true })(xs, ys)
  const [value, grads] = yield* valueAndGrad(mse, { gradVars: { w, b } })(xs, ys) // JAX order: [value, grads]
  // #endregion

  // #region grad-aux
  const withAux = (x: Tensor.Tensor, y: Tensor.Tensor) =>
    Effect.map(predict(x), (p) => [Tensor.mean(Tensor.square(Tensor.sub(p, y))), p] as const) // [output, aux]
  const [[gVars, gX], mseValue, predictions] = yield* grad(withAux, { gradVars: [w, b], argnums: 0, hasAux: true, returnValue: true })(xs, ys)
  // #endregion

  const read = (t: Tensor.Tensor) => Tensor.toArray(t)
  return {
    g: yield* read(g),
    gw: yield* read(gw),
    sameW: JSON.stringify(yield* read(gw)) === JSON.stringify(yield* read(gw2)) && JSON.stringify(yield* read(gw3)) === JSON.stringify(yield* read(vars.w)),
    gb: yield* read(gb),
    gb3: yield* read(gb3),
    gx: yield* read(gx),
    loss: yield* read(loss),
    value: yield* read(value),
    gradsB: yield* read(grads.b),
    aux: { gw: yield* read(gVars[0]), gx: yield* read(gX), mse: yield* read(mseValue), predictions: yield* read(predictions) }
  }
})
show("grad", await Effect.runPromise(gradients))

// ------------------------------------------------------------------ hessian and jacobians

const curvature = Effect.gen(function* () {
  // #region hessian
  const cubic = (x: Tensor.Tensor) => Tensor.sum(Tensor.pow(x, 3))
  const H = yield* hessian(cubic)(Tensor.make([1, 2])) // diag(6x): [[6, 0], [0, 12]]
  const A = Tensor.make([[1, 2], [3, 4]])
  const J = yield* jacfwd((x: Tensor.Tensor) => Tensor.tanh(Tensor.matmul(A, x)))(Tensor.make([0, 0])) // A at 0
  // #endregion
  return { H: yield* Tensor.toArray(H), J: yield* Tensor.toArray(J) }
})
show("hessian", await Effect.runPromise(curvature))

// ------------------------------------------------------------------ vmap

const batched = Effect.gen(function* () {
  // #region vmap
  // the loss of one example, mapped over a batch: per-example gradients, no loop
  const lossOne = (w: Tensor.Tensor, x: Tensor.Tensor, y: Tensor.Tensor) => Tensor.square(Tensor.sub(Tensor.sum(Tensor.mul(w, x)), y))
  const perExample = vmap(grad(lossOne), { inAxes: [null, 0, 0] }) // w shared, x and y batched
  const gs = yield* perExample(Tensor.make([1, 1]), Tensor.make([[1, 2], [3, 4], [5, 6]]), Tensor.make([0, 0, 0])) // [3, 2]
  // #endregion
  return yield* Tensor.toArray(gs)
})
show("vmap", await Effect.runPromise(batched))

// ------------------------------------------------------------------ jit

const compiled = Effect.gen(function* () {
  // #region jit
  const w = yield* TrainVar.make(Tensor.make([0.5, -0.5]), { name: "w" })
  let traces = 0
  const step = jit((x: Tensor.Tensor, y: Tensor.Tensor) =>
    Effect.gen(function* () {
      traces++ // JavaScript runs only while tracing
      const loss = (x: Tensor.Tensor, y: Tensor.Tensor) => Effect.map(Variable.get(w), (w) => Tensor.mean(Tensor.square(Tensor.sub(Tensor.matmul(x, w), y))))
      const [value, g] = yield* valueAndGrad(loss, { gradVars: w })(x, y)
      yield* Variable.update(w, (w) => Tensor.sub(w, Tensor.mul(g, 0.02))) // a write: an output of the program
      return value
    })
  )
  const xs = Tensor.make([[1, 2], [3, 4], [5, 6]])
  const ys = Tensor.make([1, 0, 1])
  for (let i = 0; i < 100; i++) yield* step(xs, ys) // traced once, then replayed: traces === 1
  // #endregion
  return { traces, loss: yield* Tensor.item(yield* step(xs, ys)) }
})
show("jit", await Effect.runPromise(compiled))

// ------------------------------------------------------------------ backends

// #region backends
const program = Tensor.toArray(Tensor.matmul(Tensor.eye(2), Tensor.make([[1, 2], [3, 4]])))
const onCpu = program.pipe(Effect.provide(CpuBackend.layer))
const onGpu = program.pipe(Effect.provide(WebGLBackend.layer())) // the same program on WebGL2
const onWebGPU = program.pipe(Effect.provide(WebGPUBackend.layer())) // or on WebGPU (compute shaders)
// Node has neither: each layer fails with a BackendError, so fall back to the next
const anywhere = onWebGPU.pipe(
  Effect.catchTag("BackendError", () => onGpu),
  Effect.catchTag("BackendError", () => onCpu)
)
// #endregion
show("backends", await Effect.runPromise(anywhere))
// #region threads
const twoThreads = program.pipe(Effect.provide(CpuBackend.layerWith({ threads: 2 })))
// #endregion
show("threads", await Effect.runPromise(twoThreads))

// ------------------------------------------------------------------ errors

const errors = Effect.gen(function* () {
  // #region errors
  const notScalar = grad((x: Tensor.Tensor) => Tensor.mul(x, 2))(Tensor.make([1, 2]))
  const message = yield* notScalar.pipe(
    Effect.as("no error"),
    Effect.catchTag("NonScalarOutputError", (e) => Effect.succeed(e.message))
  ) // "grad: output must be a scalar, got shape [2]; use vectorGrad or jacrev (...)"

  const mismatch = Tensor.matmul(Tensor.ones([2, 3]), Tensor.ones([2, 3])) // no throw: the error travels with the tensor
  const handled = yield* Tensor.toArray(mismatch).pipe(
    Effect.catchTags({
      ShapeError: (e) => Effect.succeed(`ShapeError: ${e.message}`),
      DTypeError: (e) => Effect.succeed(`DTypeError: ${e.message}`)
    })
  ) // "ShapeError: matmul: inner dimensions differ: [2, 3] @ [2, 3]"
  // #endregion
  return { message, handled }
})
show("errors", await Effect.runPromise(errors))
