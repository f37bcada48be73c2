/**
 * The training loop of the GPU backends' lifecycle tests: a small softmax
 * regression (TrainVars w, b) trained by plain gradient steps, with the
 * backend's live buffers read after rounds of steps, garbage collected first
 * until the reading no longer changes (buffers of dropped tensors are
 * released by a FinalizationRegistry). Chromium runs with
 * --js-flags=--expose-gc.
 */
import { Tensor, TrainVar, Variable } from "@diffect/core"
import { valueAndGrad } from "@diffect/transforms"
import { Effect } from "effect"
import { expect } from "vitest"

export interface Rounds {
  readonly rounds: number
  readonly stepsPerRound: number
  readonly lr: number
  /** The rounds (from 0) after which to read (default: every round). */
  readonly readAfter?: ReadonlyArray<number>
}

/** Trains, and returns what `liveBuffers` reads after each round read (see `readAfter`), and the last loss. */
export const liveBuffersWhileTraining = async <T = number>(
  run: <A>(effect: Effect.Effect<A, unknown>) => Promise<A>,
  liveBuffers: () => T,
  { rounds, stepsPerRound, lr, readAfter }: Rounds
): Promise<{ readonly counts: ReadonlyArray<T>; readonly loss: number }> => {
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
  // collects until two readings in a row agree (finalizers only ever lower them), at least 4 times, at most 20
  const collect = async (): Promise<T> => {
    let last = ""
    let reading = liveBuffers()
    for (let i = 0; i < 20; i++) {
      ;(globalThis as { gc?: () => void }).gc?.()
      await new Promise((r) => setTimeout(r, 5))
      reading = liveBuffers()
      const key = JSON.stringify(reading)
      if (i >= 3 && key === last) break
      last = key
    }
    return reading
  }
  expect(typeof (globalThis as { gc?: unknown }).gc).toBe("function")
  const counts: T[] = []
  let loss = Infinity
  for (let round = 0; round < rounds; round++) {
    loss = await run(
      Effect.gen(function* () {
        let value = Tensor.make(0)
        for (let i = 0; i < stepsPerRound; i++) value = yield* step
        return yield* Tensor.item(value)
      })
    )
    if (readAfter === undefined || readAfter.includes(round)) counts.push(await collect())
  }
  return { counts, loss }
}
