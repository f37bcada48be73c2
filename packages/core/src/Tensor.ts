/**
 * Tensors: immutable n-dimensional arrays and the pure ops on them.
 *
 * Ops are pure functions on `Tensor | number` operands with NumPy
 * broadcasting; each has a data-first and a data-last form, so it works in
 * `pipe`. Ops build a lazy expression; reading values (`data`, `toArray`,
 * `item`) is an Effect that evaluates it on the current Backend. A shape or
 * dtype mistake does not throw: the result carries a typed error that
 * surfaces when it is read or reaches a transform.
 *
 * @example
 * ```ts
 * import { Effect, pipe } from "effect"
 * import { Tensor } from "@diffect/core"
 * const x = Tensor.make([[1, 2], [3, 4]])
 * const y = pipe(x, Tensor.mul(2), Tensor.add(1), Tensor.sum({ axis: 0 }))
 * Effect.runPromise(Tensor.toArray(y)) // [8, 14]
 * ```
 * @module
 */
import { dual } from "effect/Function"
import type { DType } from "./DType.js"
import type { ReduceOptions } from "./internal/reduce.js"
import * as C from "./internal/create.js"
import * as O from "./internal/ops.js"
import * as R from "./internal/reduce.js"
import * as RD from "./internal/read.js"
import * as S from "./internal/structural.js"
import { isTensor, Tensor as TensorClass } from "./internal/tensor.js"

/** An immutable n-dimensional array. */
export type Tensor = TensorClass
/** The Tensor class (for `instanceof`). */
export const Tensor = TensorClass
/** An operand: a tensor or a weakly typed JavaScript number. */
export type TensorLike = O.TensorLike
export type { ComplexParts, DTypeOption, MakeOptions, NestedArray, TypedArrayLike } from "./internal/create.js"
export type { Nested } from "./internal/read.js"
export type { ReduceOptions } from "./internal/reduce.js"
export type { DType } from "./DType.js"
export { isTensor }

// ------------------------------------------------------------------ making

/**
 * Makes a tensor from a number, nested arrays, or a typed array (then
 * `options.shape` is required unless it is 1-D); `options.dtype` defaults to
 * float32. complex64 data is `{ re, im }`, interleaved typed arrays, or
 * nested arrays whose last axis is `[re, im]`. Pure: bad data gives a tensor
 * that fails with `ShapeError`/`DTypeError` when read.
 * @example
 * ```ts
 * Tensor.make([[1, 2], [3, 4]], { dtype: "float64" })
 * Tensor.make(new Float32Array(6), { shape: [2, 3] })
 * ```
 */
export const make: (data: C.NestedArray | C.TypedArrayLike | C.ComplexParts, options?: C.MakeOptions) => Tensor = C.make
/** A tensor of zeros. @example `Tensor.zeros([2, 3], { dtype: "int32" })` */
export const zeros = C.zeros
/** A tensor of ones. @example `Tensor.ones([3])` */
export const ones = C.ones
/** A tensor filled with one value. @example `Tensor.full([2, 2], 7)` */
export const full = C.full
/** Zeros with the shape (and dtype, unless given) of `t`. @example `Tensor.zerosLike(x)` */
export const zerosLike = C.zerosLike
/** Ones with the shape (and dtype, unless given) of `t`. @example `Tensor.onesLike(x)` */
export const onesLike = C.onesLike
/** `arange(stop)` or `arange(start, stop, step)`; int32 for integer arguments. @example `Tensor.arange(5)` */
export const arange = C.arange
/** Evenly spaced values, both ends included. @example `Tensor.linspace(0, 1, 5)` */
export const linspace = C.linspace
/** The identity matrix. @example `Tensor.eye(3)` */
export const eye = C.eye

// ------------------------------------------------------------------ reading

/** The flat row-major data (a fresh copy; complex64 interleaved). @example `yield* Tensor.data(x)` */
export const data = RD.data
/** The data as nested arrays (bool as booleans, complex64 as `[re, im]`). @example `yield* Tensor.toArray(x)` */
export const toArray = RD.toArray
/** The one element of a size-1 tensor. @example `yield* Tensor.item(Tensor.sum(x))` */
export const item = RD.item

// ------------------------------------------------------------------ elementwise

type Binary = {
  (b: TensorLike): (a: TensorLike) => Tensor
  (a: TensorLike, b: TensorLike): Tensor
}
const binary = (f: (a: TensorLike, b: TensorLike) => Tensor): Binary => dual(2, f)

