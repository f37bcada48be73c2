/**
 * Convolution and pooling conformance cases (float32): conv with strides,
 * padding, dilation and groups in 1 to 3 spatial dims, its input and
 * kernel gradients, vmap over kernels, max / average pooling and their
 * gradients, compared with the CPU backend on every backend.
 */
import { Tensor } from "@diffect/core"
import { grad, vmap } from "@diffect/transforms"
import type { Case } from "./cases.js"
import { uniform } from "./data.js"

type T = Tensor.Tensor
const tol = { rtol: 1e-3, atol: 1e-4 }

export const convCases: ReadonlyArray<Case> = [
  {
    name: "conv2d: SAME, strides, dilation, groups; a 32-image batch of 3 → 16 channels",
    prims: ["conv"],
    run: () => [
      Tensor.conv(uniform([2, 4, 7, 6], 1), uniform([6, 2, 3, 2], 2), { padding: "SAME", strides: [2, 1], dilation: [1, 2], groups: 2 }),
      Tensor.conv(uniform([32, 3, 32, 32], 3), uniform([16, 3, 3, 3], 4), { padding: "SAME" })
    ],
    tol
  },
  {
    name: "conv1d and conv3d with explicit padding",
    prims: ["conv"],
    run: () => [
      Tensor.conv(uniform([3, 2, 9], 5), uniform([4, 2, 3], 6), { strides: 2, padding: [[1, 2]] }),
      Tensor.conv(uniform([1, 2, 4, 5, 4], 7), uniform([3, 2, 2, 3, 2], 8), { padding: [[0, 1], [1, 1], [0, 0]] })
    ],
    tol
  },
  {
    name: "conv2d input and kernel gradients (transposed convolutions), strided, and vmap over kernels",
    prims: ["conv", "transpose", "concat", "slice"],
    run: () => {
      const x = uniform([4, 3, 8, 8], 9), w = uniform([5, 3, 3, 3], 10)
      const loss = (a: T, b: T) => Tensor.sum(Tensor.square(Tensor.conv(a, b, { strides: 2, padding: "SAME" })))
      return [grad(loss, { argnums: [0, 1] })(x, w), vmap((k: T) => Tensor.conv(x, k))(uniform([2, 5, 3, 2, 2], 11))]
    },
    tol
  },
  {
    name: "maxPool and avgPool with strides and padding, and their gradients",
    prims: ["max", "pad", "where", "slice", "reshape"],
    run: () => {
      const x = uniform([2, 3, 7, 6], 12)
      const f = (a: T) => Tensor.add(Tensor.sum(Tensor.square(Tensor.maxPool(a, [3, 2], { strides: 2, padding: "SAME" }))), Tensor.sum(Tensor.avgPool(a, 2)))
      return [Tensor.maxPool(x, [3, 2], { strides: 2, padding: "SAME" }), Tensor.avgPool(x, 3, { strides: [1, 2], padding: [[1, 1], [0, 0]] }), grad(f)(x)]
    },
    tol
  }
]
