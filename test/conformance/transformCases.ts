/**
 * End-to-end transform cases: the same programs (grad, hessian, jacfwd,
 * jacrev, vmap, nested grads, an MLP training step with Variables) on every
 * backend, compared with the CPU backend.
 */
import { Tensor, TrainVar, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, valueAndGrad, vmap } from "@diffect/transforms"
import { Effect } from "effect"
import type { Case } from "./cases.js"
import { rng, uniform } from "./data.js"

type T = Tensor.Tensor

const tanhLoss = (A: T) => (x: T) => Tensor.sum(Tensor.square(Tensor.tanh(Tensor.matmul(A, x))))

/** A one-hot label matrix [batch, classes]. */
const oneHot = (batch: number, classes: number, seed: number): T => {
  const r = rng(seed)
  const data = new Float32Array(batch * classes)
  for (let i = 0; i < batch; i++) data[i * classes + Math.floor(r() * classes)] = 1
  return Tensor.make(data, { shape: [batch, classes] })
}

/** Cross-entropy of a two-layer perceptron, reading its parameters from Variables. */
const mlpLoss = (params: ReadonlyArray<Variable.Variable<T>>) => (x: T, y: T) =>
  Effect.gen(function* () {
    const [w1, b1, w2, b2] = yield* Effect.forEach(params, Variable.get)
    const h = Tensor.relu(Tensor.add(Tensor.matmul(x, w1!), b1!))
    const logits = Tensor.add(Tensor.matmul(h, w2!), b2!)
    return Tensor.neg(Tensor.mean(Tensor.sum(Tensor.mul(y, Tensor.logSoftmax(logits)), { axis: -1 })))
  })

/** `steps` SGD steps on an MLP (in → hidden → out, batch); returns the losses and the final parameters. */
export const mlpTraining = (sizes: { batch: number; input: number; hidden: number; out: number }, steps: number, lr = 0.1) =>
  Effect.gen(function* () {
    const { batch, input, hidden, out } = sizes
    const params = [
      yield* TrainVar.make(uniform([input, hidden], 1, -0.3, 0.3)),
      yield* TrainVar.make(Tensor.zeros([hidden])),
      yield* TrainVar.make(uniform([hidden, out], 2, -0.3, 0.3)),
      yield* TrainVar.make(Tensor.zeros([out]))
    ]
    const x = uniform([batch, input], 3)
    const y = oneHot(batch, out, 4)
    const step = valueAndGrad(mlpLoss(params), { gradVars: params })
    const losses: T[] = []
    for (let s = 0; s < steps; s++) {
      const [loss, grads] = yield* step(x, y)
      losses.push(loss)
      yield* Effect.forEach(params, (p, i) => Variable.update(p, (w) => Tensor.sub(w, Tensor.mul(grads[i]!, lr))))
    }
    return { losses, params: yield* Effect.forEach(params, Variable.get) }
  })

const tol = { rtol: 1e-3, atol: 1e-4 }

export const transformCases: ReadonlyArray<Case> = [
  {
    name: "grad of sum(tanh(A x)^2)",
    prims: ["tanh", "matmul", "sum"],
    run: () => grad(tanhLoss(uniform([24, 16], 1)))(uniform([16], 2)),
    tol
  },
  {
    name: "grad of sum(sin(x)) is cos(x); grad(grad) of a scalar",
    prims: ["sin", "cos"],
    run: () =>
      Effect.gen(function* () {
        const x = uniform([50], 3, -3, 3)
        const g = yield* grad((x: T) => Tensor.sum(Tensor.sin(x)))(x)
        const g2 = yield* grad(grad((s: T) => Tensor.mul(Tensor.exp(s), Tensor.sin(s))))(Tensor.make(0.7))
        return [g, Tensor.cos(x), g2]
      }),
    tol
  },
  {
    name: "hessian of sum(tanh(A x)^2), n = 16",
    prims: ["tanh", "matmul"],
    run: () => hessian(tanhLoss(uniform([16, 16], 4, -0.5, 0.5)))(uniform([16], 5)),
    tol
  },
  {
    name: "jacfwd and jacrev of tanh(A x), n = 20",
    prims: ["tanh", "matmul"],
    run: () =>
      Effect.gen(function* () {
        const A = uniform([20, 20], 6)
        const f = (x: T) => Tensor.tanh(Tensor.matmul(A, x))
        const x = uniform([20], 7)
        return [yield* jacfwd(f)(x), yield* jacrev(f)(x)]
      }),
    tol
  },
  {
    name: "vmap of a per-example function and of grad",
    prims: ["mul", "sum"],
    run: () =>
      Effect.gen(function* () {
        const xs = uniform([8, 5], 8)
        const norms = yield* vmap((x: T) => Tensor.sum(Tensor.mul(x, x)))(xs)
        const grads = yield* vmap(grad((x: T) => Tensor.sum(Tensor.exp(Tensor.mul(x, 0.5)))))(xs)
        const W = uniform([5, 3], 9)
        const proj = yield* vmap((x: T) => Tensor.matmul(x, W))(xs)
        return [norms, grads, proj]
      }),
    tol
  },
  {
    name: "MLP training step with Variables (3 SGD steps)",
    prims: ["matmul", "max"],
    run: () => mlpTraining({ batch: 16, input: 20, hidden: 32, out: 10 }, 3),
    tol
  }
]
