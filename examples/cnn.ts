/**
 * A small convolutional network trained on images generated here: 10×10
 * grayscale pictures of a horizontal or a vertical bar at a random place,
 * with noise. conv 3×3 (1 → 6 channels, SAME) → relu → maxPool 2×2 stride 2
 * → conv 3×3 (6 → 8) → relu → mean over space → linear → 2 logits; the
 * parameters are `TrainVar`s, trained with SGD on `valueAndGrad` of the
 * cross-entropy. Held-out images then measure the accuracy.
 *
 * Run: `node --import tsx examples/cnn.ts` (`DIFFECT_EXAMPLE_FAST=1`: fewer steps).
 */
import { Effect } from "effect"
import { Random, Tensor, TrainVar, Variable } from "@diffect/core"
import { valueAndGrad } from "@diffect/transforms"

const FAST = process.env.DIFFECT_EXAMPLE_FAST === "1"
const STEPS = FAST ? 80 : 200
const SIZE = 10
type T = Tensor.Tensor

/** `n` images [n, 1, SIZE, SIZE] and their labels (0: horizontal bar, 1: vertical), one-hot [n, 2]. */
const bars = (key: Random.Key, n: number) =>
  Effect.gen(function* () {
    const where = yield* Tensor.data(yield* Random.randint(key, [n], 1, SIZE - 1))
    const kind = yield* Tensor.data(yield* Random.randint(key, [n], 0, 2))
    const pixels = new Float32Array(n * SIZE * SIZE)
    const onehot = new Float32Array(n * 2)
    for (let i = 0; i < n; i++) {
      const at = where[i]!, vertical = kind[i] === 1
      for (let r = 0; r < SIZE; r++) for (let c = 0; c < SIZE; c++) if ((vertical ? c : r) === at) pixels[i * SIZE * SIZE + r * SIZE + c] = 1
      onehot[i * 2 + (vertical ? 1 : 0)] = 1
    }
    const noise = yield* Random.normal(key, [n, 1, SIZE, SIZE], { stddev: 0.3 })
    return { x: Tensor.add(Tensor.make(pixels, { shape: [n, 1, SIZE, SIZE] }), noise), y: Tensor.make(onehot, { shape: [n, 2] }) }
  })

const program = Effect.gen(function* () {
  const key = yield* Random.key(3)
  const train = yield* bars(key, 128)
  const test = yield* bars(key, 200)

  const init = (shape: ReadonlyArray<number>, fanIn: number) =>
    Effect.flatMap(Random.normal(key, shape, { stddev: Math.sqrt(2 / fanIn) }), (w) => TrainVar.make(w))
  const params = {
    w1: yield* init([6, 1, 3, 3], 9),
    b1: yield* TrainVar.make(Tensor.zeros([1, 6, 1, 1])),
    w2: yield* init([8, 6, 3, 3], 54),
    b2: yield* TrainVar.make(Tensor.zeros([1, 8, 1, 1])),
    w3: yield* init([8, 2], 8),
    b3: yield* TrainVar.make(Tensor.zeros([2]))
  }
  const vars = Object.values(params)

  const logits = (x: T) =>
    Effect.gen(function* () {
      const [w1, b1, w2, b2, w3, b3] = yield* Effect.all(vars.map((v) => Variable.get(v)))
      const h1 = Tensor.maxPool(Tensor.relu(Tensor.add(Tensor.conv(x, w1!, { padding: "SAME" }), b1!)), 2, { strides: 2 }) // [n, 6, 5, 5]
      const h2 = Tensor.relu(Tensor.add(Tensor.conv(h1, w2!, { padding: "SAME" }), b2!)) // [n, 8, 5, 5]
      const features = Tensor.mean(h2, { axis: [2, 3] }) // [n, 8]
      return Tensor.add(Tensor.matmul(features, w3!), b3!)
    })
  const loss = (x: T, y: T) =>
    Effect.map(logits(x), (z) => Tensor.neg(Tensor.mean(Tensor.sum(Tensor.mul(y, Tensor.logSoftmax(z)), { axis: -1 }))))
  const accuracy = (x: T, y: T) =>
    Effect.flatMap(logits(x), (z) => Tensor.item(Tensor.mean(Tensor.cast(Tensor.equal(Tensor.argmax(z, { axis: -1 }), Tensor.argmax(y, { axis: -1 })), "float32"))))

  console.log(`before training: test accuracy ${(100 * (yield* accuracy(test.x, test.y))).toFixed(1)}%`)
  const step = valueAndGrad(loss, { gradVars: vars })
  const lr = 0.3
  for (let i = 1; i <= STEPS; i++) {
    const [value, grads] = yield* step(train.x, train.y)
    yield* Effect.forEach(vars, (v, k) => Variable.update(v, (p) => Tensor.sub(p, Tensor.mul(grads[k]!, lr))))
    if (i % (STEPS / 4) === 0) console.log(`step ${i}: loss ${(yield* Tensor.item(value)).toFixed(4)}`)
  }
  console.log(`train accuracy ${(100 * (yield* accuracy(train.x, train.y))).toFixed(1)}%`)
  console.log(`test accuracy ${(100 * (yield* accuracy(test.x, test.y))).toFixed(1)}%`)
})

Effect.runPromise(program).catch((e) => {
  console.error(e)
  process.exit(1)
})
