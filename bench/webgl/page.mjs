// The browser side of `npm run bench:webgl`: diffect on WebGLBackend and
// TensorFlow.js on tfjs-backend-webgl, in the same page (same WebGL
// implementation). Bundled by run.mjs; exposes `runBench` on window.
import { Tensor, Variable } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import { grad, hessian, jacfwd, jacrev, valueAndGrad } from "@diffect/transforms"
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-core/dist/register_all_gradients"
import "@tensorflow/tfjs-backend-webgl"
import { Effect, ManagedRuntime } from "effect"
import { check, inputs, median, workloads } from "../common.mjs"
import { runLinalgBench } from "./linalg.mjs"

const elemChainD = (x) => Tensor.add(Tensor.mul(Tensor.sin(x), Tensor.cos(x)), Tensor.exp(Tensor.neg(Tensor.square(x))))
const elemChainT = (x) => tf.add(tf.mul(tf.sin(x), tf.cos(x)), tf.exp(tf.neg(tf.square(x))))

const diffect = (rt) => {
  const f32 = (data, shape) => Tensor.make(data, { shape })
  const run = (eff) => rt.runPromise(eff)
  const readAll = (ts) => run(Effect.all(ts.map(Tensor.data)))
  return {
    name: "diffect-webgl",
    prepare(id, I) {
      if (id.startsWith("matmul")) {
        const a = f32(I.a, [I.n, I.n]), b = f32(I.b, [I.n, I.n])
        return () => readAll([Tensor.matmul(a, b)])
      }
      if (id === "elem") {
        const x = f32(I.x, [I.n])
        return () => readAll([elemChainD(x)])
      }
      if (id === "elemGrad") {
        const x = f32(I.x, [I.n])
        const g = grad((x) => Tensor.sum(elemChainD(x)))
        return () => run(Effect.flatMap(g(x), (d) => Effect.all([Tensor.data(d)])))
      }
      if (id === "mlp") {
        const { batch, inp, hidden, out } = I
        const x = f32(I.x, [batch, inp]), onehot = f32(I.onehot, [batch, out])
        const vars = [f32(I.w1, [inp, hidden]), f32(I.b1, [hidden]), f32(I.w2, [hidden, out]), f32(I.b2, [out])]
        const loss = (w1, b1, w2, b2) => {
          const h = Tensor.relu(Tensor.add(Tensor.matmul(x, w1), b1))
          const logits = Tensor.add(Tensor.matmul(h, w2), b2)
          return Tensor.div(Tensor.neg(Tensor.sum(Tensor.mul(onehot, Tensor.logSoftmax(logits)))), batch)
        }
        const vg = valueAndGrad(loss, { argnums: [0, 1, 2, 3] })
        return () => run(Effect.flatMap(vg(...vars), ([value, grads]) => Effect.all([value, ...grads].map(Tensor.data))))
      }
      if (id === "opChain") {
        const x = f32(I.x, [1])
        return () => {
          let y = x
          for (let i = 0; i < I.n; i++) y = Tensor.add(y, 1)
          return readAll([y])
        }
      }
      if (id.startsWith("hess") || id.startsWith("jac")) {
        const A = f32(I.a, [I.n, I.n]), x = f32(I.x, [I.n])
        const f = (x) => Tensor.tanh(Tensor.matmul(A, x))
        const t = id.startsWith("hess") ? hessian((x) => Tensor.sum(Tensor.square(f(x)))) : id.startsWith("jacrev") ? jacrev(f) : jacfwd(f)
        return () => run(Effect.flatMap(t(x), (j) => Effect.all([Tensor.data(j)])))
      }
      return undefined
    }
  }
}

const tfjs = {
  name: "tfjs-webgl",
  prepare(id, I) {
    const readAll = (ts) => {
      const out = ts.map((t) => t.dataSync())
      for (const t of ts) t.dispose()
      return out
    }
    if (id.startsWith("matmul")) {
      const a = tf.tensor2d(I.a, [I.n, I.n]), b = tf.tensor2d(I.b, [I.n, I.n])
      return () => readAll([tf.matMul(a, b)])
    }
    if (id === "elem") {
      const x = tf.tensor1d(I.x)
      return () => readAll([tf.tidy(() => elemChainT(x))])
    }
    if (id === "elemGrad") {
      const x = tf.tensor1d(I.x)
      const g = tf.grad((x) => tf.sum(elemChainT(x)))
      return () => readAll([tf.tidy(() => g(x))])
    }
    if (id === "opChain") {
      const x = tf.tensor1d(I.x)
      return () =>
        readAll([
          tf.tidy(() => {
            let y = x
            for (let i = 0; i < I.n; i++) y = tf.add(y, 1)
            return y
          })
        ])
    }
    if (id === "mlp") {
      const { batch, inp, hidden, out } = I
      const x = tf.tensor2d(I.x, [batch, inp]), onehot = tf.tensor2d(I.onehot, [batch, out])
      const params = [tf.tensor2d(I.w1, [inp, hidden]), tf.tensor1d(I.b1), tf.tensor2d(I.w2, [hidden, out]), tf.tensor1d(I.b2)]
      const loss = (w1, b1, w2, b2) => {
        const h = tf.relu(tf.add(tf.matMul(x, w1), b1))
        const logits = tf.add(tf.matMul(h, w2), b2)
        return tf.div(tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)))), batch)
      }
      const vg = tf.valueAndGrads(loss)
      return () => {
        const { value, grads } = tf.tidy(() => vg(params))
        return readAll([value, ...grads])
      }
    }
    return undefined
  }
}

/** Times one prepared workload: first call, then at least `minReps` calls and `minMs` of time. */
const time = async (fn, minReps, minMs) => {
  let t0 = performance.now()
  let outs = await fn()
  const first = performance.now() - t0
  const times = []
  const start = performance.now()
  while (times.length < minReps || (performance.now() - start < minMs && times.length < 200)) {
    t0 = performance.now()
    outs = await fn()
    times.push(performance.now() - t0)
  }
  return { first, median: median(times), reps: times.length, outs }
}

window.runBench = async ({ ids, minReps = 5, minMs = 1500, mtw, cpuThreshold, linalg }) => {
  if (linalg) return { renderer: rendererInfo(), ...(await runLinalgBench({ ids, minReps, minMs, mtw })) }
  await tf.setBackend("webgl")
  await tf.ready()
  const rt = ManagedRuntime.make(WebGLBackend.layer({ ...(mtw ? { maxTextureWidth: mtw } : {}), ...(cpuThreshold !== undefined ? { cpuThreshold } : {}) }))
  await rt.runPromise(Effect.void)
  const libs = [diffect(rt), tfjs]
  const rows = []
  for (const w of workloads.filter((w) => ids.includes(w.id))) {
    const I = inputs(w.id)
    const row = { id: w.id, label: w.label, flops: w.flops, results: {} }
    for (const lib of libs) {
      const fn = lib.prepare(w.id, I)
      if (!fn) continue
      try {
        const r = await time(fn, minReps, minMs)
        const c = check(w.id, r.outs.map((o) => Array.from(o)), 2e-3)
        row.results[lib.name] = { first: r.first, median: r.median, reps: r.reps, ok: c.ok, err: c.err, why: c.why }
      } catch (e) {
        row.results[lib.name] = { error: String(e?.stack ?? e) }
      }
    }
    rows.push(row)
  }
  await rt.dispose()
  return { renderer: rendererInfo(), rows }
}

const rendererInfo = () => {
  const gl = new OffscreenCanvas(1, 1).getContext("webgl2")
  const ext = gl.getExtension("WEBGL_debug_renderer_info")
  return ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER)
}
