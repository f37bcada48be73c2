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
import { ShapeError } from "./Errors.js"
import type { ReduceOptions } from "./internal/reduce.js"
import * as C from "./internal/create.js"
import * as G from "./internal/guard.js"
import * as O from "./internal/ops.js"
import * as R from "./internal/reduce.js"
import * as RD from "./internal/read.js"
import * as S from "./internal/structural.js"
import * as CU from "./internal/cumulative.js"
import * as E from "./internal/einsum.js"
import * as IX from "./internal/indexing.js"
import * as M from "./internal/math.js"
import * as SH from "./internal/shapes.js"
import * as SO from "./internal/sorting.js"
import * as ST from "./internal/stats.js"
import * as CV from "./internal/conv/ops.js"
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
export type { CumulativeOptions } from "./internal/cumulative.js"
export type { AxisOptions, OneHotOptions } from "./internal/indexing.js"
export type { EluOptions, GeluOptions, LeakyReluOptions } from "./internal/math.js"
export type { PadOptions } from "./internal/shapes.js"
export type { SortOptions } from "./internal/sorting.js"
export type { ArgOptions, NormOptions, VarianceOptions } from "./internal/stats.js"
export type { ConvOptions, Padding, PoolOptions } from "./internal/conv/ops.js"
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
 *
 * Inside a transform (`grad`, `jacrev`...), a read gives the value of the
 * call's arguments: a constant to the transform, as PyTorch's `.item()` and
 * JAX's concrete values are (the gradient does not flow through the
 * number); write `stopGradient(x)` to say so in the code. Under `vmap`, a
 * batched tensor has no single value: reading it fails with
 * `ConcretizationError`.
 * @example `yield* Tensor.data(x)`
 */
export const data = RD.data
/**
 * The flat row-major data without a copy, where the backend keeps its
 * buffers in host memory (the CPU backend): the tensor's own storage, as
 * PyTorch's `.numpy()` and NumPy's `asarray` share it. Reading a result this
 * way costs no second array; a large output read every step (a gradient in
 * a training loop) then leaves half the garbage behind.
 *
 * The array is the tensor's value: **do not write into it**. A write would
 * change this tensor and every tensor that shares its buffer (its reshapes,
 * a jitted function's constant outputs). Keep `data` for an array to
 * modify. On WebGL and WebGPU a read is a download into a fresh array
 * anyway, and this is `data`. Transforms and `vmap` treat it as `data`.
 * @example `const host = yield* Tensor.dataShared(grad)`
 */
export const dataShared = RD.dataShared
/**
 * The data as nested arrays (bool as booleans; complex64 adds a last axis
 * of `[re, im]` pairs, the form `make` accepts back). Inside a transform
 * the values are constants (see `data`).
 * @example `yield* Tensor.toArray(x)`
 */
export const toArray = RD.toArray
/**
 * The one element of a size-1 tensor. A complex64 tensor fails with
 * `DTypeError` (a complex value is not one number): use `toArray`, or
 * `item(real(z))` and `item(imag(z))`. Inside a transform the number is
 * a constant (see `data`).
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

// ------------------------------------------------------------------ more elementwise

/** Tangent. @example `Tensor.tan(x)` */
export const tan: Unary = unary("tan", M.tan)
/** Inverse sine (NaN outside [−1, 1]). @example `Tensor.asin(x)` */
export const asin: Unary = unary("asin", M.asin)
/** Inverse cosine (NaN outside [−1, 1]). @example `Tensor.acos(x)` */
export const acos: Unary = unary("acos", M.acos)
/** Inverse tangent. @example `Tensor.atan(x)` */
export const atan: Unary = unary("atan", M.atan)
/** Hyperbolic sine. @example `Tensor.sinh(x)` */
export const sinh: Unary = unary("sinh", M.sinh)
/** Hyperbolic cosine. @example `Tensor.cosh(x)` */
export const cosh: Unary = unary("cosh", M.cosh)
/** Inverse hyperbolic sine. @example `Tensor.asinh(x)` */
export const asinh: Unary = unary("asinh", M.asinh)
/** Inverse hyperbolic cosine (NaN below 1). @example `Tensor.acosh(x)` */
export const acosh: Unary = unary("acosh", M.acosh)
/** Inverse hyperbolic tangent (±∞ at ±1). @example `Tensor.atanh(x)` */
export const atanh: Unary = unary("atanh", M.atanh)
/** The error function. @example `Tensor.erf(x)` */
export const erf: Unary = unary("erf", M.erf)
/** The largest integer ≤ x (integers unchanged; derivative 0). @example `Tensor.floor(x)` */
export const floor: Unary = unary("floor", M.floor)
/** The smallest integer ≥ x (derivative 0). @example `Tensor.ceil(x)` */
export const ceil: Unary = unary("ceil", M.ceil)
/** The nearest integer, halves to even (derivative 0). @example `Tensor.round(x)` */
export const round: Unary = unary("round", M.round)
/** atan2(y, x): the angle of the point (x, y), in [−π, π]. @example `Tensor.atan2(y, x)` */
export const atan2: Binary = binary("atan2", M.atan2)
/** NumPy's mod: the remainder with the sign of the divisor (integers: exact, 0 for a 0 divisor). @example `Tensor.mod(x, 3)` */
export const mod: Binary = binary("mod", M.mod)
/** log(eᵃ + eᵇ), stable. @example `Tensor.logaddexp(a, b)` */
export const logaddexp: Binary = binary("logaddexp", M.logaddexp)
/**
 * Limits x to [lo, hi] (either bound may be `undefined`). Data-last: `pipe(x, clip(0, 1))`.
 * @example `Tensor.clip(x, -1, 1)`
 */
