// TensorFlow.js (tfjs-core) on its CPU or WASM backend. No jacobian/hessian API.
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-backend-wasm"
import { register } from "node:module"

// The Node bundle of tfjs-core registers no gradients; the ESM registration
// module needs a resolve hook (see tfjs-resolve-hook.mjs). It registers into
// the engine's global registry, which the Node bundle shares.
register(new URL("./tfjs-resolve-hook.mjs", import.meta.url))
await import("@tensorflow/tfjs-core/dist/register_all_gradients.js")

const readAll = (ts) => {
  const out = ts.map((t) => t.dataSync())
  for (const t of ts) t.dispose()
  return out
}
const elemChain = (x) => tf.add(tf.mul(tf.sin(x), tf.cos(x)), tf.exp(tf.neg(tf.square(x))))

export const makeTfjs = (backend) => ({
  name: `tfjs-${backend}`,
  async init() {
    // silence the "install tfjs-node" banner
    const log = console.log
    console.log = () => {}
    await tf.setBackend(backend)
    await tf.ready()
    console.log = log
    if (tf.getBackend() !== backend) throw new Error(`tfjs backend ${backend} unavailable`)
  },
  async prepare(id, I) {
    if (id.startsWith("matmul")) {
      const a = tf.tensor2d(I.a, [I.n, I.n]), b = tf.tensor2d(I.b, [I.n, I.n])
      return () => readAll([tf.matMul(a, b)])
    }
    if (id === "elem") {
      const x = tf.tensor1d(I.x)
      return () => readAll([tf.tidy(() => elemChain(x))])
    }
    if (id === "elemGrad") {
      const x = tf.tensor1d(I.x)
      const g = tf.grad((x) => tf.sum(elemChain(x)))
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
    if (id === "conv2d" || id === "conv2dGrad") {
      // tfjs's own layout (the WASM backend supports no other): x NHWC, filters [kh, kw, in, out];
      // the inputs are rearranged here and the outputs back in `post`, outside the timing
      const { n, c, h, w, o, k } = I
      const nchwToNhwc = (d, C) => {
        const out = new Float32Array(d.length)
        for (let b = 0; b < n; b++) for (let ch = 0; ch < C; ch++) for (let p = 0; p < h * w; p++) out[(b * h * w + p) * C + ch] = d[(b * C + ch) * h * w + p]
        return out
      }
      const nhwcToNchw = (d, C) => {
        const out = new Float32Array(d.length)
        for (let b = 0; b < n; b++) for (let ch = 0; ch < C; ch++) for (let p = 0; p < h * w; p++) out[(b * C + ch) * h * w + p] = d[(b * h * w + p) * C + ch]
        return out
      }
      const hwioToOihw = (d) => {
        const out = new Float32Array(d.length)
        for (let oc = 0; oc < o; oc++) for (let ci = 0; ci < c; ci++) for (let u = 0; u < k * k; u++) out[(oc * c + ci) * k * k + u] = d[(u * c + ci) * o + oc]
        return out
      }
      const oihw = I.kernel, hwio = new Float32Array(oihw.length)
      for (let oc = 0; oc < o; oc++) for (let ci = 0; ci < c; ci++) for (let u = 0; u < k * k; u++) hwio[(u * c + ci) * o + oc] = oihw[(oc * c + ci) * k * k + u]
      const x = tf.tensor4d(nchwToNhwc(I.x, c), [n, h, w, c])
      const kernel = tf.tensor4d(hwio, [k, k, c, o])
      const conv = (x, kernel) => tf.conv2d(x, kernel, 1, "same", "NHWC")
      if (id === "conv2d") {
        const run = () => readAll([conv(x, kernel)])
        run.post = ([y]) => [nhwcToNchw(y, o)]
        return run
      }
      // tfjs-backend-wasm registers no Conv2DBackpropFilter kernel: no kernel gradient there
      if (tf.getBackend() === "wasm") return undefined
      const ct = tf.tensor4d(nchwToNhwc(I.ct, o), [n, h, w, o])
      const g = tf.grads((x, kernel) => tf.sum(tf.mul(conv(x, kernel), ct)))
      const run = () => readAll(tf.tidy(() => g([x, kernel])))
      run.post = ([dx, dk]) => [nhwcToNchw(dx, c), hwioToOihw(dk)]
      return run
    }
    if (id === "bptt") {
      // no control flow in tfjs: the loop unrolls into the tape, T steps per call
      const { n, steps, dt } = I
      const W = tf.tensor2d(I.w, [n, n]), x0 = tf.tensor2d(I.x0, [n, 1])
      const loss = (W) => {
        let x = x0
        for (let t = 0; t < steps; t++) x = tf.add(x, tf.mul(tf.sub(tf.tanh(tf.matMul(W, x)), x), dt))
        return tf.mean(tf.square(x))
      }
      const vg = tf.valueAndGrad(loss)
      return () => {
        const { value, grad } = tf.tidy(() => vg(W))
        return readAll([value, grad])
      }
    }
    if (id === "gather" || id === "gatherGrad") {
      const table = tf.tensor2d(I.table, [I.rows, I.cols]), idx = tf.tensor1d(I.idx, "int32")
      if (id === "gather") return () => readAll([tf.gather(table, idx, 0)])
      // gather's gradient is UnsortedSegmentSum, which tfjs-backend-wasm does not register; tfjs-backend-cpu's
      // makes one masked pass over all updates per segment (10⁵ × 10⁴ × 64 operations, and over 16 GB of
      // memory at this size, measured): not run
      if (tf.getBackend() === "cpu" || !tf.getKernel("UnsortedSegmentSum", tf.getBackend())) return undefined
      const ct = tf.tensor2d(I.ct, [I.ids, I.cols])
      const g = tf.grad((table) => tf.sum(tf.mul(tf.gather(table, idx, 0), ct)))
      return () => readAll([tf.tidy(() => g(table))])
    }
    if (id === "sort" || id === "argsort") {
      // tfjs has no sort: topk of all n elements of −x (ascending order; ties by index)
      const x = tf.tensor1d(I.x)
      return () => {
        const { values, indices } = tf.tidy(() => tf.topk(tf.neg(x), I.n, true))
        if (id === "argsort") {
          values.dispose()
          return readAll([indices])
        }
        indices.dispose()
        return readAll([tf.tidy(() => tf.neg(values))])
      }
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
    return undefined // hessian / jacobians: not in tfjs
  }
})
