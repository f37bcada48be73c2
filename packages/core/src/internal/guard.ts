/**
 * Argument checks for the public functions: what a caller passes is
 * `unknown` at run time (plain JavaScript, `as any`, a missing argument), so
 * every public op checks the kinds of its arguments before it touches them.
 * A bad argument gives an `error` tensor (or a failed Effect) naming the op,
 * the argument and what was got, never a thrown exception.
 */
import { isDType } from "../DType.js"
import { DTypeError, ShapeError, type TensorError } from "../Errors.js"
import { errorTensor, isTensor, type Tensor } from "./tensor.js"
import { tensorTypeText } from "./format.js"

/** A short description of any value, for messages ("null", "a string "a"", "Tensor(float32[2])"...). */
export const describeValue = (u: unknown): string => {
  if (u === null) return "null"
  if (isTensor(u)) return tensorTypeText(u)
  switch (typeof u) {
    case "undefined":
      return "undefined"
    case "number":
      return `the number ${u}`
    case "boolean":
      return `the boolean ${u}`
    case "string":
      return `the string ${JSON.stringify(u.length > 40 ? `${u.slice(0, 40)}...` : u)}`
    case "bigint":
      return `the bigint ${u}n`
    case "symbol":
      return "a symbol"
    case "function":
      return "a function"
  }
  if (Array.isArray(u)) return `an array of length ${u.length}`
  if (Symbol.for("diffect/Variable") in (u as object)) return `a Variable (read it with Variable.get)`
  const proto = Object.getPrototypeOf(u)
  const name = proto === null || proto === Object.prototype ? undefined : (proto?.constructor?.name as string | undefined)
  return name ? `an instance of ${name}` : "an object"
}

/** A check of one argument: the error it makes, or undefined when it is fine. */
export type Check = (op: string, u: unknown) => TensorError | undefined

const isPlainObject = (u: unknown): boolean =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !isTensor(u)

const numberArray = (u: unknown): boolean => Array.isArray(u) && u.every((d) => typeof d === "number")

/** A Tensor. */
export const tensor =
  (what: string): Check =>
  (op, u) =>
    isTensor(u) ? undefined : new DTypeError({ message: `${op}: ${what} must be a Tensor, got ${describeValue(u)}` })

/** A Tensor or a JavaScript number. */
export const operand =
  (what: string): Check =>
  (op, u) =>
    isTensor(u) || typeof u === "number" ? undefined : new DTypeError({ message: `${op}: ${what} must be a Tensor or a number, got ${describeValue(u)}` })

/** An array of Tensors or numbers. */
export const operands =
  (what: string): Check =>
  (op, u) => {
    if (!Array.isArray(u)) return new DTypeError({ message: `${op}: ${what} must be an array of Tensors or numbers, got ${describeValue(u)}` })
    const i = u.findIndex((x) => !isTensor(x) && typeof x !== "number")
    return i < 0 ? undefined : new DTypeError({ message: `${op}: ${what}[${i}] must be a Tensor or a number, got ${describeValue(u[i])}` })
  }

/** A JavaScript number (the value itself is checked by the op). */
export const number =
  (what: string, optional = false): Check =>
  (op, u) =>
    typeof u === "number" || (optional && u === undefined) ? undefined : new DTypeError({ message: `${op}: ${what} must be a number, got ${describeValue(u)}` })

/** A size, an axis or an index: a JavaScript number (its range is checked by the op). */
export const axis =
  (what: string, optional = false): Check =>
  (op, u) =>
    typeof u === "number" || (optional && u === undefined) ? undefined : new ShapeError({ message: `${op}: ${what} must be an integer, got ${describeValue(u)}` })

/** A shape, a permutation or a list of indices: an array of numbers (their values are checked by the op). */
export const shape =
  (what: string, optional = false): Check =>
  (op, u) =>
    numberArray(u) || (optional && u === undefined) ? undefined : new ShapeError({ message: `${op}: ${what} must be an array of integers, got ${describeValue(u)}` })

/** A dtype name. */
export const dtype =
  (what: string): Check =>
  (op, u) =>
    isDType(u) ? undefined : new DTypeError({ message: `${op}: ${what} must be one of "float32" | "float64" | "int32" | "bool" | "complex64", got ${describeValue(u)}` })

/** Options `{ dtype? }` (absent or an object). */
export const dtypeOptions: Check = (op, u) => {
  if (u === undefined) return undefined
  if (!isPlainObject(u)) return new DTypeError({ message: `${op}: options must be an object { dtype? }, got ${describeValue(u)}` })
  const d = (u as { dtype?: unknown }).dtype
  return d === undefined ? undefined : dtype("options.dtype")(op, d)
}