export const clip: {
  (lo: TensorLike | undefined, hi: TensorLike | undefined): (x: TensorLike) => Tensor
  (x: TensorLike, lo: TensorLike | undefined, hi: TensorLike | undefined): Tensor
} = dual(3, G.guard("clip", [G.operand("x"), (op, u) => (u === undefined ? undefined : G.operand("lo")(op, u)), (op, u) => (u === undefined ? undefined : G.operand("hi")(op, u))], M.clip))
/** log(1 + eˣ), stable. @example `Tensor.softplus(x)` */
export const softplus: Unary = unary("softplus", M.softplus)
/** log(sigmoid(x)), stable. @example `Tensor.logSigmoid(x)` */
export const logSigmoid: Unary = unary("logSigmoid", M.logSigmoid)
/** x · sigmoid(x) (swish). @example `Tensor.silu(x)` */
export const silu: Unary = unary("silu", M.silu)

type WithOptions<O> = {
  (options?: O): (x: TensorLike) => Tensor
  (x: TensorLike, options?: O): Tensor
}
const firstIsData = (args: IArguments): boolean => args.length >= 2 || isTensor(args[0]) || typeof args[0] === "number" || !G.isOptionsLike(args[0])
/** GELU: `{ approximate: true }` (the tanh form, JAX's default) or `false` (x·Φ(x) with erf). @example `Tensor.gelu(x)` */
export const gelu: WithOptions<M.GeluOptions> = dual(firstIsData, G.guard("gelu", [G.operand("x"), G.optionsOf({ approximate: "boolean" })], M.gelu))
/** ELU: x above 0, alpha·(eˣ − 1) below (`{ alpha = 1 }`). @example `Tensor.elu(x, { alpha: 0.5 })` */
export const elu: WithOptions<M.EluOptions> = dual(firstIsData, G.guard("elu", [G.operand("x"), G.optionsOf({ alpha: "number" })], M.elu))
/** Leaky ReLU: x at and above 0, negativeSlope·x below (`{ negativeSlope = 0.01 }`). @example `Tensor.leakyRelu(x)` */
export const leakyRelu: WithOptions<M.LeakyReluOptions> = dual(firstIsData, G.guard("leakyRelu", [G.operand("x"), G.optionsOf({ negativeSlope: "number" })], M.leakyRelu))

// ------------------------------------------------------------------ more reductions

/** Product over `axis` (default all; exact gradients where elements are 0). @example `Tensor.prod(x, { axis: 0 })` */
export const prod: Reduction = reduction("prod", ST.prod)
/** Variance over `axis` (default all; `ddof` divides by n − ddof). @example `Tensor.variance(x, { axis: 0 })` */
export const variance: {
  (options?: ST.VarianceOptions): (x: Tensor) => Tensor
  (x: Tensor, options?: ST.VarianceOptions): Tensor
} = dual(dataFirst, G.guard("variance", [G.tensor("x"), G.optionsOf({ axis: "axes", keepdims: "boolean", ddof: "number" })], ST.variance))
/** Standard deviation over `axis` (default all). @example `Tensor.std(x)` */
export const std: typeof variance = dual(dataFirst, G.guard("std", [G.tensor("x"), G.optionsOf({ axis: "axes", keepdims: "boolean", ddof: "number" })], ST.std))
/** Vector norm over the elements of `axis` (default all): `ord` 1, 2 (default) or "inf". @example `Tensor.norm(x, { ord: 1 })` */
export const norm: {
  (options?: ST.NormOptions): (x: Tensor) => Tensor
  (x: Tensor, options?: ST.NormOptions): Tensor
} = dual(dataFirst, G.guard("norm", [G.tensor("x"), G.optionsOf({ ord: "ord", axis: "axes", keepdims: "boolean" })], ST.norm))
/** The int32 index of the maximum along `axis` (absent: of the flattened tensor); ties go to the first, NaN wins. @example `Tensor.argmax(logits, { axis: -1 })` */
export const argmax: {
  (options?: ST.ArgOptions): (x: Tensor) => Tensor
  (x: Tensor, options?: ST.ArgOptions): Tensor
} = dual(dataFirst, G.guard("argmax", [G.tensor("x"), G.optionsOf({ axis: "integer", keepdims: "boolean" })], ST.argmax))
/** The int32 index of the minimum along `axis` (ties go to the first). @example `Tensor.argmin(x, { axis: 0 })` */
export const argmin: typeof argmax = dual(dataFirst, G.guard("argmin", [G.tensor("x"), G.optionsOf({ axis: "integer", keepdims: "boolean" })], ST.argmin))

