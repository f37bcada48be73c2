import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Backend, type BackendShape, Tensor } from "../src/index.js"
import type { Aval, KernelArg } from "../src/Backend.js"
import { cpuBackend } from "../src/internal/cpu/backend.js"

/** The CPU backend without view kernels or fusion: every transpose / broadcast / slice materialized. */
const noViews: BackendShape = { ...cpuBackend, viewKernels: undefined as never, fusion: undefined as never }

const read = (t: Tensor.Tensor, backend: BackendShape) => Effect.runSync(Tensor.data(t).pipe(Effect.provideService(Backend, backend)))

const seq = (shape: number[], dtype: Tensor.DType = "float32", scale = 0.37) => {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = Array.from({ length: n }, (_, i) => (dtype === "int32" ? (i % 11) - 5 : dtype === "bool" ? i % 3 === 0 : Math.sin(i * scale + 0.1)))
  return Tensor.reshape(Tensor.make(data as number[], { dtype }), shape)
}

/** The CPU backend, counting the strided operands its view kernels receive. */
let strided = 0
const spied: BackendShape = {
  ...cpuBackend,
  viewKernels: Object.fromEntries(
    Object.entries(cpuBackend.viewKernels!).map(([name, k]) => [
      name,
      (args: ReadonlyArray<KernelArg>, params: unknown, out: Aval) => {
        strided += args.filter((a) => a.strides !== undefined).length
        return (k as (a: ReadonlyArray<KernelArg>, p: unknown, o: Aval) => unknown)(args, params, out)
      }
    ])
  ),
  fusion: {
    canFuse: cpuBackend.fusion!.canFuse,
    kernel: (program, args, out) => {
      strided += args.filter((a) => a.strides !== undefined).length
      return cpuBackend.fusion!.kernel(program, args, out)
    }
  }
}

/** Builds the graph twice (fresh nodes each time), compares the two backends, and checks that views were read. */
const same = (build: () => Tensor.Tensor, tol = 1e-5) => {
  const want = read(build(), noViews)
  const before = strided
  const got = read(build(), spied)
  expect(strided, "no strided operand reached a view kernel").toBeGreaterThan(before)
  expect(got.constructor).toBe(want.constructor)
  expect(got.length).toBe(want.length)
  for (let i = 0; i < want.length; i++) {
    const w = Number(want[i]), g = Number(got[i])
    if (!(Object.is(w, g) || Math.abs(w - g) <= tol * Math.max(1, Math.abs(w)) || (Number.isNaN(w) && Number.isNaN(g)))) expect.fail(`element ${i}: ${g}, want ${w}`)
  }
}

