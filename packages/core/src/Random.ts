/**
 * Random numbers from a counter-based generator whose key is state.
 *
 * A key is a `Variable` holding an int32 tensor of shape `[2]` (two 32-bit
 * words). Every draw reads the key (`Variable.get`), derives from it a fresh
 * subkey and the next key with Threefry-2x32 (20 rounds), generates the
 * numbers on the host from the subkey's stream, and writes the next key back
 * (`Variable.set`). Reading and advancing the key are state effects, so
 * inside a transform call (`grad`, `jacrev`...) the advance is committed with
 * the call when it succeeds and dropped when it fails. Draws are constant
 * tensors: they carry no gradient.
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
import { Effect } from "effect"
import type { DType } from "./DType.js"
import { DTypeError, ShapeError, type StateError, type TensorError } from "./Errors.js"
import { make as makeTensor } from "./internal/create.js"
import { broadcastTo, less } from "./internal/ops.js"
import { data as readData } from "./internal/read.js"
import { fmt } from "./internal/shape.js"
import { concat, slice } from "./internal/structural.js"
import { describeValue } from "./internal/guard.js"
import { errorTensor, isTensor, type Tensor } from "./internal/tensor.js"
import * as TF from "./internal/threefry.js"
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

/** Reads a key's two words, checking it is an int32 tensor of shape [2]. */
const readKey = (k: Key, op: string): Effect.Effect<readonly [number, number], RandomError> =>
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
    const d = yield* readData(t)
    return [d[0]! >>> 0, d[1]! >>> 0] as const
  })

/**
 * Reads the key, writes the next key, and hands a fresh subkey to `use`.
 * The next key and the subkey are the hashes of counters (0, 0) and (0, 1).
 */
