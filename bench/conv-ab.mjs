// In-process alternating comparison of conv2d (the bench's CNN layer) between
// diffect's CPU kernel and tfjs-wasm (XNNPACK), run in one process so that
// both see the same machine load: `node bench/conv-ab.mjs [rounds]`.
// Prints the median of each and the ratio (tfjs-wasm time / diffect time).
import * as Effect from "effect/Effect"
import { Tensor } from "@diffect/core"
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-wasm"
import { CONV, inputs, median } from "./common.mjs"

const rounds = Number(process.argv[2] ?? 40)
const log = console.log
console.log = () => {}
await tf.setBackend("wasm")
await tf.ready()
console.log = log
const { n, c, h, w, o, k } = CONV
const I = inputs("conv2d")
const x = Tensor.make(I.x, { shape: [n, c, h, w] }), kernel = Tensor.make(I.kernel, { shape: [o, c, k, k] })
const tx = tf.tensor4d(I.x, [n, h, w, c]), tk = tf.tensor4d(I.kernel, [k, k, c, o]) // timing only: layouts differ, values do not matter
const ours = () => Effect.runSync(Tensor.data(Tensor.conv(x, kernel, { padding: "SAME" })))
const theirs = () => {
  const y = tf.conv2d(tx, tk, 1, "same", "NHWC")
  y.dataSync()
  y.dispose()
}
const t = { diffect: [], tfjs: [] }
for (let i = 0; i < 5; i++) (ours(), theirs())
for (let r = 0; r < rounds; r++) {
  let t0 = performance.now()
  ours()
  t.diffect.push(performance.now() - t0)
  t0 = performance.now()
  theirs()
  t.tfjs.push(performance.now() - t0)
}
const d = median(t.diffect), f = median(t.tfjs)
log(`conv2d b32 3→16 32×32 3×3 SAME: diffect ${d.toFixed(2)} ms (min ${Math.min(...t.diffect).toFixed(2)}), tfjs-wasm ${f.toFixed(2)} ms (min ${Math.min(...t.tfjs).toFixed(2)}), ratio of medians ${(f / d).toFixed(2)}×`)
