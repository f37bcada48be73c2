// The browser side of `npm run bench:webgpu`: diffect on WebGPUBackend,
// TensorFlow.js on tfjs-backend-webgpu and jax-js on its webgpu device, in
// the same page (same WebGPU adapter). Bundled by run.mjs (--webgpu) and
// served from 127.0.0.1 (navigator.gpu needs a secure context); exposes
// `runBench` on window. Every read is asynchronous (WebGPU maps buffers
// only with mapAsync): diffect's Tensor.data, tfjs's data(), jax-js's data().
import { Backend, Tensor, TrainVar, Variable } from "@diffect/core"
import { WebGPUBackend } from "@diffect/backend-webgpu"
import { grad, valueAndGrad } from "@diffect/transforms"
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-core/dist/register_all_gradients"
import "@tensorflow/tfjs-backend-webgpu"
import * as jax from "@jax-js/jax"
import { Effect, ManagedRuntime } from "effect"
import { check, inputs, median, workloads } from "../common.mjs"

const elemChainD = (x) => Tensor.add(Tensor.mul(Tensor.sin(x), Tensor.cos(x)), Tensor.exp(Tensor.neg(Tensor.square(x))))
const elemChainT = (x) => tf.add(tf.mul(tf.sin(x), tf.cos(x)), tf.exp(tf.neg(tf.square(x))))
const np = jax.numpy
const elemChainJ = (x) => np.sin(x.ref).mul(np.cos(x.ref)).add(np.exp(np.square(x).mul(-1)))

