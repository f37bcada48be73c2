/**
 * Control-flow cases: scan (forward, reverse, ys, xs pytrees), its gradient
 * through time with and without checkpoint, vmap of grad of scan, fori,
 * whileLoop and cond, on every backend, compared with the CPU backend. On
 * WebGL a scan runs its body's kernels step after step on the GPU.
 */
import { Tensor } from "@diffect/core"
import { checkpoint, cond, fori, grad, jit, scan, valueAndGrad, vmap, whileLoop } from "@diffect/transforms"
import { Effect } from "effect"
import type { Case } from "./cases.js"
import { uniform } from "./data.js"

type T = Tensor.Tensor

const tol = { rtol: 2e-4, atol: 2e-5 }

const rate = (W: T) => (x: T) => [Tensor.add(x, Tensor.mul(Tensor.sub(Tensor.tanh(Tensor.matmul(W, x)), x), 0.1)), x] as const

const bptt = (ck: boolean, steps: number) => (W: T) =>
  Effect.map(scan(ck ? checkpoint(rate(W)) : rate(W), uniform([16], 7), null, { length: steps }), ([xT, xs]) =>
    Tensor.add(Tensor.mean(Tensor.square(xT)), Tensor.mul(Tensor.mean(xs), 0.1))
  )

export const controlFlowCases: ReadonlyArray<Case> = [
  {
    name: "scan: a rate network over 50 steps, the states stacked",
    prims: ["matmul", "tanh"],
    run: () => scan(rate(uniform([16, 16], 1, -0.4, 0.4)), uniform([16], 2), null, { length: 50 }),
    tol
  },
  {
    name: "scan: xs as a record, reverse, ys as an array",
    prims: ["mul", "add", "sin"],
    run: () =>
      scan(
        (c: T, x: { a: T; b: T }) => [Tensor.add(Tensor.mul(c, x.a), Tensor.sin(x.b)), [c, Tensor.sum(x.a)]] as const,
        uniform([3], 3),
        { a: uniform([6, 3], 4), b: uniform([6, 3], 5) },
        { reverse: true }
      ),
    // six steps of products of sines: float32 sin on a GPU rounds differently
    tol: { rtol: 1e-3, atol: 1e-4 }
  },
  {
    name: "grad through time of a scan, with and without checkpoint; value and grad under jit",
    prims: ["matmul", "tanh"],
    run: () =>
      Effect.gen(function* () {
        const W = uniform([16, 16], 6, -0.4, 0.4)
        return [yield* grad(bptt(false, 40))(W), yield* grad(bptt(true, 40))(W), yield* jit(valueAndGrad(bptt(false, 40)))(W)]
      }),
    tol
  },
  {
    name: "vmap of grad of scan",
    prims: ["matmul", "tanh"],
    run: () => vmap(grad(bptt(false, 12)))(uniform([3, 16, 16], 8, -0.4, 0.4)),
    tol
  },
  {
    name: "fori, whileLoop and cond (and their gradients)",
    prims: ["mul", "less", "greater"],
    run: () =>
      Effect.gen(function* () {
        const x = uniform([5], 9, 0.5, 1)
        const f = yield* fori(0, 7, (i: T, c: T) => Tensor.add(Tensor.mul(c, 0.9), Tensor.cast(i, "float32")), x)
        const w = yield* whileLoop((c: T) => Tensor.less(Tensor.sum(c), 100), (c: T) => Tensor.mul(c, 1.5), x)
        const branch = (y: T) => cond(Tensor.greater(Tensor.sum(y), 0), (v: T) => Tensor.sum(Tensor.exp(v)), (v: T) => Tensor.sum(Tensor.square(v)), y)
        return [f, w, yield* branch(x), yield* grad(branch)(x), yield* grad(branch)(Tensor.neg(x))]
      }),
    tol
  }
]
