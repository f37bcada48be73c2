// In-process alternating comparison of conv2d (the bench's CNN layer) between
// diffect's CPU kernel and tfjs-wasm (XNNPACK), run in one process so that
// both see the same machine load: `node bench/conv-ab.mjs [rounds]`. Each
// round times a block of 10 calls of one library, then of the other (as the
// harness, which runs each library's repetitions back to back); prints the
// medians and minima and the ratio of medians (tfjs-wasm / diffect).
import * as Effect from "effect/Effect"
import { Tensor } from "@diffect/core"
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-wasm"
import { CONV, inputs, median } from "./common.mjs"

const rounds = Number(process.argv[2] ?? 20)
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
const block = (f, times) => {
  for (let i = 0; i < 3; i++) f()
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now()
    f()
    times.push(performance.now() - t0)
  }
}
for (let r = 0; r < rounds; r++) {
  block(ours, t.diffect)
  block(theirs, t.tfjs)
}
const d = median(t.diffect), f = median(t.tfjs)
log(`conv2d b32 3→16 32×32 3×3 SAME: diffect ${d.toFixed(2)} ms (min ${Math.min(...t.diffect).toFixed(2)}), tfjs-wasm ${f.toFixed(2)} ms (min ${Math.min(...t.tfjs).toFixed(2)}), ratio of medians ${(f / d).toFixed(2)}×`)
