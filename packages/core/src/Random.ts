/**
 * Random numbers from a counter-based generator whose key is state.
 *
 * A key is a `Variable` holding an int32 tensor of shape `[2]` (two 32-bit
 * words). Every draw reads the key (`Variable.get`), derives from it a fresh
 * subkey and the next key with Threefry-2x32 (20 rounds), and writes the
 * next key back (`Variable.set`). Hashing and sampling are nodes of the
 * graph (the `random` primitive), so a draw inside `jit` is part of the
 * program and draws new numbers at every call. Reading and advancing the
 * key are state effects, so inside a transform call (`grad`, `jacrev`...)
 * the advance is committed with the call when it succeeds and dropped when
 * it fails. Draws carry no gradient.
 *
 * The same seed gives the same numbers on every backend and platform; keys
 * made by `split` / `foldIn` give independent streams.
 *
 * Arguments that make no sense (a negative or fractional axis size, an empty
 * interval, a probability outside [0, 1]) fail with `ShapeError`; a dtype a
 * sampler does not produce, a fractional seed, or a key that is not an int32
 * tensor of shape [2] fails with `DTypeError` / `ShapeError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Random, Tensor } from "@diffect/core"
 * const program = Effect.gen(function* () {
 *   const key = yield* Random.key(42)
 *   const w = yield* Random.normal(key, [784, 256], { stddev: 0.05 })
 *   const u = yield* Random.uniform(key, [10])   // a different draw: the key moved on
 *   return yield* Tensor.toArray(u)
 * })
 * ```
 * @module
 */
import * as Effect from "effect/Effect"
import type { DType } from "./DType.js"
import { DTypeError, ShapeError, type StateError, type TensorError } from "./Errors.js"
import { make as makeTensor } from "./internal/create.js"
import { broadcastTo, less } from "./internal/ops.js"
import { data as readData } from "./internal/read.js"
import { fmt } from "./internal/shape.js"
import { concat, slice } from "./internal/structural.js"
import { describeValue } from "./internal/guard.js"
import { errorTensor, isTensor, type Tensor } from "./internal/tensor.js"
import { bind } from "./internal/bind.js"
import type { RandomParams } from "./internal/primitives.js"
import * as Variable from "./Variable.js"

/**
 * A PRNG key: a Variable holding an int32 tensor of shape `[2]`.
 * @example `const key: Random.Key = yield* Random.key(0)`
 */
export type Key = Variable.Variable<Tensor>

/**
 * What a draw can fail with: a bad key or argument, or a state error.
 * @example `const draw: Effect.Effect<Tensor, Random.RandomError> = Random.uniform(key, [3])`
 */
export type RandomError = TensorError | StateError

// ------------------------------------------------------------------ keys

/** Options must be an object (or absent). */
const notOptions = (op: string, options: unknown): Effect.Effect<never, DTypeError> | undefined =>
  options === undefined || (typeof options === "object" && options !== null && !Array.isArray(options))
    ? undefined
    : Effect.fail(new DTypeError({ message: `Random.${op}: options must be an object, got ${describeValue(options)}` }))

const TWO_32 = 4294967296

const seedWords = (seed: number): [number, number] | DTypeError => {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed))
    return new DTypeError({ message: `Random.key: expected a safe integer seed, got ${String(seed)}` })
  const u = BigInt.asUintN(64, BigInt(seed))
  return [Number(u >> 32n), Number(u & 0xffffffffn)]
}

const keyOf = (k0: number, k1: number): Tensor => makeTensor(Int32Array.of(k0 | 0, k1 | 0), { shape: [2], dtype: "int32" })

/**
 * The raw key tensor for a seed (pure): int32 `[hi, lo]` of the seed as an
 * unsigned 64-bit integer. A fractional seed gives a tensor that fails with
 * `DTypeError` when used.
 * @example `const k = yield* Variable.make(Random.keyTensor(7), { name: "rng" })`
 */
export const keyTensor = (seed: number): Tensor => {
  const w = seedWords(seed)
  return w instanceof DTypeError ? errorTensor(w, "int32", [2]) : keyOf(w[0], w[1])
}