type Cumulative = {
  (options?: CU.CumulativeOptions): (x: Tensor) => Tensor
  (x: Tensor, options?: CU.CumulativeOptions): Tensor
}
const cumulative = (op: string, f: (x: Tensor, o?: CU.CumulativeOptions) => Tensor): Cumulative =>
  dual(dataFirst, G.guard(op, [G.tensor("x"), G.optionsOf({ axis: "integer", reverse: "boolean" })], f))
/** Running sum along `axis` (absent: over the flattened tensor), from the end when `reverse`. @example `Tensor.cumsum(x, { axis: 0 })` */
export const cumsum: Cumulative = cumulative("cumsum", CU.cumsum)
/** Running product along `axis` (exact gradients through zeros). @example `Tensor.cumprod(x, { axis: -1 })` */
export const cumprod: Cumulative = cumulative("cumprod", CU.cumprod)
/** Running log Σ exp along `axis`, stable. @example `Tensor.logcumsumexp(x, { axis: -1 })` */
export const logcumsumexp: Cumulative = cumulative("logcumsumexp", CU.logcumsumexp)

// ------------------------------------------------------------------ more structure

/** Joins tensors of one shape along a new axis (default 0). @example `Tensor.stack([a, b], 1)` */
export const stack: {
  (axis?: number): (xs: ReadonlyArray<TensorLike>) => Tensor
  (xs: ReadonlyArray<TensorLike>, axis?: number): Tensor
} = dual((args) => args.length >= 2 || !(args[0] === undefined || typeof args[0] === "number"), G.guard("stack", [G.operands("xs"), G.axis("axis", true)], SH.stack))
/**
 * Splits along `axis` (default 0) into `sections` equal parts or parts of the given sizes.
 * A bad argument gives one error tensor in the array.
 * @example `const [a, b] = Tensor.split(x, 2)`, `Tensor.split(x, [1, 3], 1)`
 */
export const split: {
  (sections: number | ReadonlyArray<number>, axis?: number): (x: Tensor) => Tensor[]
  (x: Tensor, sections: number | ReadonlyArray<number>, axis?: number): Tensor[]
} = dual((args) => isTensor(args[0]), (x: Tensor, sections: number | ReadonlyArray<number>, axis?: number): Tensor[] => {
  const e = G.firstFailure("split", [G.tensor("x"), G.axesOrNumber("sections"), G.axis("axis", true)], [x, sections, axis])
  return e ? [G.errorOf(e)] : SH.split(x, sections, axis)
})
/** Repeats along each axis (NumPy's tile). @example `Tensor.tile(x, [2, 1])` */
export const tile: {
  (reps: ReadonlyArray<number>): (x: Tensor) => Tensor
  (x: Tensor, reps: ReadonlyArray<number>): Tensor
} = dual(2, G.guard("tile", [G.tensor("x"), G.shape("reps")], SH.tile))
/** Reverses the order along `axes` (default all). @example `Tensor.flip(x, 0)` */
export const flip: {
  (axes?: number | ReadonlyArray<number>): (x: Tensor) => Tensor
  (x: Tensor, axes?: number | ReadonlyArray<number>): Tensor
} = dual((args) => isTensor(args[0]), G.guard("flip", [G.tensor("x"), G.axesOrNumber("axes", true)], SH.flip))
/**
 * Pads each axis with `[before, after]` elements of `value` (default 0); one pair applies to every axis.
 * @example `Tensor.pad(x, [[1, 1], [0, 2]])`, `Tensor.pad(x, [[2, 2]], { value: -1 })`
 */
