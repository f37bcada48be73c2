/**
 * Making tensors from host data, and the constructors.
 */
import { allocHost, type DType, type HostArray, hostFrom, isDType } from "../DType.js"
import { DTypeError, ShapeError } from "../Errors.js"
import { fmt, sizeOf } from "./shape.js"
import { constTensor, errorTensor, type Tensor } from "./tensor.js"
import { broadcastTo, scalar } from "./ops.js"
import { describeValue } from "./guard.js"

/** Nested arrays of numbers (or booleans), any depth. */
export type NestedArray = number | boolean | ReadonlyArray<NestedArray>

/** Any typed array accepted by `make`. */
export type TypedArrayLike = Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array

/** Options of `make`. */
export interface MakeOptions {
  readonly dtype?: DType | undefined
  /** Required for typed arrays; for nested arrays it must match if given. */
  readonly shape?: ReadonlyArray<number> | undefined
}

/** Complex data as separate real and imaginary parts. */
export interface ComplexParts {
  readonly re: NestedArray | ArrayLike<number>
  readonly im: NestedArray | ArrayLike<number>
}

const isTypedArray = (u: unknown): u is TypedArrayLike => ArrayBuffer.isView(u) && !(u instanceof DataView)

const inferShape = (data: NestedArray): number[] | string => {
  const shape: number[] = []
  let cur: NestedArray = data
  while (Array.isArray(cur)) {
    shape.push(cur.length)
    if (cur.length === 0) break
    cur = cur[0]!
  }
  // check every branch has that shape
  const check = (x: NestedArray, d: number): string | undefined => {
    if (d === shape.length) return typeof x === "number" || typeof x === "boolean" ? undefined : `expected a number at depth ${d}`
    if (!Array.isArray(x)) return `expected an array at depth ${d}, got ${typeof x}`
    if (x.length !== shape[d]) return `ragged nested array: expected length ${shape[d]} at depth ${d}, got ${x.length}`
    for (const y of x as ReadonlyArray<NestedArray>) {
      const e = check(y, d + 1)
      if (e) return e
    }
    return undefined
  }
  return check(data, 0) ?? shape
}

const flatten = (data: NestedArray, out: number[]): void => {
  if (Array.isArray(data)) for (const x of data as ReadonlyArray<NestedArray>) flatten(x, out)
  else out.push(typeof data === "boolean" ? (data ? 1 : 0) : (data as number))
}

const fail = (message: string, dtype: DType) => errorTensor(new ShapeError({ message }), dtype)

/** Tensor.make (see the public module for the contract). */
export const make = (data: NestedArray | TypedArrayLike | ComplexParts, options: MakeOptions = {}): Tensor => {
  if (typeof options !== "object" || options === null || Array.isArray(options))
    return errorTensor(new DTypeError({ message: `make: options must be an object { dtype?, shape? }, got ${describeValue(options)}` }), "float32")
  if (options.shape !== undefined && !(Array.isArray(options.shape) && options.shape.every((d) => typeof d === "number")))
    return fail(`make: options.shape must be an array of integers, got ${describeValue(options.shape)}`, "float32")
  const dtype = options.dtype ?? "float32"
  if (!isDType(dtype)) return errorTensor(new DTypeError({ message: `make: unknown dtype ${String(dtype)}` }), "float32")
  if (typeof data === "object" && data !== null && !Array.isArray(data) && !isTypedArray(data) && "re" in data) {
    if (dtype !== "complex64") return errorTensor(new DTypeError({ message: `make: { re, im } data needs dtype complex64, got ${dtype}` }), dtype)
    const re = make(isTypedArray(data.re) ? data.re : (data.re as NestedArray), { dtype: "float64", shape: options.shape })
    const im = make(isTypedArray(data.im) ? data.im : (data.im as NestedArray), { dtype: "float64", shape: options.shape })
    if (re.op === "error") return re
    if (im.op === "error") return im
    if (re.shape.join() !== im.shape.join()) return fail(`make: real part ${fmt(re.shape)} and imaginary part ${fmt(im.shape)} differ`, dtype)
    const host = new Float32Array(2 * re.size)
    for (let i = 0; i < re.size; i++) {
      host[2 * i] = re.host![i]!
      host[2 * i + 1] = im.host![i]!
    }
    return constTensor(host, re.shape, dtype)
  }
  if (isTypedArray(data)) {
    const shape = options.shape ?? [data.length / (dtype === "complex64" ? 2 : 1)]
    const need = sizeOf(shape) * (dtype === "complex64" ? 2 : 1)
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) return fail(`make: invalid shape ${fmt(shape)}`, dtype)
    if (need !== data.length) return fail(`make: typed array of length ${data.length} does not fit shape ${fmt(shape)} (${dtype} needs ${need} values)`, dtype)
    return constTensor(hostFrom(dtype, data), shape, dtype)
  }
  const inferred = inferShape(data as NestedArray)
  if (typeof inferred === "string") return fail(`make: ${inferred}`, dtype)
  if (options.shape?.some((d) => !Number.isInteger(d) || d < 0)) return fail(`make: invalid shape ${fmt(options.shape)}`, dtype)
  const flat: number[] = []
  flatten(data as NestedArray, flat)
  if (dtype === "complex64") {
    // nested data for complex64 is interleaved: the last axis holds [re, im]
    if (inferred[inferred.length - 1] !== 2) return fail(`make: complex64 nested data needs a last axis of 2 ([re, im]), got ${fmt(inferred)}`, dtype)
    const shape = options.shape ?? inferred.slice(0, -1)
    if (sizeOf(shape) * 2 !== flat.length) return fail(`make: data of shape ${fmt(inferred)} does not fit shape ${fmt(shape)}`, dtype)
    return constTensor(hostFrom(dtype, flat), shape, dtype)
  }
  const shape = options.shape ?? inferred
  if (sizeOf(shape) !== flat.length) return fail(`make: data of shape ${fmt(inferred)} does not fit shape ${fmt(shape)}`, dtype)
  return constTensor(hostFrom(dtype, flat), shape, dtype)
}

