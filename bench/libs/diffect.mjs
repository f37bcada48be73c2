// diffect, imported from the built packages (run `npm run build` first).
// `diffect` uses the default CPU backend (a worker pool of one thread per
// core); `diffect-t1` (libs/diffect-t1.mjs) the same adapter on
// CpuBackend.layerWith({ threads: 1 }), for thread scaling in one run.
// Results are read with `Tensor.dataShared`: on the CPU the tensor's own
// buffer, no copy (as tfjs's `dataSync` gives its CPU backend's array, and
// jax-js's `dataSync` copies its array out of wasm memory and frees it).
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { CpuBackend, Linalg, Tensor, Variable } from "@diffect/core"

let T = {}
/** The backend's context when a thread count is chosen (undefined: the default backend). */
let context
/** Provides the chosen backend (every effect the adapters run goes through here). */
export const provide = (eff) => (context === undefined ? eff : Effect.provide(eff, context))
/** The context of CpuBackend.layerWith({ threads }), built once in a scope left open. */
export const threadsContext = (threads) => {
  const scope = Effect.runSync(Scope.make())
  return Effect.runSync(Layer.buildWithScope(CpuBackend.layerWith({ threads }), scope))
}
/**
 * `f` run with `ctx` as the backend (undefined: the default one), so that
 * adapters of one module in one process (`diffect`, `diffect-t1`) each keep
 * their own backend; the effects are provided synchronously inside `f`.
 */
export const within = (ctx, f) =>
  f === undefined
    ? undefined
    : (...a) => {
        const was = context
        context = ctx
        try {
          return f(...a)
        } finally {
          context = was
        }
      }
/** `adapter` on its own backend: the default one, or a pool of `threads` threads. */
export const onBackend = (adapter, name, threads) => {
  let ctx
  return {
    ...adapter,
    name,
    /** The backend's context (undefined: the default backend). */
    context: () => ctx,
    init: async () => {
      if (threads !== undefined) ctx = threadsContext(threads)
      await adapter.init()
    },
    prepare: async (id, I) => within(ctx, await within(ctx, adapter.prepare)(id, I))
  }
}
const f32 = (data, shape) => Tensor.make(data, { shape })
const read = (t) => Effect.runSync(provide(Tensor.dataShared(t)))
/** Runs an Effect that may be asynchronous. */
const run = (eff) => Effect.runPromise(provide(eff))

export const elemChain = (x) => Tensor.add(Tensor.mul(Tensor.sin(x), Tensor.cos(x)), Tensor.exp(Tensor.neg(Tensor.square(x))))

/** The MLP workload: its data, its parameters in Variables, and its loss of (x, onehot). */
export const mlpProblem = (I) => {
  const { batch, inp, hidden, out } = I
  const x = f32(I.x, [batch, inp]), onehot = f32(I.onehot, [batch, out])
  const vars = Effect.runSync(
    Effect.all([
      Variable.make(f32(I.w1, [inp, hidden])),
      Variable.make(f32(I.b1, [hidden])),
      Variable.make(f32(I.w2, [hidden, out])),
      Variable.make(f32(I.b2, [out]))
    ])
  )
  const loss = (x, onehot) =>
    Effect.gen(function* () {
      const [w1, b1, w2, b2] = yield* Effect.all(vars.map((v) => Variable.get(v)))
      const h = Tensor.relu(Tensor.add(Tensor.matmul(x, w1), b1))
      const logits = Tensor.add(Tensor.matmul(h, w2), b2)
      return Tensor.div(Tensor.neg(Tensor.sum(Tensor.mul(onehot, Tensor.logSoftmax(logits)))), batch)
    })
  return { x, onehot, vars, loss }
}

/** The control-flow row: the rate network's loss of W, the loop written with `scan` (the body traced once). */
export const bpttLoss = (T, I, { checkpoint = false } = {}) => {
  const { n, steps, dt } = I
  const x0 = f32(I.x0, [n])
  return (W) => {
    const step = (x) => [Tensor.add(x, Tensor.mul(Tensor.sub(Tensor.tanh(Tensor.matmul(W, x)), x), dt)), null]
    return Effect.map(T.scan(checkpoint ? T.checkpoint(step) : step, x0, null, { length: steps }), ([xT]) => Tensor.mean(Tensor.square(xT)))
  }
}