export const pad: {
  (widths: ReadonlyArray<readonly [number, number]>, options?: SH.PadOptions): (x: Tensor) => Tensor
  (x: Tensor, widths: ReadonlyArray<readonly [number, number]>, options?: SH.PadOptions): Tensor
} = dual((args) => isTensor(args[0]), G.guard("pad", [G.tensor("x"), G.widths("widths"), G.optionsOf({ value: "number" })], SH.pad))
/** The upper triangle of the last two axes (column − row ≥ k), zeros below. @example `Tensor.triu(x, 1)` */
export const triu: {
  (k?: number): (x: Tensor) => Tensor
  (x: Tensor, k?: number): Tensor
} = dual((args) => isTensor(args[0]), G.guard("triu", [G.tensor("x"), G.axis("k", true)], SH.triu))
/** The lower triangle of the last two axes (column − row ≤ k), zeros above. @example `Tensor.tril(x)` */
export const tril: typeof triu = dual((args) => isTensor(args[0]), G.guard("tril", [G.tensor("x"), G.axis("k", true)], SH.tril))

// ------------------------------------------------------------------ indexing

/** int32 indices (a tensor of any shape) or one integer. */
export type IndicesLike = IX.IndicesLike
/**
 * NumPy's take along `axis` (default 0): the result has shape
 * `x.shape[:axis] + indices.shape + x.shape[axis+1:]`. Indices are int32;
 * negative ones count from the end; out-of-range ones are clamped (JAX's
 * `mode="clip"`), on every backend.
 * @example `Tensor.take(table, ids)`, `pipe(x, Tensor.take(Tensor.make([2, 0], { dtype: "int32" }), { axis: 1 }))`
 */
export const take: {
  (indices: IX.IndicesLike, options?: IX.AxisOptions): (x: Tensor) => Tensor
  (x: Tensor, indices: IX.IndicesLike, options?: IX.AxisOptions): Tensor
} = dual((args) => args.length >= 3 || (args.length === 2 && !G.isOptionsLike(args[1])), G.guard("take", [G.tensor("x"), G.indices("indices"), G.optionsOf({ axis: "integer" })], IX.take))
/** NumPy's take_along_axis: `indices` has x's rank; the other axes broadcast. @example `Tensor.takeAlongAxis(x, Tensor.argsort(x), -1)` */
export const takeAlongAxis: {
  (indices: Tensor, axis: number): (x: Tensor) => Tensor
  (x: Tensor, indices: Tensor, axis: number): Tensor
} = dual(3, G.guard("takeAlongAxis", [G.tensor("x"), G.indices("indices"), G.axis("axis")], IX.takeAlongAxis))
/**
 * Scatter-add: x with `updates` (broadcast to the shape `take` would give)
 * added at `indices` along `axis` (default 0); repeated indices accumulate.
 * @example `Tensor.indexAdd(Tensor.zeros([5]), ids, 1)`
 */
export const indexAdd: {
  (indices: IX.IndicesLike, updates: TensorLike, options?: IX.AxisOptions): (x: Tensor) => Tensor
  (x: Tensor, indices: IX.IndicesLike, updates: TensorLike, options?: IX.AxisOptions): Tensor
} = dual((args) => args.length >= 4 || (args.length === 3 && !G.isOptionsLike(args[2])), G.guard("indexAdd", [G.tensor("x"), G.indices("indices"), G.operand("updates"), G.optionsOf({ axis: "integer" })], IX.indexAdd))
/** One-hot vectors along a new last axis of `depth` (indices outside [0, depth) give zeros; default float32). @example `Tensor.oneHot(labels, 10)` */
export const oneHot: {
  (depth: number, options?: IX.OneHotOptions): (indices: Tensor) => Tensor
  (indices: Tensor, depth: number, options?: IX.OneHotOptions): Tensor
} = dual((args) => isTensor(args[0]), G.guard("oneHot", [G.tensor("indices"), G.number("depth"), G.optionsOf({ dtype: "dtype" })], IX.oneHot))

// ------------------------------------------------------------------ sorting

type Sorting = {
  (options?: SO.SortOptions): (x: Tensor) => Tensor
  (x: Tensor, options?: SO.SortOptions): Tensor
}
/** Sorts along `axis` (default −1), stable; NaN last (first when `descending`); gradients flow to the selected elements. @example `Tensor.sort(x, { descending: true })` */
export const sort: Sorting = dual(dataFirst, G.guard("sort", [G.tensor("x"), G.optionsOf({ axis: "integer", descending: "boolean" })], SO.sort))
/** The int32 indices that sort along `axis` (default −1), stable. @example `Tensor.argsort(x)` */
export const argsort: Sorting = dual(dataFirst, G.guard("argsort", [G.tensor("x"), G.optionsOf({ axis: "integer", descending: "boolean" })], SO.argsort))
/**
 * The `k` largest values along the last axis, largest first, and their
 * int32 indices: `[values, indices]`; gradients flow to the selected elements.
 * @example `const [values, indices] = Tensor.topk(scores, 5)`
 */
