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
 * Effect.runPromise(Tensor.toArray(y)) // [10, 14]
 * ```
 * @module
 */
import { dual } from "effect/Function"
import type { DType } from "./DType.js"
import type { ReduceOptions } from "./internal/reduce.js"
import * as C from "./internal/create.js"
import * as G from "./internal/guard.js"
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
export const zeros: typeof C.zeros = G.guard("zeros", [G.shape("shape"), G.dtypeOptions], C.zeros)
/** A tensor of ones. @example `Tensor.ones([3])` */
export const ones: typeof C.ones = G.guard("ones", [G.shape("shape"), G.dtypeOptions], C.ones)
/** A tensor filled with one value. @example `Tensor.full([2, 2], 7)` */
export const full: typeof C.full = G.guard("full", [G.shape("shape"), G.number("value"), G.dtypeOptions], C.full)
/** Zeros with the shape (and dtype, unless given) of `t`. @example `Tensor.zerosLike(x)` */
export const zerosLike: typeof C.zerosLike = G.guard("zerosLike", [G.tensor("t"), G.dtypeOptions], C.zerosLike)
/** Ones with the shape (and dtype, unless given) of `t`. @example `Tensor.onesLike(x)` */
export const onesLike: typeof C.onesLike = G.guard("onesLike", [G.tensor("t"), G.dtypeOptions], C.onesLike)
/** `arange(stop)` or `arange(start, stop, step)`; int32 for integer arguments. @example `Tensor.arange(5)` */
export const arange: typeof C.arange = G.guard("arange", [G.number("start"), G.number("stop", true), G.number("step", true), G.dtypeOptions], C.arange)
/** Evenly spaced values, both ends included. @example `Tensor.linspace(0, 1, 5)` */
export const linspace: typeof C.linspace = G.guard("linspace", [G.number("start"), G.number("stop"), G.axis("num", true), G.dtypeOptions], C.linspace)
/** The identity matrix. @example `Tensor.eye(3)` */
export const eye: typeof C.eye = G.guard("eye", [G.axis("n"), G.axis("m", true), G.dtypeOptions], C.eye)

// ------------------------------------------------------------------ reading

/**
 * The flat row-major data (a fresh copy): the dtype's typed array; complex64
 * gives a `Float32Array` of length 2·size, interleaved `re, im`.
 * @example `yield* Tensor.data(x)`
 */
export const data = RD.data
/**
 * The data as nested arrays (bool as booleans; complex64 adds a last axis
 * of `[re, im]` pairs, the form `make` accepts back).
 * @example `yield* Tensor.toArray(x)`
 */
export const toArray = RD.toArray
/**
 * The one element of a size-1 tensor. A complex64 tensor fails with
 * `DTypeError` (a complex value is not one number): use `toArray`, or
 * `item(real(z))` and `item(imag(z))`.
 * @example `yield* Tensor.item(Tensor.sum(x))`
 */
export const item = RD.item

// ------------------------------------------------------------------ elementwise

type Binary = {
  (b: TensorLike): (a: TensorLike) => Tensor
  (a: TensorLike, b: TensorLike): Tensor
}
const binary = (op: string, f: (a: TensorLike, b: TensorLike) => Tensor): Binary =>
  dual(2, G.guard(op, [G.operand("the first operand"), G.operand("the second operand")], f))

/** a + b. @example `Tensor.add(x, 1)`, `pipe(x, Tensor.add(1))` */
export const add: Binary = binary("add", O.add)
/** a − b. @example `Tensor.sub(x, y)` */
export const sub: Binary = binary("sub", O.sub)
/** a · b (elementwise). @example `Tensor.mul(x, 2)` */
export const mul: Binary = binary("mul", O.mul)
/** a / b (true division: integers give float32). @example `Tensor.div(x, 2)` */
export const div: Binary = binary("div", O.div)
/** a ** b. @example `Tensor.pow(x, 3)` */
export const pow: Binary = binary("pow", O.pow)
/** Elementwise maximum (NaN wins; at ties the gradient is split). @example `Tensor.maximum(x, 0)` */
export const maximum: Binary = binary("maximum", O.maximum)
/** Elementwise minimum. @example `Tensor.minimum(x, y)` */
export const minimum: Binary = binary("minimum", O.minimum)
/** a > b, as bool. @example `Tensor.greater(x, 0)` */
export const greater: Binary = binary("greater", O.greater)
/** a < b, as bool. @example `Tensor.less(x, 0)` */
export const less: Binary = binary("less", O.less)
/** a == b, as bool. @example `Tensor.equal(x, y)` */
export const equal: Binary = binary("equal", O.equal)

type Unary = (x: TensorLike) => Tensor
const unary = (op: string, f: Unary): Unary => G.guard(op, [G.operand("x")], f)
/** −x. @example `Tensor.neg(x)` */
export const neg: Unary = unary("neg", O.neg)
/** eˣ. @example `Tensor.exp(x)` */
export const exp: Unary = unary("exp", O.exp)
/** Natural logarithm. @example `Tensor.log(x)` */
export const log: Unary = unary("log", O.log)
/** Sine. @example `Tensor.sin(x)` */
export const sin: Unary = unary("sin", O.sin)
/** Cosine. @example `Tensor.cos(x)` */
export const cos: Unary = unary("cos", O.cos)
/** Hyperbolic tangent. @example `Tensor.tanh(x)` */
export const tanh: Unary = unary("tanh", O.tanh)
/** Square root. @example `Tensor.sqrt(x)` */
export const sqrt: Unary = unary("sqrt", O.sqrt)
/** x². @example `Tensor.square(x)` */
export const square: Unary = unary("square", O.square)
/** |x| (complex: the modulus, float32). @example `Tensor.abs(x)` */
export const abs: Unary = unary("abs", O.abs)
/** −1, 0 or 1 (complex: x/|x|). @example `Tensor.sign(x)` */
export const sign: Unary = unary("sign", O.sign)
/** 1 / (1 + e⁻ˣ), without overflow for large |x|. @example `Tensor.sigmoid(x)` */
export const sigmoid: Unary = unary("sigmoid", O.sigmoid)
/** max(x, 0) with derivative 0 at 0. @example `Tensor.relu(x)` */
export const relu: Unary = unary("relu", O.relu)
/** log(1 + x), accurate near 0. @example `Tensor.log1p(x)` */
export const log1p: Unary = unary("log1p", O.log1p)
/** eˣ − 1, accurate near 0. @example `Tensor.expm1(x)` */
export const expm1: Unary = unary("expm1", O.expm1)
/** 1 / x. @example `Tensor.reciprocal(x)` */
export const reciprocal: Unary = unary("reciprocal", O.reciprocal)

/**
 * where(cond, x, y): elements of x where cond holds, else of y (all three
 * broadcast; cond is cast to bool). Data-last: `pipe(cond, where(x, y))`.
 * @example `Tensor.where(Tensor.greater(x, 0), x, 0)`
 */
export const where: {
  (x: TensorLike, y: TensorLike): (cond: TensorLike) => Tensor
  (cond: TensorLike, x: TensorLike, y: TensorLike): Tensor
} = dual(3, G.guard("where", [G.operand("the condition"), G.operand("x"), G.operand("y")], O.where))

// ------------------------------------------------------------------ reductions

type Reduction = {
  (options?: ReduceOptions): (x: Tensor) => Tensor
  (x: Tensor, options?: ReduceOptions): Tensor
}
/** Data-first when called with a tensor, or with two arguments, or with something that cannot be options (then it fails as a bad tensor). */
const dataFirst = (args: IArguments): boolean => args.length >= 2 || isTensor(args[0]) || !G.isOptionsLike(args[0])
const reduction = (op: string, f: (x: Tensor, o?: ReduceOptions) => Tensor): Reduction =>
  dual(dataFirst, G.guard(op, [G.tensor("x"), G.reduceOptions], f))

/** Sum over `axis` (default all). @example `Tensor.sum(x, { axis: 0, keepdims: true })` */
export const sum: Reduction = reduction("sum", R.sum)
/** Mean over `axis` (default all). @example `Tensor.mean(x)` */
export const mean: Reduction = reduction("mean", R.mean)
/** Maximum over `axis` (the gradient is shared among ties). @example `Tensor.max(x, { axis: 1 })` */
export const max: Reduction = reduction("max", R.max)
/** Minimum over `axis`. @example `Tensor.min(x)` */
export const min: Reduction = reduction("min", R.min)
/** log Σ exp, stable for large inputs. @example `Tensor.logsumexp(x, { axis: -1 })` */
export const logsumexp: Reduction = reduction("logsumexp", R.logsumexp)
/** Softmax along `axis` (default the last), stable for large inputs. @example `Tensor.softmax(logits)` */
export const softmax: {
  (options?: { readonly axis?: number | ReadonlyArray<number> | undefined }): (x: Tensor) => Tensor
  (x: Tensor, options?: { readonly axis?: number | ReadonlyArray<number> | undefined }): Tensor
} = dual(dataFirst, G.guard("softmax", [G.tensor("x"), G.reduceOptions], R.softmax))
/** log(softmax(x)), stable. @example `Tensor.logSoftmax(logits)` */
export const logSoftmax: {
  (options?: { readonly axis?: number | undefined }): (x: Tensor) => Tensor
  (x: Tensor, options?: { readonly axis?: number | undefined }): Tensor
} = dual(dataFirst, G.guard("logSoftmax", [G.tensor("x"), G.reduceOptions], R.logSoftmax))

// ------------------------------------------------------------------ structure

/** Matrix product with NumPy semantics (1-D operands, broadcast batch axes). @example `Tensor.matmul(W, x)` */
export const matmul: Binary = binary("matmul", S.matmul)
/** Permutes axes (default reverses them). @example `Tensor.transpose(x, [0, 2, 1])` */
export const transpose: {
  (perm?: ReadonlyArray<number>): (x: Tensor) => Tensor
  (x: Tensor, perm?: ReadonlyArray<number>): Tensor
} = dual((args) => args.length >= 2 || isTensor(args[0]) || !(args[0] === undefined || Array.isArray(args[0])), G.guard("transpose", [G.tensor("x"), G.shape("perm", true)], S.transpose))
/** Reshapes (one entry may be −1). @example `Tensor.reshape(x, [2, -1])` */
export const reshape: {
  (shape: ReadonlyArray<number>): (x: Tensor) => Tensor
  (x: Tensor, shape: ReadonlyArray<number>): Tensor
} = dual(2, G.guard("reshape", [G.tensor("x"), G.shape("shape")], S.reshape))
/** Joins along an axis (default 0). @example `Tensor.concat([a, b], 1)` */
export const concat: {
  (axis?: number): (xs: ReadonlyArray<TensorLike>) => Tensor
  (xs: ReadonlyArray<TensorLike>, axis?: number): Tensor
} = dual((args) => args.length >= 2 || !(args[0] === undefined || typeof args[0] === "number"), G.guard("concat", [G.operands("xs"), G.axis("axis", true)], S.concat))
/** Slices `[starts[i], stops[i])` on every axis (negative indices count from the end). @example `Tensor.slice(x, [0, 1], [2, 3])` */
export const slice: {
  (starts: ReadonlyArray<number>, stops: ReadonlyArray<number>): (x: Tensor) => Tensor
  (x: Tensor, starts: ReadonlyArray<number>, stops: ReadonlyArray<number>): Tensor
} = dual(3, G.guard("slice", [G.tensor("x"), G.shape("starts"), G.shape("stops")], S.slice))
/** Converts the dtype. @example `Tensor.cast(x, "float64")` */
export const cast: {
  (dtype: DType): (x: Tensor) => Tensor
  (x: Tensor, dtype: DType): Tensor
} = dual(2, G.guard("cast", [G.tensor("x"), G.dtype("dtype")], S.castTo))
/** Inserts a size-1 axis. @example `Tensor.expandDims(x, 0)` */
export const expandDims: {
  (axis: number): (x: Tensor) => Tensor
  (x: Tensor, axis: number): Tensor
} = dual(2, G.guard("expandDims", [G.tensor("x"), G.axis("axis")], S.expandDims))
/** Broadcasts to a shape. @example `Tensor.broadcastTo(b, [128, 256])` */
export const broadcastTo: {
  (shape: ReadonlyArray<number>): (x: Tensor) => Tensor
  (x: Tensor, shape: ReadonlyArray<number>): Tensor
} = dual(2, G.guard("broadcastTo", [G.tensor("x"), G.shape("shape")], (x: Tensor, shape: ReadonlyArray<number>) => O.broadcastTo(x, shape)))

// ------------------------------------------------------------------ complex

/** The real part (identity for real tensors). @example `Tensor.real(z)` */
export const real: (x: Tensor) => Tensor = G.guard("real", [G.tensor("x")], O.real)
/** The imaginary part (zeros for real tensors). @example `Tensor.imag(z)` */
export const imag: (x: Tensor) => Tensor = G.guard("imag", [G.tensor("x")], O.imag)
/** The complex conjugate. @example `Tensor.conj(z)` */
export const conj: (x: Tensor) => Tensor = G.guard("conj", [G.tensor("x")], O.conj)
/** The argument (phase) of complex numbers, in (−π, π]. @example `Tensor.angle(z)` */
export const angle: (x: Tensor) => Tensor = G.guard("angle", [G.tensor("x")], O.angle)
/** A complex64 tensor from real and imaginary parts. @example `Tensor.complex(re, im)` */
export const complex: Binary = binary("complex", O.complex)

// ------------------------------------------------------------------ autodiff

/** The identity whose derivative is zero. @example `Tensor.stopGradient(x)` */
export const stopGradient: (x: Tensor) => Tensor = G.guard("stopGradient", [G.tensor("x")], O.stopGradient)