/**
 * Makes a key Variable from an integer seed (an effect: it creates state).
 * @example
 * ```ts
 * const key = yield* Random.key(0, { name: "init" })
 * ```
 */
export const key = (seed: number, options: { readonly name?: string | undefined } = {}): Effect.Effect<Key, RandomError> =>
  notOptions("key", options) ?? Variable.make(keyTensor(seed), { name: options.name })

/** Reads a key, checking it is an int32 tensor of shape [2]. */
const readKey = (k: Key, op: string): Effect.Effect<Tensor, RandomError> =>
  Effect.gen(function* () {
    if (!Variable.isVariable(k))
      return yield* Effect.fail(new DTypeError({ message: `Random.${op}: expected a key Variable, got ${describeValue(k)}` }))
    const t: unknown = yield* Variable.get(k)
    if (!isTensor(t))
      return yield* Effect.fail(new DTypeError({ message: `Random.${op}: key ${k.label} must hold an int32 tensor of shape [2], got a pytree` }))
    if (t.dtype !== "int32")
      return yield* Effect.fail(new DTypeError({ message: `Random.${op}: key ${k.label} must be int32[2], got ${t.dtype}${fmt(t.shape)}` }))
    if (t.shape.length !== 1 || t.shape[0] !== 2)
      return yield* Effect.fail(new ShapeError({ message: `Random.${op}: key ${k.label} must be int32[2], got ${t.dtype}${fmt(t.shape)}` }))
    return t
  })

/** A `random` node over `key` (see the primitive's RandomParams). */
const node = (key: Tensor, kind: RandomParams["kind"], shape: Shape = [], dtype: DType = "int32", a = 0, b = 0): Tensor =>
  bind("random", [key], { kind, shape, dtype, a, b })

/** The key hashed at the counter (a, b): a new key. */
const hashed = (key: Tensor, a: number, b: number): Tensor => node(key, "hash", [], "int32", a, b)

/**
 * Reads the key, writes the next key, and gives a draw from a fresh subkey.
 * The next key and the subkey are the hashes of counters (0, 0) and (0, 1).
 * Draws are `random` nodes of the graph: under `jit` the program draws anew
 * at every call.
 */
const draw = <A>(k: Key, op: string, use: (subkey: Tensor) => A): Effect.Effect<A, RandomError> =>
  Effect.gen(function* () {
    const key = yield* readKey(k, op)
    const result = use(hashed(key, 0, 1))
    yield* Variable.set(k, hashed(key, 0, 0))
    return result
  })

/**
 * Splits a key: returns `n` new key Variables (default 2) with independent
 * streams, and advances `key`.
 * @example
 * ```ts
 * const [k1, k2] = yield* Random.split(key)
 * const w1 = yield* Random.normal(k1, [4, 4])
 * ```
 */
export const split = (k: Key, n = 2): Effect.Effect<Array<Key>, RandomError> =>
  !Number.isInteger(n) || n < 0 || n >= TWO_32
    ? Effect.fail(new ShapeError({ message: `Random.split: expected a non-negative integer count, got ${String(n)}` }))
    : Effect.flatMap(
        draw(k, "split", (sub) => Array.from({ length: n }, (_, i) => hashed(sub, 0, i))),
        (keys) => Effect.forEach(keys, (t) => Variable.make(t))
      )

/**
 * A new key Variable derived from `key` and an integer (for example a step
 * number), without advancing `key`: the same `(key, data)` always gives the
 * same new key.
 * @example `const stepKey = yield* Random.foldIn(key, step)`
 */
export const foldIn = (k: Key, data: number): Effect.Effect<Key, RandomError> =>
  !Number.isInteger(data) || data < -(2 ** 31) || data >= TWO_32
    ? Effect.fail(new ShapeError({ message: `Random.foldIn: expected a 32-bit integer, got ${String(data)}` }))
    : Effect.flatMap(readKey(k, "foldIn"), (key) => Variable.make(hashed(key, 2, data >>> 0)))

// ------------------------------------------------------------------ samplers

/**
 * A shape argument: non-negative integer axis sizes.
 * @example `const shape: Random.Shape = [128, 784]`
 */
export type Shape = ReadonlyArray<number>