/** a + b. @example `Tensor.add(x, 1)`, `pipe(x, Tensor.add(1))` */
export const add: Binary = binary(O.add)
/** a − b. @example `Tensor.sub(x, y)` */
export const sub: Binary = binary(O.sub)
/** a · b (elementwise). @example `Tensor.mul(x, 2)` */
export const mul: Binary = binary(O.mul)
/** a / b (true division: integers give float32). @example `Tensor.div(x, 2)` */
export const div: Binary = binary(O.div)
/** a ** b. @example `Tensor.pow(x, 3)` */
export const pow: Binary = binary(O.pow)
/** Elementwise maximum (NaN wins; at ties the gradient is split). @example `Tensor.maximum(x, 0)` */
export const maximum: Binary = binary(O.maximum)
/** Elementwise minimum. @example `Tensor.minimum(x, y)` */
export const minimum: Binary = binary(O.minimum)
/** a > b, as bool. @example `Tensor.greater(x, 0)` */
export const greater: Binary = binary(O.greater)
/** a < b, as bool. @example `Tensor.less(x, 0)` */
export const less: Binary = binary(O.less)
/** a == b, as bool. @example `Tensor.equal(x, y)` */
export const equal: Binary = binary(O.equal)

type Unary = (x: TensorLike) => Tensor
/** −x. @example `Tensor.neg(x)` */
export const neg: Unary = O.neg
/** eˣ. @example `Tensor.exp(x)` */
export const exp: Unary = O.exp
/** Natural logarithm. @example `Tensor.log(x)` */
export const log: Unary = O.log
/** Sine. @example `Tensor.sin(x)` */
export const sin: Unary = O.sin
/** Cosine. @example `Tensor.cos(x)` */
export const cos: Unary = O.cos
/** Hyperbolic tangent. @example `Tensor.tanh(x)` */
export const tanh: Unary = O.tanh
/** Square root. @example `Tensor.sqrt(x)` */
export const sqrt: Unary = O.sqrt
/** x². @example `Tensor.square(x)` */
export const square: Unary = O.square
/** |x| (complex: the modulus, float32). @example `Tensor.abs(x)` */
export const abs: Unary = O.abs
/** −1, 0 or 1 (complex: x/|x|). @example `Tensor.sign(x)` */
export const sign: Unary = O.sign
/** 1 / (1 + e⁻ˣ), without overflow for large |x|. @example `Tensor.sigmoid(x)` */
export const sigmoid: Unary = O.sigmoid
/** max(x, 0) with derivative 0 at 0. @example `Tensor.relu(x)` */
export const relu: Unary = O.relu
/** log(1 + x), accurate near 0. @example `Tensor.log1p(x)` */
export const log1p: Unary = O.log1p
/** eˣ − 1, accurate near 0. @example `Tensor.expm1(x)` */
export const expm1: Unary = O.expm1
/** 1 / x. @example `Tensor.reciprocal(x)` */
export const reciprocal: Unary = O.reciprocal

/**
 * where(cond, x, y): elements of x where cond holds, else of y (all three
 * broadcast; cond is cast to bool). Data-last: `pipe(cond, where(x, y))`.
 * @example `Tensor.where(Tensor.greater(x, 0), x, 0)`
 */
export const where: {
  (x: TensorLike, y: TensorLike): (cond: TensorLike) => Tensor
  (cond: TensorLike, x: TensorLike, y: TensorLike): Tensor
} = dual(3, O.where)

// ------------------------------------------------------------------ reductions

type Reduction = {
  (options?: ReduceOptions): (x: Tensor) => Tensor
  (x: Tensor, options?: ReduceOptions): Tensor
}
const reduction = (f: (x: Tensor, o?: ReduceOptions) => Tensor): Reduction =>
  dual((args) => isTensor(args[0]), f)