describe("view kernels: matmul reads transposes, broadcasts and slices in place", () => {
  it("transposed operands", () => {
    same(() => Tensor.matmul(Tensor.transpose(seq([40, 30])), seq([40, 20])))
    same(() => Tensor.matmul(seq([30, 40]), Tensor.transpose(seq([20, 40]))))
    same(() => Tensor.matmul(Tensor.transpose(seq([7, 5])), Tensor.transpose(seq([3, 7]))))
    same(() => Tensor.matmul(Tensor.transpose(seq([3, 40, 30]), [0, 2, 1]), seq([3, 40, 20])))
  })
  it("a matrix shared by a batch of vectors (vmap, jacobians) folds into one product", () => {
    const A = seq([64, 48])
    same(() => Tensor.matmul(Tensor.broadcastTo(A, [50, 64, 48]), seq([50, 48, 1])))
    same(() => Tensor.matmul(Tensor.broadcastTo(Tensor.reshape(A, [1, 64, 48]), [9, 1, 64, 48]), seq([9, 1, 48, 1])))
    same(() => Tensor.matmul(Tensor.broadcastTo(A, [50, 64, 48]), Tensor.transpose(seq([50, 1, 48]), [0, 2, 1])))
  })
  it("a batch of matrices times one shared matrix folds into one product", () => {
    const W = seq([48, 33])
    same(() => Tensor.matmul(seq([6, 10, 48]), Tensor.broadcastTo(W, [6, 48, 33])))
    same(() => Tensor.matmul(seq([6, 1, 48]), Tensor.broadcastTo(W, [6, 48, 33])))
    same(() => Tensor.matmul(Tensor.transpose(seq([6, 48, 10]), [0, 2, 1]), Tensor.broadcastTo(W, [6, 48, 33])))
  })
  it("slices and reshapes in the chain", () => {
    same(() => Tensor.matmul(Tensor.slice(seq([50, 60]), [3, 5], [43, 45]), seq([40, 9])))
    same(() => Tensor.matmul(Tensor.reshape(Tensor.transpose(seq([8, 6])), [1, 6, 8]), seq([1, 8, 5])))
    same(() => Tensor.matmul(Tensor.reshape(Tensor.transpose(seq([4, 6, 8]), [1, 0, 2]), [24, 8]), seq([8, 5])))
  })
  it("int32, float64 and complex64 operands", () => {
    same(() => Tensor.matmul(Tensor.transpose(seq([9, 7], "int32")), Tensor.broadcastTo(seq([9, 1], "int32"), [9, 4])), 0)
    same(() => Tensor.matmul(Tensor.broadcastTo(seq([5, 6], "float64"), [3, 5, 6]), seq([3, 6, 1], "float64")), 1e-12)
    const z = Tensor.complex(seq([6, 5]), seq([6, 5], "float32", 0.11))
    same(() => Tensor.matmul(Tensor.transpose(z), Tensor.broadcastTo(Tensor.complex(seq([6, 1]), seq([6, 1])), [6, 3])))
  })
  it("a view node that is also read on its own", () => {
    const x = seq([12, 9])
    const build = () => {
      const t = Tensor.transpose(x)
      return Tensor.add(Tensor.sum(Tensor.matmul(t, x)), Tensor.sum(t))
    }
    same(build)
  })
})

describe("view kernels: elementwise ops read broadcasts in place", () => {
  it("bias rows, scalars and columns", () => {
    const x = seq([16, 24])
    same(() => Tensor.add(x, seq([24])))
    same(() => Tensor.add(seq([24]), x))
    same(() => Tensor.mul(x, 3))
    same(() => Tensor.sub(2, x))
    same(() => Tensor.div(x, seq([16, 1])))
    same(() => Tensor.maximum(x, 0))
    same(() => Tensor.pow(Tensor.abs(x), seq([1, 24])))
    same(() => Tensor.add(seq([1, 24]), seq([16, 1])))
    same(() => Tensor.add(Tensor.transpose(seq([24, 16])), x))
    same(() => Tensor.add(Tensor.slice(seq([40, 24]), [5, 0], [21, 24]), seq([24])))
    same(() => Tensor.mul(Tensor.reshape(Tensor.slice(seq([40, 24]), [5, 0], [21, 24]), [16, 24]), Tensor.transpose(seq([24, 16]))))
  })
  it("comparisons, where and relu", () => {
    const x = seq([10, 7])
    same(() => Tensor.greater(x, 0))
    same(() => Tensor.less(seq([7]), x))
    same(() => Tensor.equal(x, Tensor.slice(x, [0, 0], [1, 7])))
    same(() => Tensor.where(Tensor.greater(x, 0), x, 0))
    same(() => Tensor.where(Tensor.greater(seq([7]), 0), x, seq([10, 1])))
    same(() => Tensor.relu(x))
  })
  it("other dtypes and NaN", () => {
    same(() => Tensor.add(seq([5, 4], "int32"), 7), 0)
    same(() => Tensor.where(Tensor.greater(seq([5, 4], "int32"), 0), seq([5, 4], "int32"), 0), 0)
    same(() => Tensor.add(seq([5, 4], "float64"), seq([4], "float64")), 0)
    same(() => Tensor.mul(Tensor.complex(seq([5, 4]), seq([5, 4])), Tensor.complex(seq([4]), seq([4]))))
    same(() => Tensor.maximum(Tensor.div(seq([3, 4]), 0), Tensor.log(seq([4]))))
  })
  it("empty tensors", () => {
    same(() => Tensor.add(seq([0, 4]), seq([4])))
    same(() => Tensor.matmul(Tensor.broadcastTo(seq([3, 0]), [2, 3, 0]), seq([2, 0, 1])))
  })
})
