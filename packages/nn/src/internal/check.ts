/**
 * Validation shared by the kit: options records and parameter collections.
 * Every check returns the typed error to fail with, or `undefined`.
 * @internal
 * @module
 */
import { GradVarsError, Internal, OptionsError, Variable } from "@diffect/core"

export const describeValue: (u: unknown) => string = Internal.describeValue

/** A check of one option: the reason it is wrong, or undefined. */
export type FieldCheck = (value: unknown) => string | undefined

export const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && (Object.getPrototypeOf(u) === Object.prototype || Object.getPrototypeOf(u) === null)

/** Fails on options that are not an object, unknown keys, or a field its check rejects (naming the field). */
export const checkOptions = (op: string, options: unknown, fields: Readonly<Record<string, FieldCheck>>): OptionsError | undefined => {
  if (options === undefined) return undefined
  if (!isPlainObject(options)) return new OptionsError({ message: `${op}: options must be an object, got ${describeValue(options)}` })
  for (const key of Object.keys(options)) {
    const check = fields[key]
    if (check === undefined) return new OptionsError({ message: `${op}: unknown option "${key}" (expected ${Object.keys(fields).join(", ")})` })
    const value = options[key]
    if (value === undefined) continue
    const why = check(value)
    if (why !== undefined) return new OptionsError({ message: `${op}: ${key} must be ${why}, got ${describeValue(value)}` })
  }
  return undefined
}

/** A finite number in a range. */
export const numberIn =
  (lo: number, hi: number, { loOpen = false, hiOpen = false }: { loOpen?: boolean; hiOpen?: boolean } = {}): FieldCheck =>
  (u) =>
    typeof u === "number" && Number.isFinite(u) && (loOpen ? u > lo : u >= lo) && (hiOpen ? u < hi : u <= hi)
      ? undefined
      : `a number in ${loOpen ? "(" : "["}${lo}, ${hi === Infinity ? "∞" : hi}${hiOpen || hi === Infinity ? ")" : "]"}`

export const nonNegative: FieldCheck = numberIn(0, Infinity)
export const positive: FieldCheck = numberIn(0, Infinity, { loOpen: true })
export const positiveInteger: FieldCheck = (u) => (typeof u === "number" && Number.isInteger(u) && u > 0 ? undefined : "a positive integer")
export const nonNegativeInteger: FieldCheck = (u) => (typeof u === "number" && Number.isInteger(u) && u >= 0 ? undefined : "a non-negative integer")
export const boolean: FieldCheck = (u) => (typeof u === "boolean" ? undefined : "a boolean")
export const string: FieldCheck = (u) => (typeof u === "string" ? undefined : "a string")

/** One Variable of a parameter collection, with its path in the collection (`""` for a lone Variable). */
export interface Slot {
  readonly path: string
  readonly variable: Variable.Variable<any>
}

/** The shape of a parameter collection: a Variable, an array or a record of them (what `gradVars` accepts). */
export type Layout = { readonly kind: "one" } | { readonly kind: "array"; readonly length: number } | { readonly kind: "record"; readonly keys: ReadonlyArray<string> }

/** Splits a parameter collection into its Variables, or says which entry is not a Variable. */
export const slotsOf = (op: string, params: unknown): GradVarsError | { readonly layout: Layout; readonly slots: ReadonlyArray<Slot> } => {
  const notVar = (path: string, u: unknown) =>
    new GradVarsError({ message: `${op}: params${path} is not a Variable, got ${describeValue(u)} (params is a Variable, an array or a record of Variables)` })
  if (Variable.isVariable(params)) return { layout: { kind: "one" }, slots: [{ path: "", variable: params }] }
  if (Array.isArray(params)) {
    if (params.length === 0) return new GradVarsError({ message: `${op}: params is an empty array: nothing to optimize` })
    const bad = params.findIndex((v) => !Variable.isVariable(v))
    if (bad >= 0) return notVar(`[${bad}]`, params[bad])
    return { layout: { kind: "array", length: params.length }, slots: params.map((v, i) => ({ path: `[${i}]`, variable: v as Variable.Variable<any> })) }
  }
  if (isPlainObject(params)) {
    const keys = Object.keys(params).sort()
    if (keys.length === 0) return new GradVarsError({ message: `${op}: params is an empty record: nothing to optimize` })
    const bad = keys.find((k) => !Variable.isVariable(params[k]))
    if (bad !== undefined) return notVar(`.${bad}`, params[bad])
    return { layout: { kind: "record", keys }, slots: keys.map((k) => ({ path: `.${k}`, variable: params[k] as Variable.Variable<any> })) }
  }
  return notVar("", params)
}

/** The part of a collection-shaped value (grads, state) belonging to slot `i`, or undefined when absent. */
export const pick = (layout: Layout, value: unknown, i: number): { readonly found: boolean; readonly value: unknown } => {
  switch (layout.kind) {
    case "one":
      return { found: true, value }
    case "array":
      return Array.isArray(value) && i < value.length ? { found: true, value: value[i] } : { found: false, value: undefined }
    case "record": {
      const key = layout.keys[i]!
      return isPlainObject(value) && Object.prototype.hasOwnProperty.call(value, key) ? { found: true, value: value[key] } : { found: false, value: undefined }
    }
  }
}

/** Assembles one value per slot into the collection's shape. */
export const assemble = (layout: Layout, values: ReadonlyArray<unknown>): unknown => {
  switch (layout.kind) {
    case "one":
      return values[0]
    case "array":
      return [...values]
    case "record":
      return Object.fromEntries(layout.keys.map((k, i) => [k, values[i]]))
  }
}