const diffect = (rt) => {
  const f32 = (data, shape) => Tensor.make(data, { shape })
  const run = (eff) => rt.runPromise(eff)
  const readAll = (ts) => run(Effect.all(ts.map(Tensor.data)))
  return {
    name: "diffect-webgpu",
    prepare(id, I) {
      if (id.startsWith("matmul")) {
        const a = f32(I.a, [I.n, I.n]), b = f32(I.b, [I.n, I.n])
        return () => readAll([Tensor.matmul(a, b)])
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
      return undefined
    }
  }
}

const tfjs = {
  name: "tfjs-webgpu",
  prepare(id, I) {
    const readAll = async (ts) => {
      const out = await Promise.all(ts.map((t) => t.data()))
      for (const t of ts) t.dispose()
      return out
    }
    if (id.startsWith("matmul")) {
      const a = tf.tensor2d(I.a, [I.n, I.n]), b = tf.tensor2d(I.b, [I.n, I.n])
      return () => readAll([tf.matMul(a, b)])
    }
    if (id === "elemGrad") {
      const x = tf.tensor1d(I.x)
      const g = tf.grad((x) => tf.sum(elemChainT(x)))
      return () => readAll([tf.tidy(() => g(x))])
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

// jax-js counts references: reused inputs are passed as `x.ref`; `data()` consumes its array
const jaxjs = {
  name: "jax-js-webgpu",
  prepare(id, I) {
    const arr = (data, shape) => np.array(data).reshape(shape)
    const readAll = (ts) => Promise.all(ts.map((t) => t.data()))
    if (id.startsWith("matmul")) {
      const a = arr(I.a, [I.n, I.n]), b = arr(I.b, [I.n, I.n])
      return () => readAll([np.matmul(a.ref, b.ref)])
    }
    if (id === "elemGrad") {
      const x = arr(I.x, [I.n])
      const g = jax.grad((x) => np.sum(elemChainJ(x)))
      return () => readAll([g(x.ref)])
    }
    if (id === "mlp") {
      const { batch, inp, hidden, out } = I
      const x = arr(I.x, [batch, inp]), onehot = arr(I.onehot, [batch, out])
      const params = [arr(I.w1, [inp, hidden]), arr(I.b1, [hidden]), arr(I.w2, [hidden, out]), arr(I.b2, [out])]
      const loss = ([w1, b1, w2, b2], x, onehot) => {
        const h = jax.nn.relu(np.matmul(x, w1).add(b1))
        const logits = np.matmul(h, w2).add(b2)
        return np.sum(onehot.mul(jax.nn.logSoftmax(logits))).mul(-1 / batch)
      }
      const vg = jax.valueAndGrad(loss)
      return () => {
        const [value, grads] = vg(params.map((p) => p.ref), x.ref, onehot.ref)
        return readAll([value, ...grads])
      }
    }
    return undefined
  }
}

/** Times one prepared workload: first call, then at least `minReps` calls and `minMs` of time, the libraries alternating per round. */
const timeAll = async (fns, minReps, minMs) => {
  const res = fns.map(() => ({ times: [], first: 0, outs: undefined, error: undefined }))
  for (const [i, fn] of fns.entries()) {
    try {
      const t0 = performance.now()
      res[i].outs = await fn()
      res[i].first = performance.now() - t0
    } catch (e) {
      res[i].error = String(e?.stack ?? e)
    }
  }
  const start = performance.now()
  let round = 0
  while (round < minReps || (performance.now() - start < minMs * fns.length && round < 200)) {
    for (const [i, fn] of fns.entries()) {
      if (res[i].error) continue
      try {
        const t0 = performance.now()
        res[i].outs = await fn()
        res[i].times.push(performance.now() - t0)
      } catch (e) {
        res[i].error = String(e?.stack ?? e)
      }
    }
    round++
  }
  return res
}

/** The scaled-up leak check of the browser suite: live GPU buffers over `steps` training steps (diffect only). */
const trainingLoop = async (rt, steps) => {
  const backend = await rt.runPromise(Effect.service(Backend))
  const step = await rt.runPromise(
    Effect.gen(function* () {
      const w = yield* TrainVar.make(Tensor.mul(Tensor.ones([64, 32]), 0.01))
      const b = yield* TrainVar.make(Tensor.zeros([32]))
      const x = Tensor.reshape(Tensor.linspace(-1, 1, 256 * 64), [256, 64])
      const y = Tensor.tanh(Tensor.matmul(x, Tensor.mul(Tensor.ones([64, 32]), 0.02)))
      const loss = () =>
        Effect.gen(function* () {
          const p = Tensor.tanh(Tensor.add(Tensor.matmul(x, yield* Variable.get(w)), yield* Variable.get(b)))
          return Tensor.mean(Tensor.square(Tensor.sub(p, y)))
        })
      const vg = valueAndGrad(loss, { gradVars: [w, b] })
      return Effect.gen(function* () {
        const [value, [gw, gb]] = yield* vg()
        yield* Variable.update(w, (v) => Tensor.sub(v, Tensor.mul(gw, 0.5)))
        yield* Variable.update(b, (v) => Tensor.sub(v, Tensor.mul(gb, 0.5)))
        return value
      })
    })
  )
  const counts = []
  let loss = NaN
  const t0 = performance.now()
  for (let done = 0; done < steps; done += 1000) {
    loss = await rt.runPromise(
      Effect.gen(function* () {
        let v
        for (let i = 0; i < 1000; i++) v = yield* step
        return yield* Tensor.item(v)
      })
    )
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.()
      await new Promise((r) => setTimeout(r, 5))
    }
    counts.push(backend.liveBuffers())
  }
  return { steps, counts, loss, msPerStep: (performance.now() - t0) / steps }
}

window.runBench = async ({ ids, minReps = 5, minMs = 1500, cpuThreshold, trainSteps }) => {
  await tf.setBackend("webgpu")
  await tf.ready()
  const devices = await jax.init("webgpu")
  if (!devices.includes("webgpu")) throw new Error("jax-js webgpu device unavailable")
  jax.defaultDevice("webgpu")
  const rt = ManagedRuntime.make(WebGPUBackend.layer({ ...(cpuThreshold !== undefined ? { cpuThreshold } : {}) }))
  await rt.runPromise(Effect.void)
  const libs = [diffect(rt), tfjs, jaxjs]
  const rows = []
  for (const w of workloads.filter((w) => ids.includes(w.id))) {
    const I = inputs(w.id)
    const row = { id: w.id, label: w.label, flops: w.flops, results: {} }
    const active = libs.map((lib) => [lib, lib.prepare(w.id, I)]).filter(([, fn]) => fn !== undefined)
    const res = await timeAll(active.map(([, fn]) => fn), minReps, minMs)
    active.forEach(([lib], i) => {
      const r = res[i]
      if (r.error) row.results[lib.name] = { error: r.error }
      else {
        const c = check(w.id, r.outs.map((o) => Array.from(o)), 2e-3)
        row.results[lib.name] = { first: r.first, median: median(r.times), reps: r.times.length, ok: c.ok, err: c.err, why: c.why }
      }
    })
    rows.push(row)
  }
  const training = trainSteps > 0 ? await trainingLoop(rt, trainSteps) : undefined
  await rt.dispose()
  const adapter = await navigator.gpu.requestAdapter()
  const info = adapter?.info ?? {}
  return { renderer: `${info.vendor ?? "?"} ${info.architecture ?? ""} ${info.description ?? ""}`.trim(), rows, training }
}