/** Reduction options `{ axis?, keepdims? }` (absent or an object). */
export const reduceOptions: Check = (op, u) => {
  if (u === undefined) return undefined
  if (!isPlainObject(u)) return new ShapeError({ message: `${op}: options must be an object { axis?, keepdims? }, got ${describeValue(u)}` })
  const { axis: a, keepdims } = u as { axis?: unknown; keepdims?: unknown }
  if (a !== undefined && typeof a !== "number" && !numberArray(a))
    return new ShapeError({ message: `${op}: options.axis must be an integer or an array of integers, got ${describeValue(a)}` })
  if (keepdims !== undefined && typeof keepdims !== "boolean")
    return new ShapeError({ message: `${op}: options.keepdims must be a boolean, got ${describeValue(keepdims)}` })
  return undefined
}

/** The first error the checks find among the arguments. */
export const firstFailure = (op: string, checks: ReadonlyArray<Check | undefined>, args: ReadonlyArray<unknown>): TensorError | undefined => {
  for (let i = 0; i < checks.length; i++) {
    const e = checks[i]?.(op, args[i])
    if (e) return e
  }
  return undefined
}

/**
 * `f` with its arguments checked first (one check per position, `undefined`
 * for none): a bad argument gives an `error` tensor instead of a call.
 */
export const guard =
  <F extends (...args: any[]) => Tensor>(op: string, checks: ReadonlyArray<Check | undefined>, f: F): F =>
  ((...args: Parameters<F>): Tensor => {
    const e = firstFailure(op, checks, args)
    return e ? errorTensor(e) : f(...args)
  }) as F

/** Whether `u` is an options object (plain object), for the data-first / data-last dispatch. */
export const isOptionsLike = (u: unknown): boolean => u === undefined || (isPlainObject(u) && !(Symbol.for("diffect/Variable") in (u as object)))

/** The kind of one field of an options object. */
export type FieldKind = "integer" | "axes" | "boolean" | "number" | "dtype" | "ord"

const fieldOk: Record<FieldKind, (u: unknown) => boolean> = {
  integer: (u) => typeof u === "number",
  axes: (u) => typeof u === "number" || numberArray(u),
  boolean: (u) => typeof u === "boolean",
  number: (u) => typeof u === "number",
  dtype: isDType,
  ord: (u) => u === 1 || u === 2 || u === "inf"
}
const fieldWant: Record<FieldKind, string> = {
  integer: "an integer",
  axes: "an integer or an array of integers",
  boolean: "a boolean",
  number: "a number",
  dtype: 'one of "float32" | "float64" | "int32" | "bool" | "complex64"',
  ord: '1, 2 or "inf"'
}

/** Options (absent or an object) whose present fields have the given kinds. */
export const optionsOf =
  (fields: Readonly<Record<string, FieldKind>>): Check =>
  (op, u) => {
    const names = `{ ${Object.keys(fields).map((k) => `${k}?`).join(", ")} }`
    if (u === undefined) return undefined
    if (!isPlainObject(u)) return new ShapeError({ message: `${op}: options must be an object ${names}, got ${describeValue(u)}` })
    for (const [k, kind] of Object.entries(fields)) {
      const v = (u as Record<string, unknown>)[k]
      if (v !== undefined && !fieldOk[kind](v)) {
        const E = kind === "dtype" ? DTypeError : ShapeError
        return new E({ message: `${op}: options.${k} must be ${fieldWant[kind]}, got ${describeValue(v)}` })
      }
    }
    return undefined
  }

/** An int32 index tensor or an integer. */
export const indices =
  (what: string): Check =>
  (op, u) => {
    if (typeof u === "number") return undefined
    if (!isTensor(u)) return new DTypeError({ message: `${op}: ${what} must be an int32 Tensor, got ${describeValue(u)}` })
    return undefined
  }

/** An array of numbers or a number (an axis list, sizes, sections). */
export const axesOrNumber =
  (what: string, optional = false): Check =>
  (op, u) =>
    typeof u === "number" || numberArray(u) || (optional && u === undefined)
      ? undefined
      : new ShapeError({ message: `${op}: ${what} must be an integer or an array of integers, got ${describeValue(u)}` })

/** An error tensor carrying `e`. */
export const errorOf = (e: TensorError): Tensor => errorTensor(e)

/** A DTypeError naming the op and the value got. */
export const errorValue = (op: string, what: string, u: unknown): TensorError => new DTypeError({ message: `${op}: ${what}, got ${describeValue(u)}` })

/** Pad widths: an array of [before, after] number pairs (their values are checked by the op). */
export const widths =
  (what: string): Check =>
  (op, u) =>
    Array.isArray(u) && u.every((w) => Array.isArray(w) && w.length === 2 && w.every((v) => typeof v === "number"))
      ? undefined
      : new ShapeError({ message: `${op}: ${what} must be an array of [before, after] pairs of integers, got ${describeValue(u)}` })