const badShape = (op: string, shape: Shape): ShapeError | undefined =>
  Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 0)
    ? undefined
    : new ShapeError({ message: `Random.${op}: invalid shape ${Array.isArray(shape) ? `[${shape.map(String).join(", ")}]` : describeValue(shape)}` })

const badDType = (op: string, dtype: DType, allowed: ReadonlyArray<DType>): DTypeError | undefined =>
  allowed.includes(dtype) ? undefined : new DTypeError({ message: `Random.${op}: expected dtype ${allowed.join(" | ")}, got ${String(dtype)}` })

/**
 * Raw random bits: an int32 tensor whose elements are uniform over all 2^32
 * bit patterns.
 * @example `const b = yield* Random.bits(key, [4])`
 */
export const bits = (k: Key, shape: Shape = []): Effect.Effect<Tensor, RandomError> => {
  const bad = badShape("bits", shape)
  if (bad) return Effect.fail(bad)
  return draw(k, "bits", (sub) => node(sub, "bits", shape, "int32"))
}

/**
 * Options of `uniform`.
 * @example `const o: Random.UniformOptions = { minval: -1, maxval: 1, dtype: "float64" }`
 */
export interface UniformOptions {
  /** Inclusive lower bound (default 0). */
  readonly minval?: number | undefined
  /** Exclusive upper bound (default 1). */
  readonly maxval?: number | undefined
  /** float32 (default) or float64. */
  readonly dtype?: DType | undefined
}

/**
 * Uniform floats in `[minval, maxval)` (float32 with 24 random bits, float64
 * with 53).
 * @example
 * ```ts
 * const u = yield* Random.uniform(key, [2, 3], { minval: -1, maxval: 1 })
 * ```
 */
export const uniform = (k: Key, shape: Shape = [], options: UniformOptions = {}): Effect.Effect<Tensor, RandomError> => {
  const notObject = notOptions("uniform", options)
  if (notObject) return notObject
  const { minval = 0, maxval = 1, dtype = "float32" } = options
  const bad =
    badShape("uniform", shape) ??
    badDType("uniform", dtype, ["float32", "float64"]) ??
    (Number.isFinite(minval) && Number.isFinite(maxval) && minval < maxval
      ? undefined
      : new ShapeError({ message: `Random.uniform: expected finite minval < maxval, got [${String(minval)}, ${String(maxval)})` }))
  if (bad) return Effect.fail(bad)
  return draw(k, "uniform", (sub) => node(sub, "uniform", shape, dtype, minval, maxval))
}

/**
 * Options of `normal`.
 * @example `const o: Random.NormalOptions = { mean: 0, stddev: 0.02 }`
 */
export interface NormalOptions {
  /** The mean (default 0; for complex64, added to the real part). */
  readonly mean?: number | undefined
  /** The standard deviation (default 1; for complex64, of the modulus: each part has stddev/√2). */
  readonly stddev?: number | undefined
  /** float32 (default), float64 or complex64. */
  readonly dtype?: DType | undefined
}

/**
 * Normal (Gaussian) floats with the given mean and standard deviation.
 * @example
 * ```ts
 * const w = yield* Random.normal(key, [784, 256], { stddev: Math.sqrt(2 / 784) })
 * ```
 */
export const normal = (k: Key, shape: Shape = [], options: NormalOptions = {}): Effect.Effect<Tensor, RandomError> => {
  const notObject = notOptions("normal", options)
  if (notObject) return notObject
  const { mean = 0, stddev = 1, dtype = "float32" } = options
  const bad =
    badShape("normal", shape) ??
    badDType("normal", dtype, ["float32", "float64", "complex64"]) ??
    (Number.isFinite(mean) && Number.isFinite(stddev) && stddev >= 0
      ? undefined
      : new ShapeError({ message: `Random.normal: expected a finite mean and stddev >= 0, got mean ${String(mean)}, stddev ${String(stddev)}` }))
  if (bad) return Effect.fail(bad)
  return draw(k, "normal", (sub) => node(sub, "normal", shape, dtype, mean, stddev))
}

