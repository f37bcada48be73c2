/**
 * Initializers: functions of a `Random` key and a shape giving a tensor (an
 * Effect, since a draw advances the key). Glorot (Xavier) and He (Kaiming)
 * in their uniform and normal forms, as PyTorch's `nn.init` (He with the
 * ReLU gain, fan-in mode; normals not truncated).
 *
 * Fans: a `[in, out]` matrix (diffect's `x @ w` layout) has fan-in `in` and
 * fan-out `out`; a convolution kernel `[out, in, ...k]` (PyTorch's layout)
 * has fan-in `in · Πk` and fan-out `out · Πk`; a vector has both equal to its
 * length.
 *
 * @example
 * ```ts
 * const w = yield* Init.heNormal(key, [784, 256])
 * ```
 * @module
 */
import type { Effect } from "effect"
import { Random, type Tensor } from "@diffect/core"

/**
 * An initializer: a tensor of `shape` drawn from `key`.
 * @example `const init: Init.Initializer = Init.glorotUniform`
 */
export type Initializer = (key: Random.Key, shape: ReadonlyArray<number>, options?: InitOptions) => Effect.Effect<Tensor.Tensor, Random.RandomError>

/**
 * Options of an initializer.
 * @example `yield* Init.glorotNormal(key, [3, 4], { dtype: "float64" })`
 */
export interface InitOptions {
  /** float32 (default) or float64. */
  readonly dtype?: "float32" | "float64" | undefined
}

/**
 * `[fanIn, fanOut]` of a weight shape (see the module's description).
 * @example `Init.fans([784, 256]) // [784, 256]`
 */
export const fans = (shape: ReadonlyArray<number>): readonly [number, number] => {
  if (shape.length === 0) return [1, 1]
  if (shape.length === 1) return [shape[0]!, shape[0]!]
  if (shape.length === 2) return [shape[0]!, shape[1]!]
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1)
  return [shape[1]! * receptive, shape[0]! * receptive]
}

const uniformWith =
  (bound: (fanIn: number, fanOut: number) => number): Initializer =>
  (key, shape, options = {}) => {
    const [fi, fo] = fans(shape)
    const a = bound(fi, fo)
    return Random.uniform(key, shape, { minval: -a, maxval: a, dtype: options.dtype ?? "float32" })
  }

const normalWith =
  (stddev: (fanIn: number, fanOut: number) => number): Initializer =>
  (key, shape, options = {}) => {
    const [fi, fo] = fans(shape)
    return Random.normal(key, shape, { stddev: stddev(fi, fo), dtype: options.dtype ?? "float32" })
  }

/** Glorot (Xavier) uniform: U(−a, a), a = √(6 / (fanIn + fanOut)). @example `yield* Init.glorotUniform(key, [64, 32])` */
export const glorotUniform: Initializer = uniformWith((fi, fo) => Math.sqrt(6 / Math.max(1, fi + fo)))
/** Glorot (Xavier) normal: N(0, 2 / (fanIn + fanOut)). @example `yield* Init.glorotNormal(key, [64, 32])` */
export const glorotNormal: Initializer = normalWith((fi, fo) => Math.sqrt(2 / Math.max(1, fi + fo)))
/** He (Kaiming) uniform for ReLU: U(−a, a), a = √(6 / fanIn). @example `yield* Init.heUniform(key, [64, 32])` */
export const heUniform: Initializer = uniformWith((fi) => Math.sqrt(6 / Math.max(1, fi)))
/** He (Kaiming) normal for ReLU: N(0, 2 / fanIn). @example `yield* Init.heNormal(key, [64, 32])` */
export const heNormal: Initializer = normalWith((fi) => Math.sqrt(2 / Math.max(1, fi)))
/**
 * A normal with a fixed standard deviation (PyTorch's `nn.Embedding` uses N(0, 1)).
 * @example `const init = Init.normal(0.02)`
 */
export const normal =
  (stddev = 1): Initializer =>
  (key, shape, options = {}) =>
    Random.normal(key, shape, { stddev, dtype: options.dtype ?? "float32" })
