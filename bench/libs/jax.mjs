// jax-js on its `wasm` device (single-threaded in Node: no global Worker).
// jax-js counts references: every argument is consumed, so inputs that are
// reused are passed as `x.ref`; `dataSync()` consumes its array.
import * as jax from "@jax-js/jax"

const np = jax.numpy
const arr = (data, shape) => np.array(data).reshape(shape)
const readSync = (ts) => ts.map((t) => t.dataSync())
/** With workers jax-js computes asynchronously: `dataSync` refuses pending work, `data()` waits for it. */
const readAsync = (ts) => Promise.all(ts.map((t) => t.data()))
let readAll = readSync
const elemChain = (x) => np.sin(x.ref).mul(np.cos(x.ref)).add(np.exp(np.square(x).mul(-1)))

export const makeJax = (useJit, workers = false) => {
  const J = useJit ? jax.jit : (f) => f
  if (workers) readAll = readAsync
  return {
    name: `${useJit ? "jax-js-jit" : "jax-js"}${workers ? "-workers" : ""}`,
    async init() {
      const devices = await jax.init("wasm")
      if (!devices.includes("wasm")) throw new Error("jax-js wasm device unavailable")
      jax.defaultDevice("wasm")
    },
    async prepare(id, I) {
      if (id.startsWith("matmul")) {
        const a = arr(I.a, [I.n, I.n]), b = arr(I.b, [I.n, I.n])
        const mm = J((a, b) => np.matmul(a, b))
        return () => readAll([mm(a.ref, b.ref)])
      }
      if (id === "elem") {
        const x = arr(I.x, [I.n])
        const f = J(elemChain)
        return () => readAll([f(x.ref)])
      }
      if (id === "elemGrad") {
        const x = arr(I.x, [I.n])
        const g = J(jax.grad((x) => np.sum(elemChain(x))))
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
        const vg = J(jax.valueAndGrad(loss))
        return () => {
          const [value, grads] = vg(params.map((p) => p.ref), x.ref, onehot.ref)
          return readAll([value, ...grads])
        }
      }
      if (id.startsWith("hess") || id.startsWith("jac")) {
        const kind = id.replace(/\d+/g, "")
        const a = arr(I.a, [I.n, I.n]), x = arr(I.x, [I.n])
        const f =
          kind === "hess"
            ? (x) => np.sum(np.square(np.tanh(np.matmul(a.ref, x))))
            : (x) => np.tanh(np.matmul(a.ref, x))
        const t = J(jax[kind === "hess" ? "hessian" : kind](f))
        return () => readAll([t(x.ref)])
      }
      if (id === "jitReplay") {
        if (!useJit) return undefined
        const x = arr(I.x, [1])
        const f = jax.jit((x) => x.mul(2).add(1))
        return () => {
          let y
          for (let i = 0; i < I.n; i++) {
            if (y !== undefined) y.dispose()
            y = f(x.ref)
          }
          return readAll([y])
        }
      }
      if (id === "conv2d" || id === "conv2dGrad") {
        const { n, c, h, w, o, k } = I
        const x = arr(I.x, [n, c, h, w]), kernel = arr(I.kernel, [o, c, k, k])
        const conv = (x, kernel) => jax.lax.convGeneralDilated(x, kernel, [1, 1], "SAME")
        if (id === "conv2d") {
          const f = J(conv)
          return () => readAll([f(x.ref, kernel.ref)])
        }
        const ct = arr(I.ct, [n, o, h, w])
        const g = J(jax.grad(([x, kernel], ct) => np.sum(conv(x, kernel).mul(ct))))
        return () => readAll(g([x.ref, kernel.ref], ct.ref))
      }
      if (id === "solve256") {
        const a = arr(I.a, [I.n, I.n]), b = arr(I.b, [I.n])
        const f = J((a, b) => np.linalg.solve(a, b))
        return () => readAll([f(a.ref, b.ref)])
      }
      if (id === "cholesky256") {
        const a = arr(I.a, [I.n, I.n])
        const f = J((a) => np.linalg.cholesky(a))
        return () => readAll([f(a.ref)])
      }
      if (id === "bptt") {
        // jax-js has no scan (never merged): the loop unrolls, T steps per trace.
        // Eager (no jit) the gradient of the unrolled loop grows quadratically
        // with T here (measured: 1.5 s at T = 25, 4.3 s at 100, 11.8 s at 200):
        // a T = 1000 call takes minutes, so only the jitted variant runs.
        if (!useJit) return undefined
        const { n, steps, dt } = I
        const W = arr(I.w, [n, n]), x0 = arr(I.x0, [n, 1])
        const loss = (W) => {
          let x = x0.ref
          for (let t = 0; t < steps; t++) x = x.ref.add(np.tanh(np.matmul(W.ref, x.ref)).sub(x).mul(dt))
          W.dispose()
          return np.mean(np.square(x))
        }
        const vg = J(jax.valueAndGrad(loss))
        return () => {
          const [value, grad] = vg(W.ref)
          return readAll([value, grad])
        }
      }
      if (id === "gather" || id === "gatherGrad") {
        const table = arr(I.table, [I.rows, I.cols]), idx = np.array(I.idx, { shape: [I.ids], dtype: "int32" })
        if (id === "gather") {
          const f = J((table, idx) => np.take(table, idx, 0))
          return () => readAll([f(table.ref, idx.ref)])
        }
        const ct = arr(I.ct, [I.ids, I.cols])
        const g = J(jax.grad((table, idx, ct) => np.sum(np.take(table, idx, 0).mul(ct))))
        return () => readAll([g(table.ref, idx.ref, ct.ref)])
      }
      if (id === "sort" || id === "argsort") {
        const x = arr(I.x, [I.n])
        const f = J(id === "sort" ? (x) => np.sort(x) : (x) => np.argsort(x))
        return () => readAll([f(x.ref)])
      }
      if (id === "opChain") {
        if (useJit) return undefined // a jitted chain is one kernel: not a per-op cost
        const x = arr(I.x, [1])
        return () => {
          let y = x.ref
          for (let i = 0; i < I.n; i++) y = y.add(1)
          return readAll([y])
        }
      }
      return undefined
    }
  }
}
