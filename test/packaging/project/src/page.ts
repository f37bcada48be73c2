// A user's page: bundled by esbuild from the installed packages and run in
// Chromium. It fits a line on the WebGL backend (the CPU where there is no
// WebGL2), then on the WebGPU backend (the CPU where there is no WebGPU),
// and leaves its result on `window.diffectResult`.
import { Effect } from "effect"
import { Backend, CpuBackend, Tensor, TrainVar, Variable } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import { WebGPUBackend } from "@diffect/backend-webgpu"
import { valueAndGrad } from "@diffect/transforms"

const fit = Effect.gen(function* () {
  const backend = (yield* Backend).name
  const w = yield* TrainVar.make(Tensor.zeros([2]), { name: "w" })
  const x = Tensor.reshape(Tensor.linspace(-1, 1, 64), [32, 2])
  const y = Tensor.matmul(x, Tensor.make([2, -3]))
  const loss = () => Effect.map(Variable.get(w), (wv) => Tensor.mean(Tensor.square(Tensor.sub(Tensor.matmul(x, wv), y))))
  let first = Number.NaN
  let last = Number.NaN
  for (let i = 0; i < 50; i++) {
    const [value, g] = yield* valueAndGrad(loss, { gradVars: w })()
    last = yield* Tensor.item(value)
    if (i === 0) first = last
    yield* Variable.update(w, (wv) => Tensor.sub(wv, Tensor.mul(g, 0.5)))
  }
  return { backend, first, last, printed: String(Tensor.make([1, 2])) }
})

const program = Effect.all({
  webgl: fit.pipe(
    Effect.provide(WebGLBackend.layer()),
    Effect.catchTag("BackendError", () => fit.pipe(Effect.provide(CpuBackend.layer)))
  ),
  webgpu: fit.pipe(
    Effect.provide(WebGPUBackend.layer()),
    Effect.catchTag("BackendError", () => fit.pipe(Effect.provide(CpuBackend.layer)))
  )
}).pipe(Effect.map(({ webgl, webgpu }) => ({ ...webgl, webgpu })))
const target = globalThis as unknown as { diffectResult?: unknown }
Effect.runPromise(program).then(
  (r) => (target.diffectResult = r),
  (e: unknown) => (target.diffectResult = { error: String(e) })
)