const adapter = {
  name: "diffect",
  async init() {
    try {
      T = await import("@diffect/transforms")
    } catch {
      T = {}
    }
  },
  async prepare(id, I) {
    if (id.startsWith("matmul")) {
      const a = f32(I.a, [I.n, I.n]), b = f32(I.b, [I.n, I.n])
      return () => [read(Tensor.matmul(a, b))]
    }
    if (id === "elem") {
      const x = f32(I.x, [I.n])
      return () => [read(elemChain(x))]
    }
    if (id === "elemGrad") {
      if (typeof T.grad !== "function") return undefined
      const x = f32(I.x, [I.n])
      const g = T.grad((x) => Tensor.sum(elemChain(x)))
      return () => run(Effect.flatMap(g(x), (d) => Tensor.dataShared(d))).then((d) => [d])
    }
    if (id === "mlp") {
      if (typeof T.valueAndGrad !== "function") return undefined
      const { x, onehot, vars, loss } = mlpProblem(I)
      const vg = T.valueAndGrad(loss, { gradVars: vars })
      return () =>
        run(Effect.flatMap(vg(x, onehot), ([value, grads]) => Effect.all([value, ...grads].map(Tensor.dataShared))))
    }
    if (id.startsWith("hess") || id.startsWith("jac")) {
      const kind = id.replace(/\d+/g, "")
      const name = kind === "hess" ? "hessian" : kind
      if (typeof T[name] !== "function") return undefined
      const a = f32(I.a, [I.n, I.n]), x = f32(I.x, [I.n])
      const f =
        kind === "hess"
          ? (x) => Tensor.sum(Tensor.square(Tensor.tanh(Tensor.matmul(a, x))))
          : (x) => Tensor.tanh(Tensor.matmul(a, x))
      const t = T[name](f)
      return () => run(Effect.flatMap(t(x), (h) => Tensor.dataShared(h))).then((d) => [d])
    }
    if (id === "conv2d" || id === "conv2dGrad") {
      const { n, c, h, w, o, k } = I
      const x = f32(I.x, [n, c, h, w]), kernel = f32(I.kernel, [o, c, k, k])
      if (id === "conv2d") return () => [read(Tensor.conv(x, kernel, { padding: "SAME" }))]
      if (typeof T.grad !== "function") return undefined
      const ct = f32(I.ct, [n, o, h, w])
      const g = T.grad((x, kernel) => Tensor.sum(Tensor.mul(Tensor.conv(x, kernel, { padding: "SAME" }), ct)), { argnums: [0, 1] })
      return () => run(Effect.flatMap(g(x, kernel), (gs) => Effect.all(gs.map(Tensor.dataShared))))
    }
    if (id === "solve256") {
      const a = f32(I.a, [I.n, I.n]), b = f32(I.b, [I.n])
      return () => [read(Linalg.solve(a, b))]
    }
    if (id === "cholesky256") {
      const a = f32(I.a, [I.n, I.n])
      return () => [read(Linalg.cholesky(a))]
    }
    if (id === "bptt") {
      if (typeof T.scan !== "function") return undefined
      const vg = T.valueAndGrad(bpttLoss(T, I))
      const W = f32(I.w, [I.n, I.n])
      return () => run(Effect.flatMap(vg(W), ([value, grad]) => Effect.all([Tensor.dataShared(value), Tensor.dataShared(grad)])))
    }
    if (id === "gather" || id === "gatherGrad") {
      const table = f32(I.table, [I.rows, I.cols]), idx = Tensor.make(I.idx, { shape: [I.ids], dtype: "int32" })
      if (id === "gather") return () => [read(Tensor.take(table, idx))]
      if (typeof T.grad !== "function") return undefined
      const ct = f32(I.ct, [I.ids, I.cols])
      const g = T.grad((table) => Tensor.sum(Tensor.mul(Tensor.take(table, idx), ct)))
      return () => run(Effect.flatMap(g(table), Tensor.dataShared)).then((d) => [d])
    }
    if (id === "sort" || id === "argsort") {
      const x = f32(I.x, [I.n])
      const op = id === "sort" ? Tensor.sort : Tensor.argsort
      return () => [read(op(x))]
    }
    if (id === "opChain") {
      const x = f32(I.x, [1])
      return () => {
        let y = x
        for (let i = 0; i < I.n; i++) y = Tensor.add(y, 1)
        return [read(y)]
      }
    }
    // diffect-only rows: the parts of the per-op cost
    if (id === "opBuild") {
      const x = f32(I.x, [1])
      return () => {
        let y = x
        for (let i = 0; i < I.n; i++) y = Tensor.add(y, 1)
        return y.shape.length === 1 ? [Float32Array.of(0.5 + I.n)] : []
      }
    }
    if (id === "effectRead") {
      const x = f32(I.x, [1])
      return () => {
        let d
        for (let i = 0; i < I.n; i++) d = read(x)
        return [Float32Array.of(d[0] + I.n)]
      }
    }
    return undefined
  }
}
export default onBackend(adapter, "diffect")
/** The adapter on a pool of `threads` threads. */
export const withThreads = (name, threads) => onBackend(adapter, name, threads)
