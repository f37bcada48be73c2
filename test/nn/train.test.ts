/**
 * Data batching (iterable and Stream, shuffled by a key), accuracy, the
 * progress bar, and the training loop: metrics every N steps, training mode,
 * and an interruption that stops between steps, leaving parameters and
 * optimizer moments from the same step.
 */
import { Deferred, Effect, Exit, Fiber, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Random, Tensor, TrainVar, Variable } from "@diffect/core"
import * as Codec from "@diffect/core/Codec"
import { jit } from "@diffect/transforms"
import { Data, Layer, Loss, Metrics, Module, Optim, Train } from "@diffect/nn"
import { failureOf, run } from "./helpers.js"

const x = Tensor.arange(0, 10).pipe(Tensor.reshape([10, 1]))
const y = Tensor.arange(0, 10, 1, { dtype: "int32" })

describe("Data", () => {
  it("batches in order: the structure of the data, the last batch smaller unless dropLast", async () => {
    const r = await run(
      Effect.gen(function* () {
        const all = yield* Data.batches([x, y], { batchSize: 4 })
        const dropped = yield* Data.batches({ x, y }, { batchSize: 4, dropLast: true })
        return {
          sizes: all.map(([a]) => a.shape[0]),
          first: yield* Tensor.toArray(all[0]![1]),
          last: yield* Tensor.toArray(all[2]![0]),
          dropped: dropped.length,
          keys: Object.keys(dropped[0]!).sort(),
          dtype: dropped[0]!.y.dtype
        }
      })
    )
    expect(r.sizes).toEqual([4, 4, 2])
    expect(r.first).toEqual([0, 1, 2, 3])
    expect(r.last).toEqual([[8], [9]])
    expect(r.dropped).toBe(2)
    expect(r.keys).toEqual(["x", "y"])
    expect(r.dtype).toBe("int32")
  })

  it("shuffles rows consistently across the tensors, a new order each epoch, the same for the same seed", async () => {
    const epochs = (seed: number) =>
      run(
        Effect.gen(function* () {
          const key = yield* Random.key(seed)
          const out: Array<{ xs: number[]; ys: number[] }> = []
          for (let e = 0; e < 2; e++) {
            const xs: number[] = [], ys: number[] = []
            for (const [xb, yb] of yield* Data.batches([x, y], { batchSize: 3, key })) {
              xs.push(...(yield* Tensor.data(xb)))
              ys.push(...(yield* Tensor.data(yb)))
            }
            out.push({ xs, ys })
          }
          return out
        })
      )
    const [a, b] = [await epochs(5), await epochs(5)]
    expect(a).toEqual(b)
    for (const e of a) {
      expect(e.xs).toEqual(e.ys) // x and y rows stay together
      expect([...e.xs].sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) // a permutation
    }
    expect(a[0]!.xs).not.toEqual(a[1]!.xs)
    expect(a[0]!.xs).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it("a Stream over several epochs", async () => {
    const sizes = await run(
      Effect.gen(function* () {
        const key = yield* Random.key(1)
        const bs = yield* Stream.runCollect(Data.stream([x, y], { batchSize: 4, key, epochs: 3 }))
        const endless = yield* Stream.runCollect(Stream.take(Data.stream([x], { batchSize: 5, epochs: Infinity }), 7))
        return [bs.map(([a]) => a.shape[0]), endless.length]
      })
    )
    expect(sizes).toEqual([[4, 4, 2, 4, 4, 2, 4, 4, 2], 7])
  })

  it("bad data and options are typed failures", async () => {
    for (const [make, tag, message] of [
      [() => Data.batches([x, Tensor.zeros([9])], { batchSize: 2 }), "ShapeError", /same leading length, got \[10, 1\], \[9\]/],
      [() => Data.batches([x], { batchSize: 0 }), "OptionsError", /batchSize must be a positive integer/],
      [() => Data.batches([], { batchSize: 2 }), "OptionsError", /non-empty array or record/],
      [() => Data.batches([x], { batchSize: 2, key: 3 as never }), "OptionsError", /key must be a Random key Variable/],
      [() => Stream.runCollect(Data.stream([x], { batchSize: 2, epochs: -1 })), "OptionsError", /epochs must be/]
    ] as const) {
      const e = await failureOf((make as () => Effect.Effect<unknown, { _tag: string; message: string }>)())
      expect(e._tag).toBe(tag)
      expect(e.message).toMatch(message)
    }
  })
})

describe("Metrics.accuracy", () => {
  it("multi-class with int32 labels (first argmax), one-hot labels, and binary logits", async () => {
    const r = await run(
      Effect.all([
        Tensor.item(Metrics.accuracy(Tensor.make([[2, 1, 0], [0, 3, 3], [1, 1, 5], [0, 0, 0]]), Tensor.make([0, 2, 2, 0], { dtype: "int32" }))),
        Tensor.item(Metrics.accuracy(Tensor.make([[2, 1], [0, 3]]), Tensor.make([[1, 0], [1, 0]]))),
        Tensor.item(Metrics.accuracy(Tensor.make([2, -1, 0.5, -3]), Tensor.make([1, 0, 0, 0]))),
        Tensor.item(Metrics.accuracy(Tensor.make([[2], [-1]]), Tensor.make([[1], [1]])))
      ])
    )
    expect(r).toEqual([0.75, 0.5, 0.75, 0.5]) // [0, 3, 3] picks class 1, the first maximum
  })

  it("labels of another shape fail with ShapeError", async () => {
    const e = await failureOf(Tensor.data(Metrics.accuracy(Tensor.zeros([4, 3]), Tensor.zeros([3], { dtype: "int32" }))))
    expect(e._tag).toBe("ShapeError")
    expect(e.message).toMatch(/Metrics\.accuracy: expected int32 labels of shape \[4\]/)
  })
})

describe("Train.progressBar", () => {
  it("prints a plain line every tenth of the run when not on a terminal, and redraws a bar on one", async () => {
    const lines: string[] = []
    const plain = Train.progressBar(100, { title: "fit", output: { write: (s) => lines.push(s), isTTY: false } })
    await run(Effect.forEach(Array.from({ length: 100 }, (_, i) => i + 1), (i) => plain.update(i, `loss ${i}`)))
    expect(lines.length).toBe(11) // the first step, then each tenth
    expect(lines[0]).toBe("fit   1% 1/100  loss 1\n")
    expect(lines[1]).toBe("fit  10% 10/100  loss 10\n")
    expect(lines[10]).toBe("fit 100% 100/100  loss 100\n")
    const tty: string[] = []
    const bar = Train.progressBar(4, { title: "fit", width: 10, output: { write: (s) => tty.push(s), isTTY: true, columns: 120 } })
    await run(Effect.andThen(bar.update(2, "x"), bar.done))
    expect(tty[0]).toMatch(/^\r\x1b\[2Kfit .*█.*░.* 50% 2\/4  x$/)
    expect(tty[1]).toBe("\n")
  })
})

/** A small classifier, its optimizer and loss, all from a seed. */
const setup = Effect.gen(function* () {
  const key = yield* Random.key(0)
  const model = yield* Layer.sequential(yield* Layer.linear(key, 2, 8), Layer.fn(Tensor.tanh), yield* Layer.dropout(key, 0.1), yield* Layer.linear(key, 8, 2))
  const params = Module.trainVars(model.params)
  const opt = yield* Optim.adam(params, { lr: 0.05 })
  const xs = Tensor.make([[1, 1], [1, -1], [-1, 1], [-1, -1], [0.5, 2], [-2, 0.3]])
  const ys = Tensor.make([0, 1, 1, 0, 0, 1], { dtype: "int32" })
  const loss = () => Effect.map(model.apply(xs), (z) => Loss.softmaxCrossEntropy(z, ys))
  const all = { ...params, ...opt.state, key }
  return { model, opt, loss, all, xs, ys }
})

const snapshot = (vars: Record<string, Variable.Variable<any>>) => Effect.map(Codec.saveVariables(vars), (c) => JSON.stringify(c))

describe("Train.loop", () => {
  it("runs the steps in training mode, reads metrics every N steps, and the loss goes down", async () => {
    const seen: Array<[number, Record<string, number>]> = []
    const lines: string[] = []
    const r = await run(
      Effect.gen(function* () {
        const s = yield* setup
        let trainingSeen = false
        const result = yield* Train.loop(
          () =>
            Effect.gen(function* () {
              trainingSeen = yield* Module.Training
              const loss = yield* Optim.minimize(s.opt, s.loss)
              return { loss, acc: Metrics.accuracy(yield* Module.evaluation(s.model.apply(s.xs)), s.ys) }
            }),
          { steps: 50, every: 10, output: { write: (l) => lines.push(l) }, onMetrics: (i, m) => Effect.sync(() => seen.push([i, m])) }
        )
        return { result, trainingSeen, count: yield* Tensor.item(yield* Variable.get(s.opt.count)) }
      })
    )
    expect(r.trainingSeen).toBe(true)
    expect(r.count).toBe(50)
    expect(r.result.steps).toBe(50)
    expect(seen.map(([i]) => i)).toEqual([10, 20, 30, 40, 50])
    expect(seen[4]![1].loss!).toBeLessThan(seen[0]![1].loss!)
    expect(r.result.metrics).toEqual(seen[4]![1])
    expect(lines.at(-1)).toMatch(/^training 100% 50\/50  loss [0-9.]+  acc [0-9.]+\n$/)
  })

  it("an interruption stops between steps: parameters, moments, step count and key all from the same step", async () => {
    const [stoppedAt, interrupted, replayed] = await run(
      Effect.gen(function* () {
        const s = yield* setup
        const reached = yield* Deferred.make<void>()
        const fiber = yield* Effect.forkChild(
          Train.loop((i) => Effect.tap(Optim.minimize(s.opt, s.loss), () => (i === 20 ? Deferred.succeed(reached, undefined) : Effect.void)), { steps: 100_000, progress: false })
        )
        yield* Deferred.await(reached)
        const exit = yield* Fiber.await(yield* Effect.as(Fiber.interrupt(fiber), fiber))
        expect(Exit.hasInterrupts(exit)).toBe(true)
        const stoppedAt = yield* Tensor.item(yield* Variable.get(s.opt.count))
        const after = yield* snapshot(s.all)
        // the same number of steps from scratch gives exactly the same Variables
        const t = yield* setup
        for (let i = 0; i < stoppedAt; i++) yield* Module.training(Optim.minimize(t.opt, t.loss))
        return [stoppedAt, after, yield* snapshot(t.all)] as const
      })
    )
    expect(stoppedAt).toBeGreaterThanOrEqual(20)
    expect(stoppedAt).toBeLessThan(100_000)
    expect(interrupted).toBe(replayed)
  })

  it("a jitted step (schedule, dropout and all) gives exactly the unjitted numbers", async () => {
    const [plain, jitted] = await run(
      Effect.gen(function* () {
        const a = yield* setup
        yield* Train.loop(() => Optim.minimize(a.opt, a.loss), { steps: 6, progress: false })
        const b = yield* setup
        const step = jit(() => Optim.minimize(b.opt, b.loss))
        yield* Train.loop(step, { steps: 6, progress: false })
        return [yield* snapshot(a.all), yield* snapshot(b.all)]
      })
    )
    expect(jitted).toBe(plain)
  })

  it("bad options are OptionsErrors; a failing step stops the loop with its error", async () => {
    const e1 = await failureOf(Train.loop(() => Effect.succeed(Tensor.make(0)), { steps: -1 }))
    expect(e1.message).toMatch(/Train\.loop: steps must be a non-negative integer/)
    const e2 = await failureOf(
      Effect.gen(function* () {
        const w = yield* TrainVar.make(Tensor.zeros([2]))
        const opt = yield* Optim.sgd(w, { lr: 0.1 })
        return yield* Train.loop(() => Optim.minimize(opt, () => Effect.map(Variable.get(w), (v) => Tensor.sum(Tensor.matmul(v, Tensor.ones([3]))))), { steps: 3, progress: false })
      })
    )
    expect(e2._tag).toBe("ShapeError")
  })
})