/** Sum over `axis` (default all). @example `Tensor.sum(x, { axis: 0, keepdims: true })` */
export const sum: Reduction = reduction(R.sum)
/** Mean over `axis` (default all). @example `Tensor.mean(x)` */
export const mean: Reduction = reduction(R.mean)
/** Maximum over `axis` (the gradient is shared among ties). @example `Tensor.max(x, { axis: 1 })` */
export const max: Reduction = reduction(R.max)
/** Minimum over `axis`. @example `Tensor.min(x)` */
export const min: Reduction = reduction(R.min)
/** log Σ exp, stable for large inputs. @example `Tensor.logsumexp(x, { axis: -1 })` */
export const logsumexp: Reduction = reduction(R.logsumexp)
/** Softmax along `axis` (default the last), stable for large inputs. @example `Tensor.softmax(logits)` */
export const softmax: {
  (options?: { readonly axis?: number | ReadonlyArray<number> | undefined }): (x: Tensor) => Tensor
  (x: Tensor, options?: { readonly axis?: number | ReadonlyArray<number> | undefined }): Tensor
} = dual((args) => isTensor(args[0]), R.softmax)
/** log(softmax(x)), stable. @example `Tensor.logSoftmax(logits)` */
export const logSoftmax: {
  (options?: { readonly axis?: number | undefined }): (x: Tensor) => Tensor
  (x: Tensor, options?: { readonly axis?: number | undefined }): Tensor
} = dual((args) => isTensor(args[0]), R.logSoftmax)

// ------------------------------------------------------------------ structure

/** Matrix product with NumPy semantics (1-D operands, broadcast batch axes). @example `Tensor.matmul(W, x)` */
export const matmul: Binary = binary(S.matmul)
/** Permutes axes (default reverses them). @example `Tensor.transpose(x, [0, 2, 1])` */
export const transpose: {
  (perm?: ReadonlyArray<number>): (x: Tensor) => Tensor
  (x: Tensor, perm?: ReadonlyArray<number>): Tensor
} = dual((args) => isTensor(args[0]), S.transpose)
/** Reshapes (one entry may be −1). @example `Tensor.reshape(x, [2, -1])` */
export const reshape: {
  (shape: ReadonlyArray<number>): (x: Tensor) => Tensor
  (x: Tensor, shape: ReadonlyArray<number>): Tensor
} = dual(2, S.reshape)
/** Joins along an axis (default 0). @example `Tensor.concat([a, b], 1)` */
export const concat: {
  (axis?: number): (xs: ReadonlyArray<TensorLike>) => Tensor
  (xs: ReadonlyArray<TensorLike>, axis?: number): Tensor
} = dual((args) => Array.isArray(args[0]), S.concat)
/** Slices `[starts[i], stops[i])` on every axis (negative indices count from the end). @example `Tensor.slice(x, [0, 1], [2, 3])` */
export const slice: {
  (starts: ReadonlyArray<number>, stops: ReadonlyArray<number>): (x: Tensor) => Tensor
  (x: Tensor, starts: ReadonlyArray<number>, stops: ReadonlyArray<number>): Tensor
} = dual(3, S.slice)
/** Converts the dtype. @example `Tensor.cast(x, "float64")` */
export const cast: {
  (dtype: DType): (x: Tensor) => Tensor
  (x: Tensor, dtype: DType): Tensor
} = dual(2, S.castTo)
/** Inserts a size-1 axis. @example `Tensor.expandDims(x, 0)` */
export const expandDims: {
  (axis: number): (x: Tensor) => Tensor
  (x: Tensor, axis: number): Tensor
} = dual(2, S.expandDims)
/** Broadcasts to a shape. @example `Tensor.broadcastTo(b, [128, 256])` */
export const broadcastTo: {
  (shape: ReadonlyArray<number>): (x: Tensor) => Tensor
  (x: Tensor, shape: ReadonlyArray<number>): Tensor
} = dual(2, (x: Tensor, shape: ReadonlyArray<number>) => O.broadcastTo(x, shape))

// ------------------------------------------------------------------ complex

/** The real part (identity for real tensors). @example `Tensor.real(z)` */
export const real = O.real
/** The imaginary part (zeros for real tensors). @example `Tensor.imag(z)` */
export const imag = O.imag
/** The complex conjugate. @example `Tensor.conj(z)` */
export const conj = O.conj
/** The argument (phase) of complex numbers, in (−π, π]. @example `Tensor.angle(z)` */
export const angle: (x: Tensor) => Tensor = O.angle
/** A complex64 tensor from real and imaginary parts. @example `Tensor.complex(re, im)` */
export const complex: Binary = binary(O.complex)

// ------------------------------------------------------------------ autodiff

/** The identity whose derivative is zero. @example `Tensor.stopGradient(x)` */
export const stopGradient: (x: Tensor) => Tensor = O.stopGradient