const draw = <A>(k: Key, op: string, use: (s0: number, s1: number) => A): Effect.Effect<A, RandomError> =>
  Effect.gen(function* () {
    const [k0, k1] = yield* readKey(k, op)
    const [n0, n1] = TF.hashPair(k0, k1, 0, 0)
    const [s0, s1] = TF.hashPair(k0, k1, 0, 1)
    const result = use(s0, s1)
    yield* Variable.set(k, keyOf(n0, n1))
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
        draw(k, "split", (s0, s1) => Array.from({ length: n }, (_, i) => TF.hashPair(s0, s1, 0, i))),
        (pairs) => Effect.forEach(pairs, ([a, b]) => Variable.make(keyOf(a, b)))
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
    : Effect.flatMap(readKey(k, "foldIn"), ([k0, k1]) => {
        const [a, b] = TF.hashPair(k0, k1, 2, data >>> 0)
        return Variable.make(keyOf(a, b))
      })

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

const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1)

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
  return draw(k, "bits", (s0, s1) => makeTensor(new Int32Array(TF.words(s0, s1, sizeOf(shape)).buffer, 0, sizeOf(shape)), { shape, dtype: "int32" }))
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

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
/** The largest float32 below x. */
const below32 = (x: number): number => {
  const y = Math.fround(x)
  if (y < x) return y
  if (y === 0) return -(2 ** -149)
  f32[0] = y
  u32[0] = y > 0 ? u32[0]! - 1 : u32[0]! + 1
  return f32[0]!
}
const f64 = new Float64Array(1)
const u64 = new BigUint64Array(f64.buffer)
/** The largest float64 below x. */
const below64 = (x: number): number => {
  if (x === 0) return -Number.MIN_VALUE
  f64[0] = x
  u64[0] = x > 0 ? u64[0]! - 1n : u64[0]! + 1n
  return f64[0]!
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
  const n = sizeOf(shape)
  const width = maxval - minval
  return draw(k, "uniform", (s0, s1) => {
    if (dtype === "float32") {
      const w = TF.words(s0, s1, n)
      const out = new Float32Array(n)
      const top = below32(maxval)
      for (let i = 0; i < n; i++) {
        const v = Math.fround(minval + TF.unit24(w[i]!) * width)
        out[i] = v >= maxval ? top : v
      }
      return makeTensor(out, { shape, dtype })
    }
    const w = TF.words(s0, s1, 2 * n)
    const out = new Float64Array(n)
    const top = below64(maxval)
    for (let i = 0; i < n; i++) {
      const v = minval + TF.unit53(w[2 * i]!, w[2 * i + 1]!) * width
      out[i] = v >= maxval ? top : v
    }
    return makeTensor(out, { shape, dtype })
  })
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

/** `count` standard normal numbers by Box–Muller on 53-bit uniforms. */
const standardNormals = (s0: number, s1: number, count: number): Float64Array => {
  const pairs = Math.ceil(count / 2)
  const w = TF.words(s0, s1, 4 * pairs)
  const z = new Float64Array(2 * pairs)
  for (let j = 0; j < pairs; j++) {
    const u1 = 1 - TF.unit53(w[4 * j]!, w[4 * j + 1]!) // (0, 1]: log is finite
    const u2 = TF.unit53(w[4 * j + 2]!, w[4 * j + 3]!)
    const r = Math.sqrt(-2 * Math.log(u1))
    const t = 2 * Math.PI * u2
    z[2 * j] = r * Math.cos(t)
    z[2 * j + 1] = r * Math.sin(t)
  }
  return z
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
  const n = sizeOf(shape)
  return draw(k, "normal", (s0, s1) => {
    if (dtype === "complex64") {
      const z = standardNormals(s0, s1, 2 * n)
      const out = new Float32Array(2 * n)
      const s = stddev / Math.SQRT2
      for (let i = 0; i < n; i++) {
        out[2 * i] = mean + s * z[2 * i]!
        out[2 * i + 1] = s * z[2 * i + 1]!
      }
      return makeTensor(out, { shape, dtype })
    }
    const z = standardNormals(s0, s1, n)
    const out = dtype === "float32" ? new Float32Array(n) : new Float64Array(n)
    for (let i = 0; i < n; i++) out[i] = mean + stddev * z[i]!
    return makeTensor(out, { shape, dtype })
  })
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
  const n = sizeOf(s)
  return draw(k, "bernoulli", (s0, s1) => {
    const w = TF.words(s0, s1, n)
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = TF.unit24(w[i]!) < p ? 1 : 0
    return makeTensor(out, { shape: s, dtype: "bool" })
  })
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
  const n = sizeOf(shape)
  return draw(k, "randint", (s0, s1) => {
    const out = new Int32Array(n)
    for (let i = 0; i < n; i++) out[i] = minval + TF.below(s0, s1, i, maxval - minval)
    return makeTensor(out, { shape, dtype: "int32" })
  })
}

const shuffled = (s0: number, s1: number, n: number): Int32Array => {
  const perm = new Int32Array(n)
  for (let i = 0; i < n; i++) perm[i] = i
  // Fisher–Yates: position j swaps with a uniform index in [0, j]
  for (let j = n - 1; j > 0; j--) {
    const r = TF.below(s0, s1, j, j + 1)
    const t = perm[j]!
    perm[j] = perm[r]!
    perm[r] = t
  }
  return perm
}

/**
 * A uniformly random permutation of `0, 1, ..., n - 1` (int32).
 * @example `const order = yield* Random.permutation(key, 60000)`
 */
export const permutation = (k: Key, n: number): Effect.Effect<Tensor, RandomError> =>
  !Number.isInteger(n) || n < 0 || n > 2 ** 31
    ? Effect.fail(new ShapeError({ message: `Random.permutation: expected a non-negative integer, got ${String(n)}` }))
    : draw(k, "permutation", (s0, s1) => makeTensor(shuffled(s0, s1, n), { shape: [n], dtype: "int32" }))

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
  return draw(k, "shuffle", (s0, s1) => {
    if (n <= 1) return x
    const starts = x.shape.map(() => 0)
    const stops = [...x.shape]
    const parts = Array.from(shuffled(s0, s1, n), (i) => {
      starts[axis] = i
      stops[axis] = i + 1
      return slice(x, [...starts], [...stops])
    })
    return concat(parts, axis)
  })
}
