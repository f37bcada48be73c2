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
