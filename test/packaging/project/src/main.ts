// A user's program in Node: the installed packages, typechecked under strict
// NodeNext, compiled by tsc and run by node. It prints one JSON line.
import { Effect } from "effect"
import fc from "fast-check"
import * as E from "fp-ts/lib/Either.js"
import { CpuBackend, Tensor, TrainVar, Variable } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import { WebGPUBackend } from "@diffect/backend-webgpu"
import { grad, hessian, valueAndGrad } from "@diffect/transforms"
import { gradTE } from "@diffect/transforms/fp-ts"
import { arbitraries, checkGrads } from "@diffect/transforms/testing"

const program = Effect.gen(function* () {
  const w = yield* TrainVar.make(Tensor.make([0.5, -0.5]), { name: "w" })
  const x = Tensor.make([[1, 2], [3, 4], [5, 6]])
  const y = Tensor.make([1, 0, 1])
  const loss = () => Effect.map(Variable.get(w), (wv) => Tensor.mean(Tensor.square(Tensor.sub(Tensor.matmul(x, wv), y))))
  for (let i = 0; i < 100; i++) {
    const g = yield* grad(loss, { gradVars: w })()
    yield* Variable.update(w, (wv) => Tensor.sub(wv, Tensor.mul(g, 0.02)))
  }
  const [value] = yield* valueAndGrad(loss, { gradVars: w })()
  const H = yield* hessian((v: Tensor.Tensor) => Tensor.sum(Tensor.pow(v, 3)))(Tensor.make([1, 2]))
  return { loss: yield* Tensor.item(value), hessian: yield* Tensor.toArray(H), printed: String(Tensor.make([1.5, 2])) }
})

const result = await Effect.runPromise(program.pipe(Effect.provide(CpuBackend.layer)))
// Node has no WebGL2: the layer fails with a typed BackendError
const gpu = await Effect.runPromise(
  Tensor.toArray(Tensor.ones([2])).pipe(
    Effect.provide(WebGLBackend.layer()),
    Effect.as("webgl"),
    Effect.catchTag("BackendError", (e) => Effect.succeed(e._tag))
  )
)
// nor WebGPU (no navigator.gpu): a typed BackendError too
const webgpu = await Effect.runPromise(
  Tensor.toArray(Tensor.ones([2])).pipe(
    Effect.provide(WebGPUBackend.layer()),
    Effect.as("webgpu"),
    Effect.catchTag("BackendError", (e) => Effect.succeed(e._tag))
  )
)
const te = await gradTE((t: Tensor.Tensor) => Tensor.sum(Tensor.square(t)))(Tensor.make([1, 2]))()
const fpts = E.isRight(te) ? await Effect.runPromise(Tensor.toArray(te.right)) : te.left._tag
await fc.assert(
  fc.asyncProperty(arbitraries.tensor({ shape: [3], min: 0.5, max: 2 }), (t) =>
    Effect.runPromise(checkGrads((v: Tensor.Tensor) => Tensor.sum(Tensor.log(v)), [t], { order: 2 }))
  ),
  { numRuns: 5 }
)
console.log(JSON.stringify({ ...result, gpu, webgpu, fpts, checked: true }))
