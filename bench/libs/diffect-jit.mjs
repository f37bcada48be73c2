// diffect with `jit`: each workload's function traced once, then replayed
// (no graph building, no transform interpretation, no planning per call).
import * as Effect from "effect/Effect"
import { Tensor } from "@diffect/core"
import { bpttLoss, elemChain, mlpProblem, onBackend, provide } from "./diffect.mjs"

let T = {}
const f32 = (data, shape) => Tensor.make(data, { shape })
const run = (eff) => Effect.runPromise(provide(eff))

const adapter = {
  name: "diffect-jit",
  async init() {
    T = await import("@diffect/transforms")
  },
  async prepare(id, I) {
    const { jit } = T
    if (id.startsWith("matmul")) {
      const a = f32(I.a, [I.n, I.n]), b = f32(I.b, [I.n, I.n])
      const mm = jit((a, b) => Tensor.matmul(a, b))
      return () => run(Effect.flatMap(mm(a, b), Tensor.dataShared)).then((d) => [d])
    }
    if (id === "elem") {
      const x = f32(I.x, [I.n])
      const f = jit(elemChain)
      return () => run(Effect.flatMap(f(x), Tensor.dataShared)).then((d) => [d])
    }
    if (id === "elemGrad") {
      const x = f32(I.x, [I.n])
      const g = jit(T.grad((x) => Tensor.sum(elemChain(x))))
      return () => run(Effect.flatMap(g(x), Tensor.dataShared)).then((d) => [d])
    }
    if (id === "mlp") {
      const { x, onehot, vars, loss } = mlpProblem(I)
      const vg = jit(T.valueAndGrad(loss, { gradVars: vars }))
      return () => run(Effect.flatMap(vg(x, onehot), ([value, grads]) => Effect.all([value, ...grads].map(Tensor.dataShared))))
    }
    if (id.startsWith("hess") || id.startsWith("jac")) {
      const kind = id.replace(/\d+/g, "")
      const name = kind === "hess" ? "hessian" : kind
      const a = f32(I.a, [I.n, I.n]), x = f32(I.x, [I.n])
      const f =
        kind === "hess"
          ? (x) => Tensor.sum(Tensor.square(Tensor.tanh(Tensor.matmul(a, x))))
          : (x) => Tensor.tanh(Tensor.matmul(a, x))
      const t = jit(T[name](f))
      return () => run(Effect.flatMap(t(x), Tensor.dataShared)).then((d) => [d])
    }
    if (id === "bptt") {
      if (typeof T.scan !== "function") return undefined
      const vg = jit(T.valueAndGrad(bpttLoss(T, I)))
      const W = f32(I.w, [I.n, I.n])
      return () => run(Effect.flatMap(vg(W), ([value, grad]) => Effect.all([Tensor.dataShared(value), Tensor.dataShared(grad)])))
    }
    if (id === "jitReplay") {
      const x = f32(I.x, [1])
      const f = jit((x) => Tensor.add(Tensor.mul(x, 2), 1))
      const loop = Effect.gen(function* () {
        let y
        for (let i = 0; i < I.n; i++) y = yield* f(x)
        return yield* Tensor.dataShared(y)
      })
      return () => [Effect.runSync(provide(loop))]
    }
    return undefined
  }
}
export default onBackend(adapter, "diffect-jit")
/** The adapter on a pool of `threads` threads. */
export const withThreads = (name, threads) => onBackend(adapter, name, threads)
