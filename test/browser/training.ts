/**
 * The training loop of the GPU backends' lifecycle tests: a small softmax
 * regression (TrainVars w, b) trained by plain gradient steps, with the
 * backend's live buffer count read after every round of steps, garbage
 * collected first (buffers of dropped tensors are released by a
 * FinalizationRegistry). Chromium runs with --js-flags=--expose-gc.
 */
import { Tensor, TrainVar, Variable } from "@diffect/core"
import { valueAndGrad } from "@diffect/transforms"
import { Effect } from "effect"
import { expect } from "vitest"

export interface Rounds {
  readonly rounds: number
  readonly stepsPerRound: number
  readonly lr: number
}

/** Trains, and returns the live buffer count after each round and the last loss. */
export const liveBuffersWhileTraining = async (
  run: <A>(effect: Effect.Effect<A, unknown>) => Promise<A>,
  liveBuffers: () => number,
  { rounds, stepsPerRound, lr }: Rounds
): Promise<{ readonly counts: ReadonlyArray<number>; readonly loss: number }> => {
  const step = await run(
    Effect.gen(function* () {
      const w = yield* TrainVar.make(Tensor.mul(Tensor.ones([3, 4]), 0.1))
      const b = yield* TrainVar.make(Tensor.zeros([4]))
      const x = Tensor.make([[1, 2, 3], [0, -1, 0.5]])
      const y = Tensor.make([[1, 0, 0, 0], [0, 0, 1, 0]])
      const loss = () =>
        Effect.gen(function* () {
          const logits = Tensor.add(Tensor.matmul(x, yield* Variable.get(w)), yield* Variable.get(b))
          return Tensor.neg(Tensor.mean(Tensor.sum(Tensor.mul(y, Tensor.logSoftmax(logits)), { axis: -1 })))
        })
      const grads = valueAndGrad(loss, { gradVars: [w, b] })
      return Effect.gen(function* () {
        const [value, [gw, gb]] = yield* grads()
        yield* Variable.update(w, (v) => Tensor.sub(v, Tensor.mul(gw, lr)))
        yield* Variable.update(b, (v) => Tensor.sub(v, Tensor.mul(gb, lr)))
        return value
      })
    })
  )
  const collect = async () => {
    for (let i = 0; i < 4; i++) {
      ;(globalThis as { gc?: () => void }).gc?.()
      await new Promise((r) => setTimeout(r, 5))
    }
  }
  expect(typeof (globalThis as { gc?: unknown }).gc).toBe("function")
  const counts: number[] = []
  let loss = Infinity
  for (let round = 0; round < rounds; round++) {
    loss = await run(
      Effect.gen(function* () {
        let value = Tensor.make(0)
        for (let i = 0; i < stepsPerRound; i++) value = yield* step
        return yield* Tensor.item(value)
      })
    )
    await collect()
    counts.push(liveBuffers())
  }
  return { counts, loss }
}
