/**
 * Transform options, validated by hand (not with effect/Schema, which would
 * add some 10 MB to every program's RSS for a handful of checks): the flags
 * are booleans, argnums an integer or an array of integers, in range and
 * distinct, gradVars made of Variables; every failure is a tagged error
 * (OptionsError, ArgnumsError, GradVarsError).
 */
import * as Effect from "effect/Effect"
import { ArgnumsError, GradVarsError, Internal, OptionsError, Variable } from "@diffect/core"

/** The variables to differentiate: one, an array, or a record. */
export type GradVarsSpec = Variable.Variable<any> | ReadonlyArray<Variable.Variable<any>> | { readonly [k: string]: Variable.Variable<any> }

/** Options shared by the grad family (camel-cased brainpy options). */
export interface GradOptions {
  readonly gradVars?: GradVarsSpec | undefined
  readonly argnums?: number | ReadonlyArray<number> | undefined
  readonly hasAux?: boolean | undefined
  readonly returnValue?: boolean | undefined
  readonly holomorphic?: boolean | undefined
  readonly allowInt?: boolean | undefined
}

/** The boolean flags of the grad family. */
const flagNames = ["hasAux", "returnValue", "holomorphic", "allowInt"] as const

/** Whether `u` is undefined, an integer, or an array of integers (the accepted forms of argnums). */
const isArgnums = (u: unknown): u is number | ReadonlyArray<number> | undefined =>
  u === undefined || Number.isInteger(u) || (Array.isArray(u) && u.every((a) => Number.isInteger(a)))

/** The resolved options of one call. */
export interface Resolved {
  /** The argument positions, or undefined when only gradVars are asked for. */
  readonly argnums: ReadonlyArray<number> | undefined
  /** Whether `argnums` was a single number. */
  readonly singleArg: boolean
  readonly vars: ReadonlyArray<Variable.Variable<unknown>>
  /** How the var gradients are shaped: one, an array, or a record's keys. */
  readonly varsShape: { readonly kind: "none" } | { readonly kind: "one" } | { readonly kind: "array" } | { readonly kind: "record"; readonly keys: ReadonlyArray<string> }
  readonly hasAux: boolean
  readonly returnValue: boolean
  readonly holomorphic: boolean
  readonly allowInt: boolean
}

const describe = Internal.describeValue

/** Whether `u` can be an options object: a plain object (not an array, a Tensor, a Variable...). */
export const isOptionsObject = (u: unknown): u is object =>
  typeof u === "object" && u !== null && [Object.prototype, null].includes(Object.getPrototypeOf(u))

/** The option names of the grad family (anything else is a typo, not ignored). */
const known = ["gradVars", "argnums", "hasAux", "returnValue", "holomorphic", "allowInt"]

/** argnums as written, for messages (without JSON.stringify, which throws on a bigint). */
const show = (u: unknown): string =>
  Array.isArray(u) && u.every((a) => typeof a === "number") ? `[${u.join(", ")}]` : typeof u === "number" ? String(u) : describe(u)

/** Validates options against a call with `nargs` arguments. */
export const resolve = (name: string, options: GradOptions, nargs: number): Effect.Effect<Resolved, ArgnumsError | GradVarsError | OptionsError> =>
  Effect.gen(function* () {
    if (!isOptionsObject(options))
      return yield* Effect.fail(new OptionsError({ message: `${name}: options must be an object { ${known.join(", ")} }, got ${describe(options)}` }))
    const unknown = Object.keys(options).filter((k) => !known.includes(k))
    if (unknown.length > 0)
      return yield* Effect.fail(
        new OptionsError({ message: `${name}: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (expected ${known.join(", ")})` })
      )
    const raw = options as Record<string, unknown>
    const notBoolean = flagNames.filter((k) => raw[k] !== undefined && typeof raw[k] !== "boolean")
    if (notBoolean.length > 0)
      return yield* Effect.fail(
        new OptionsError({ message: `${name}: invalid options: ${notBoolean.map((k) => `${k} must be a boolean, got ${describe(raw[k])}`).join("; ")}` })
      )
    const decoded = raw as { readonly hasAux?: boolean; readonly returnValue?: boolean; readonly holomorphic?: boolean; readonly allowInt?: boolean }
    const given = raw.argnums
    if (!isArgnums(given))
      return yield* Effect.fail(new ArgnumsError({ message: `${name}: argnums must be an integer or an array of integers, got ${show(given)}` }))
    const gv = options.gradVars
    let vars: Variable.Variable<unknown>[] = []
    let varsShape: Resolved["varsShape"] = { kind: "none" }
    if (gv !== undefined) {
      if (Variable.isVariable(gv)) {
        vars = [gv as Variable.Variable<unknown>]
        varsShape = { kind: "one" }
      } else if (Array.isArray(gv)) {
        vars = [...gv]
        varsShape = { kind: "array" }
      } else if (typeof gv === "object" && gv !== null && [Object.prototype, null].includes(Object.getPrototypeOf(gv))) {
        const keys = Object.keys(gv)
        vars = keys.map((k) => (gv as Record<string, Variable.Variable<unknown>>)[k]!)
        varsShape = { kind: "record", keys }
      } else {
        return yield* Effect.fail(new GradVarsError({ message: `${name}: gradVars must be a Variable, an array or a record of Variables, got ${describe(gv)}` }))
      }
      const bad = vars.findIndex((v) => !Variable.isVariable(v))
      if (bad >= 0) {
        const where = varsShape.kind === "record" ? `gradVars.${varsShape.keys[bad]}` : `gradVars[${bad}]`
        return yield* Effect.fail(new GradVarsError({ message: `${name}: ${where} is not a Variable, got ${describe(vars[bad])}` }))
      }
    }
    const argnums = given === undefined ? (gv === undefined ? [0] : undefined) : typeof given === "number" ? [given] : [...given]
    if (argnums !== undefined) {
      for (const a of argnums) {
        if (a < 0 || a >= nargs)
          return yield* Effect.fail(
            new ArgnumsError({ message: `${name}: argnums ${show(given ?? 0)} is out of range for a call with ${nargs} argument${nargs === 1 ? "" : "s"} (expected integers in [0, ${nargs - 1}])` })
          )
      }
      if (new Set(argnums).size !== argnums.length)
        return yield* Effect.fail(new ArgnumsError({ message: `${name}: argnums ${show(given)} contains duplicates` }))
      if (argnums.length === 0 && gv === undefined)
        return yield* Effect.fail(new ArgnumsError({ message: `${name}: argnums is empty and no gradVars are given: nothing to differentiate` }))
    }
    return {
      argnums,
      singleArg: given === undefined ? gv === undefined : typeof given === "number",
      vars,
      varsShape,
      hasAux: decoded.hasAux ?? false,
      returnValue: decoded.returnValue ?? false,
      holomorphic: decoded.holomorphic ?? false,
      allowInt: decoded.allowInt ?? false
    }
  })