export const topk: {
  (k: number): (x: Tensor) => [Tensor, Tensor]
  (x: Tensor, k: number): [Tensor, Tensor]
} = dual(2, (x: Tensor, k: number): [Tensor, Tensor] => {
  const e = G.firstFailure("topk", [G.tensor("x"), G.axis("k")], [x, k])
  if (e) {
    const t = G.errorOf(e)
    return [t, t]
  }
  return SO.topk(x, k)
})

// ------------------------------------------------------------------ einsum

/**
 * Einstein summation: explicit (`"ij,jk->ik"`) or implicit (`"ij,jk"`, the
 * output being the labels that appear once, sorted) form; `...` stands for
 * broadcast leading axes. Built from transpose, reshape and matmul, so it is
 * differentiable in every mode. A spec that does not match its operands is
 * a `ShapeError` naming the spec and the shapes.
 * @example `Tensor.einsum("bij,bjk->bik", a, b)`, `Tensor.einsum("ii", m)` (the trace)
 */
export const einsum = (spec: string, ...operands: ReadonlyArray<TensorLike>): Tensor => {
  const e = G.firstFailure("einsum", [(op, u) => (typeof u === "string" ? undefined : G.errorValue(op, "the spec must be a string", u)), G.operands("operands")], [spec, operands])
  return e ? G.errorOf(e) : E.einsum(spec, ...operands)
}
// ------------------------------------------------------------------ convolution and pooling

const optionsObject: G.Check = (op, u) =>
  G.isOptionsLike(u) ? undefined : new ShapeError({ message: `${op}: options must be an object, got ${G.describeValue(u)}` })
const windowCheck: G.Check = (op, u) =>
  typeof u === "number" || (Array.isArray(u) && u.every((d) => typeof d === "number")) ? undefined : G.shape("window")(op, u)

/**
 * Convolution (cross-correlation, as `lax.conv` and PyTorch's `conv*d`) of x
 * `[N, C, ...spatial]` (1 to 3 spatial axes) with kernel w `[O, C / groups,
 * ...kernel]`, giving `[N, O, ...out]`. Options: `strides`, `padding`
 * (`"VALID"` (default), `"SAME"`, or `[lo, hi]` per spatial axis),
 * `dilation` (of the kernel), `groups`. Differentiable in both operands, to
 * any order; mismatched channels or a kernel larger than the padded input
 * are `ShapeError`s naming both shapes.
 * @example `Tensor.conv(images, kernels, { padding: "SAME", strides: 2 })`
 */
export const conv: {
  (w: Tensor, options?: CV.ConvOptions): (x: Tensor) => Tensor
  (x: Tensor, w: Tensor, options?: CV.ConvOptions): Tensor
} = dual((args) => isTensor(args[1]), G.guard("conv", [G.tensor("x"), G.tensor("the kernel"), optionsObject], CV.conv))

/**
 * Max pooling of x `[N, C, ...spatial]` over `window` (a size per spatial
 * axis, or one for all). Options: `strides` (default 1, as JAX),
 * `padding` (`"VALID"` default, `"SAME"`, or explicit; padding never wins).
 * Gradients go to the maxima (shared equally at ties).
 * @example `Tensor.maxPool(x, [2, 2], { strides: 2 })`
 */
export const maxPool: {
  (window: number | ReadonlyArray<number>, options?: CV.PoolOptions): (x: Tensor) => Tensor
  (x: Tensor, window: number | ReadonlyArray<number>, options?: CV.PoolOptions): Tensor
} = dual((args) => isTensor(args[0]), G.guard("maxPool", [G.tensor("x"), windowCheck, optionsObject], CV.maxPool))

/**
 * Average pooling of x `[N, C, ...spatial]` over `window`; padded entries
 * count as zeros in the mean (flax's default). Options as {@link maxPool}.
 * @example `Tensor.avgPool(x, 2, { strides: 2 })`
 */
export const avgPool: {
  (window: number | ReadonlyArray<number>, options?: CV.PoolOptions): (x: Tensor) => Tensor
  (x: Tensor, window: number | ReadonlyArray<number>, options?: CV.PoolOptions): Tensor
} = dual((args) => isTensor(args[0]), G.guard("avgPool", [G.tensor("x"), windowCheck, optionsObject], CV.avgPool))