/**
 * Booleans that are true with probability `p` (a number in [0, 1], or a
 * tensor of probabilities broadcast to `shape`; `shape` defaults to `p`'s).
 * @example
 * ```ts
 * const keep = yield* Random.bernoulli(key, 0.9, [128, 256])   // a dropout mask
 * const y = Tensor.where(keep, Tensor.div(x, 0.9), 0)
 * ```
 */
export const bernoulli = (k: Key, p: number | Tensor = 0.5, shape?: Shape): Effect.Effect<Tensor, RandomError> => {
  if (isTensor(p)) {
    const s = shape ?? p.shape
    const bad = badShape("bernoulli", s)
    if (bad) return Effect.fail(bad)
    return Effect.map(uniform(k, s), (u) => less(u, broadcastTo(p, s, "Random.bernoulli")))
  }
  const s = shape ?? []
  const bad =
    badShape("bernoulli", s) ??
    (typeof p === "number" && p >= 0 && p <= 1 ? undefined : new ShapeError({ message: `Random.bernoulli: expected a probability in [0, 1], got ${describeValue(p)}` }))
  if (bad) return Effect.fail(bad)
  return draw(k, "bernoulli", (sub) => node(sub, "bernoulli", s, "bool", p))
}

/**
 * Uniform int32 integers in `[minval, maxval)`, without modulo bias.
 * @example `const labels = yield* Random.randint(key, [128], 0, 10)`
 */
export const randint = (k: Key, shape: Shape, minval: number, maxval: number): Effect.Effect<Tensor, RandomError> => {
  const int32 = (x: number) => Number.isInteger(x) && x >= -(2 ** 31) && x <= 2 ** 31
  const bad =
    badShape("randint", shape) ??
    (int32(minval) && int32(maxval) && minval < maxval
      ? undefined
      : new ShapeError({ message: `Random.randint: expected int32 bounds minval < maxval, got [${String(minval)}, ${String(maxval)})` }))
  if (bad) return Effect.fail(bad)
  return draw(k, "randint", (sub) => node(sub, "randint", shape, "int32", minval, maxval))
}

/**
 * A uniformly random permutation of `0, 1, ..., n - 1` (int32).
 * @example `const order = yield* Random.permutation(key, 60000)`
 */
export const permutation = (k: Key, n: number): Effect.Effect<Tensor, RandomError> =>
  !Number.isInteger(n) || n < 0 || n > 2 ** 31
    ? Effect.fail(new ShapeError({ message: `Random.permutation: expected a non-negative integer, got ${String(n)}` }))
    : draw(k, "permutation", (sub) => node(sub, "permutation", [n], "int32"))

/**
 * `x` with its entries along `axis` (default 0) in a uniformly random order.
 * The result is differentiable with respect to `x` (it is built from slices).
 * @example `const batch = yield* Random.shuffle(key, images)`
 */
export const shuffle = (k: Key, x: Tensor, options: { readonly axis?: number | undefined } = {}): Effect.Effect<Tensor, RandomError> => {
  if (!isTensor(x)) return Effect.fail(new DTypeError({ message: `Random.shuffle: expected a Tensor to shuffle, got ${describeValue(x)}` }))
  if (x.op === "error") return Effect.fail(x.error!)
  const notObject = notOptions("shuffle", options)
  if (notObject) return notObject
  const axis0: unknown = options.axis ?? 0
  if (typeof axis0 !== "number") return Effect.fail(new ShapeError({ message: `Random.shuffle: axis must be an integer, got ${describeValue(axis0)}` }))
  const axis = axis0 < 0 ? axis0 + x.ndim : axis0
  if (!Number.isInteger(axis) || axis < 0 || axis >= x.ndim)
    return Effect.fail(new ShapeError({ message: `Random.shuffle: axis ${axis0} out of range for shape ${fmt(x.shape)}` }))
  const n = x.shape[axis]!
  return Effect.flatMap(draw(k, "shuffle", (sub) => node(sub, "permutation", [n], "int32")), (perm) => Effect.map(readData(perm), (order) => {
    if (n <= 1) return x
    const starts = x.shape.map(() => 0)
    const stops = [...x.shape]
    const parts = Array.from(order, (i) => {
      starts[axis] = i
      stops[axis] = i + 1
      return slice(x, [...starts], [...stops])
    })
    return concat(parts, axis)
  }))
}