/** Dtype option of the constructors. */
export interface DTypeOption {
  readonly dtype?: DType | undefined
}

const checkShape = (op: string, shape: ReadonlyArray<number>, dtype: DType): Tensor | undefined =>
  !isDType(dtype)
    ? errorTensor(new DTypeError({ message: `${op}: unknown dtype ${String(dtype)}` }), "float32")
    : shape.every((d) => Number.isInteger(d) && d >= 0) ? undefined : fail(`${op}: invalid shape ${fmt(shape)}`, dtype)

const fill = (op: string, shape: ReadonlyArray<number>, value: number, options: DTypeOption): Tensor => {
  const dtype = options.dtype ?? "float32"
  const bad = checkShape(op, shape, dtype)
  if (bad) return bad
  return broadcastTo(scalar(value, dtype), shape, op)
}
export const full = (shape: ReadonlyArray<number>, value: number, options: DTypeOption = {}): Tensor => fill("full", shape, value, options)
export const zeros = (shape: ReadonlyArray<number>, options: DTypeOption = {}) => fill("zeros", shape, 0, options)
export const ones = (shape: ReadonlyArray<number>, options: DTypeOption = {}) => fill("ones", shape, 1, options)
export const zerosLike = (t: Tensor, options: DTypeOption = {}) => (t.op === "error" ? t : fill("zerosLike", t.shape, 0, { dtype: options.dtype ?? t.dtype }))
export const onesLike = (t: Tensor, options: DTypeOption = {}) => (t.op === "error" ? t : fill("onesLike", t.shape, 1, { dtype: options.dtype ?? t.dtype }))

const filled = (dtype: DType, n: number, f: (i: number) => number): HostArray => {
  const host = allocHost(dtype, n)
  for (let i = 0; i < n; i++) host[dtype === "complex64" ? 2 * i : i] = f(i)
  return host
}

/**
 * arange(stop) or arange(start, stop, step): int32 when every argument is an
 * integer (as JAX), float32 otherwise, unless a dtype is given.
 */
export const arange = (start: number, stop?: number, step = 1, options: DTypeOption = {}): Tensor => {
  const [a, b] = stop === undefined ? [0, start] : [start, stop]
  const dtype = options.dtype ?? ([a, b, step].every(Number.isInteger) ? "int32" : "float32")
  if (!isDType(dtype)) return errorTensor(new DTypeError({ message: `arange: unknown dtype ${String(dtype)}` }), "float32")
  if (!Number.isFinite(a) || !Number.isFinite(b)) return fail(`arange: start and stop must be finite numbers, got ${a} and ${b}`, dtype)
  if (step === 0 || !Number.isFinite(step)) return fail(`arange: step must be a non-zero finite number, got ${step}`, dtype)
  const n = Math.max(0, Math.ceil((b - a) / step))
  return constTensor(filled(dtype, n, (i) => a + i * step), [n], dtype)
}

/** `num` evenly spaced values from start to stop (both included). */
export const linspace = (start: number, stop: number, num = 50, options: DTypeOption = {}): Tensor => {
  const dtype = options.dtype ?? "float32"
  if (!isDType(dtype)) return errorTensor(new DTypeError({ message: `linspace: unknown dtype ${String(dtype)}` }), "float32")
  if (!Number.isInteger(num) || num < 0) return fail(`linspace: num must be a non-negative integer, got ${num}`, dtype)
  const step = num > 1 ? (stop - start) / (num - 1) : 0
  return constTensor(filled(dtype, num, (i) => (i === num - 1 && num > 1 ? stop : start + i * step)), [num], dtype)
}

/** The n×m identity (m defaults to n). */
export const eye = (n: number, m: number = n, options: DTypeOption = {}): Tensor => {
  const dtype = options.dtype ?? "float32"
  const bad = checkShape("eye", [n, m], dtype)
  if (bad) return bad
  return constTensor(filled(dtype, n * m, (i) => (Math.floor(i / m) === i % m ? 1 : 0)), [n, m], dtype)
}
