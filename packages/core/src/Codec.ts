/**
 * `effect/Schema` codecs between tensors and JSON, and checkpoints of
 * Variables: the subpath `@diffect/core/Codec` (not in the package's index,
 * so that a program that does not save or restore does not load
 * effect/Schema: about 10 MB of RSS in Node).
 *
 * A tensor's JSON form is `{ shape, dtype, data }`: `data` is the flat
 * row-major values (bool as 0/1, complex64 interleaved `re, im`), and a
 * non-finite float is written as the string `"NaN"`, `"Infinity"` or
 * `"-Infinity"` so that `JSON.stringify` keeps it (it would write `null`).
 * Decoding checks the envelope with a Schema, then the data against the
 * shape and dtype; failures are typed: `DTypeError` for a dtype (or a value
 * the dtype cannot hold), `ShapeError` for a shape or a data length. The one
 * loss through `JSON.stringify` is the sign of a negative zero.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tensor, Variable } from "@diffect/core"
 * import * as Codec from "@diffect/core/Codec"
 * const program = Effect.gen(function* () {
 *   const json = yield* Codec.encode(Tensor.make([[1, 2], [3, 4]]))
 *   // { shape: [2, 2], dtype: "float32", data: [1, 2, 3, 4] }
 *   const t = yield* Codec.decode(JSON.parse(JSON.stringify(json)), { shape: [null, 2] })
 *   const w = yield* Variable.make(Tensor.zeros([3]))
 *   const ckpt = yield* Codec.saveVariables({ w })
 *   yield* Codec.restoreVariables({ w }, ckpt)
 * })
 * ```
 * @module
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { type DType, dtypes } from "./DType.js"
import { DTypeError, ShapeError, StateError, type TensorError } from "./Errors.js"
import { make as makeTensor } from "./internal/create.js"
import { data as readData } from "./internal/read.js"
import { describeValue } from "./internal/guard.js"
import { isTensor, type Tensor } from "./internal/tensor.js"
import * as Pytree from "./Pytree.js"
import * as Variable from "./Variable.js"

// ------------------------------------------------------------------ tensors

/**
 * The Schema of the JSON form of a tensor (structure only: the data is
 * checked against shape and dtype by `decode`).
 * @example `Schema.decodeUnknownSync(Codec.TensorJson)({ shape: [1], dtype: "int32", data: [7] })`
 */
export const TensorJson = Schema.Struct({
  shape: Schema.Array(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  dtype: Schema.Literals(["float32", "float64", "int32", "bool", "complex64"]),
  data: Schema.Array(Schema.Union([Schema.Number, Schema.Literals(["NaN", "Infinity", "-Infinity"])]))
})

/**
 * The JSON form of a tensor.
 * @example `const j: Codec.TensorJson = { shape: [2], dtype: "float32", data: [1, "NaN"] }`
 */
export type TensorJson = typeof TensorJson.Type

/**
 * What a decoded (or encoded) tensor must be: a dtype, and a shape whose
 * `null` entries accept any size.
 * @example `const c: Codec.Constraints = { shape: [null, 784], dtype: "float32" }`
 */
export interface Constraints {
  readonly shape?: ReadonlyArray<number | null> | undefined
  readonly dtype?: DType | undefined
}

const fmtShape = (shape: ReadonlyArray<number | null>): string => `[${shape.map((d) => (d === null ? "?" : d)).join(", ")}]`
const describe = (dtype: string, shape: ReadonlyArray<number | null>): string => `${dtype}${fmtShape(shape)}`

/** Constraints must be `{ shape?: (number | null)[], dtype?: DType }` (or absent). */
const badConstraints = (op: string, c: unknown): ShapeError | DTypeError | undefined => {
  if (c === undefined) return undefined
  if (typeof c !== "object" || c === null || Array.isArray(c))
    return new DTypeError({ message: `${op}: constraints must be an object { shape?, dtype? }, got ${describeValue(c)}` })
  const { shape, dtype } = c as { shape?: unknown; dtype?: unknown }
  if (dtype !== undefined && !(dtypes as ReadonlyArray<unknown>).includes(dtype))
    return new DTypeError({ message: `${op}: constraints.dtype must be one of ${dtypes.map((d) => `"${d}"`).join(" | ")}, got ${describeValue(dtype)}` })
  if (shape !== undefined && !(Array.isArray(shape) && shape.every((d) => d === null || (Number.isInteger(d) && d >= 0))))
    return new ShapeError({ message: `${op}: constraints.shape must be an array of sizes (non-negative integers, or null for any), got ${describeValue(shape)}` })
  return undefined
}

/** Checks a dtype and shape against constraints. */
const checkConstraints = (op: string, dtype: DType, shape: ReadonlyArray<number>, c: Constraints): ShapeError | DTypeError | undefined => {
  const bad = badConstraints(op, c)
  if (bad) return bad
  if (c.dtype !== undefined && c.dtype !== dtype)
    return new DTypeError({ message: `${op}: expected dtype ${c.dtype}, got ${describe(dtype, shape)}` })
  if (c.shape !== undefined && (c.shape.length !== shape.length || c.shape.some((d, i) => d !== null && d !== shape[i])))
    return new ShapeError({ message: `${op}: expected shape ${fmtShape(c.shape)}, got ${describe(dtype, shape)}` })
  return undefined
}

const nonFinite: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, "-Infinity": Number.NEGATIVE_INFINITY }

/** The data check and the tensor, for JSON whose structure is already valid. */
const fromJson = (op: string, json: TensorJson, c: Constraints): Effect.Effect<Tensor, ShapeError | DTypeError> => {
  const { shape, dtype, data } = json
  const bad = checkConstraints(op, dtype, shape, c)
  if (bad) return Effect.fail(bad)
  const size = shape.reduce((a, b) => a * b, 1)
  const need = dtype === "complex64" ? 2 * size : size
  if (data.length !== need)
    return Effect.fail(
      new ShapeError({
        message: `${op}: ${describe(dtype, shape)} needs ${need} values${dtype === "complex64" ? " (interleaved re, im)" : ""}, got ${data.length}`
      })
    )
  const values = new Float64Array(need)
  const float = dtype === "float32" || dtype === "float64" || dtype === "complex64"
  for (let i = 0; i < need; i++) {
    const x = data[i]!
    const v = typeof x === "string" ? nonFinite[x]! : x
    const ok = float || (dtype === "int32" ? Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 : v === 0 || v === 1)
    if (!ok) {
      const want = dtype === "int32" ? "integers in [-2147483648, 2147483647]" : "0 or 1"
      return Effect.fail(new DTypeError({ message: `${op}: ${describe(dtype, shape)} data must be ${want}, got ${String(x)} at data[${i}]` }))
    }
    values[i] = v
  }
  const host = dtype === "float64" ? values : dtype === "int32" ? Int32Array.from(values) : dtype === "bool" ? Uint8Array.from(values) : Float32Array.from(values)
  return Effect.succeed(makeTensor(host, { shape, dtype }))
}

const issueFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** A Schema failure as a typed error: `DTypeError` if the dtype is wrong, else `ShapeError`. */
const fromIssue = (op: string, issue: SchemaIssue.Issue): ShapeError | DTypeError => {
  const issues = issueFormatter(issue).issues
  const lines = issues.map((i) => {
    const path = (i.path ?? []).map((p) => (typeof p === "object" && p !== null && "key" in p ? p.key : p))
    // a bad element fails both members of the union; say what is expected of it
    const msg = path.length === 2 && path[0] === "data" ? `Expected a number or "NaN" | "Infinity" | "-Infinity"` : i.message
    return path.length === 0 ? msg : `${msg} at ${path.map(String).join(".")}`
  })
  const message = `${op}: expected { shape: number[], dtype: ${dtypes.map((d) => `"${d}"`).join(" | ")}, data: number[] }: ${lines.join("; ")}`
  const dtypeIssue = issues.some((i) => {
    const p = i.path?.[0]
    return (typeof p === "object" && p !== null && "key" in p ? p.key : p) === "dtype"
  })
  return dtypeIssue ? new DTypeError({ message }) : new ShapeError({ message })
}

/**
 * Decodes unknown input (for example parsed JSON) into a tensor, checking the
 * structure, the data length against the shape, the values against the dtype,
 * and the optional constraints.
 * @example
 * ```ts
 * const t = yield* Codec.decode({ shape: [2], dtype: "int32", data: [1, 2] }, { dtype: "int32" })
 * ```
 */
export const decode = (input: unknown, constraints: Constraints = {}): Effect.Effect<Tensor, ShapeError | DTypeError> => {
  const bad = badConstraints("Codec.decode", constraints)
  if (bad) return Effect.fail(bad)
  return Effect.flatMap(
    Effect.mapError(Schema.decodeUnknownEffect(TensorJson)(input, { errors: "all" }), (e) => fromIssue("Codec.decode", e.issue)),
    (json) => fromJson("Codec.decode", json, constraints)
  )
}

const toJsonNumber = (x: number): number | "NaN" | "Infinity" | "-Infinity" =>
  Number.isFinite(x) ? x : Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity"

/**
 * Encodes a tensor into its JSON form (an effect: it reads the tensor's data),
 * checking the optional constraints first.
 * @example `const json = yield* Codec.encode(weights, { dtype: "float32" })`
 */
export const encode = (t: Tensor, constraints: Constraints = {}): Effect.Effect<TensorJson, TensorError> =>
  Effect.suspend(() => {
    if (!isTensor(t)) return Effect.fail(new DTypeError({ message: `Codec.encode: expected a Tensor, got ${typeof t}` }))
    if (t.op === "error") return Effect.fail(t.error!)
    const bad = checkConstraints("Codec.encode", t.dtype, t.shape, constraints)
    if (bad) return Effect.fail(bad)
    return Effect.map(readData(t), (host) => ({ shape: [...t.shape], dtype: t.dtype, data: Array.from(host, toJsonNumber) }))
  })

/**
 * The Schema of tensor values themselves (an `instanceof`-like check).
 * @example `Schema.is(Codec.TensorFromSelf)(Tensor.ones([2])) // true`
 */
export const TensorFromSelf = Schema.declare<Tensor>(isTensor, { title: "Tensor" })

/**
 * A Schema codec between the JSON form and tensors, optionally constrained
 * in shape and dtype: use it inside other Schemas. (Its failures are Schema
 * issues; `decode` / `encode` give the typed errors.)
 * @example
 * ```ts
 * const Layer = Schema.Struct({ w: Codec.tensorFromJson({ shape: [null, 10] }), b: Codec.tensorFromJson({ shape: [10] }) })
 * const layer = yield* Schema.decodeUnknownEffect(Layer)(JSON.parse(text))
 * ```
 */
export const tensorFromJson = (constraints: Constraints = {}) =>
  TensorJson.pipe(
    Schema.decodeTo(
      TensorFromSelf,
      SchemaTransformation.transformEffect<Tensor, TensorJson>({
        decode: (json, options) =>
          Effect.mapError(fromJson("Codec.tensorFromJson", json, constraints), (e) => new SchemaIssue.InvalidValue({ message: e.message }, json, options)),
        encode: (t, options) => Effect.mapError(encode(t, constraints), (e) => new SchemaIssue.InvalidValue({ message: e.message }, t, options))
      })
    )
  )

/**
 * `tensorFromJson()`: any shape, any dtype.
 * @example `const t = yield* Schema.decodeUnknownEffect(Codec.TensorFromJson)(json)`
 */
export const TensorFromJson = tensorFromJson()

// ------------------------------------------------------------------ checkpoints

/**
 * The JSON form of one Variable's value: its pytree with tensors as
 * `TensorJson` (and `null` where the tree holds a non-tensor constant).
 * @example `const v: Codec.VariableJson = { w: { shape: [1], dtype: "float32", data: [0] }, b: [] }`
 */
export type VariableJson = TensorJson | null | ReadonlyArray<VariableJson> | { readonly [key: string]: VariableJson }

/**
 * A checkpoint: the values of named Variables, JSON-serializable.
 * @example `const text = JSON.stringify(yield* Codec.saveVariables({ w1, b1 }))`
 */
export interface Checkpoint {
  readonly format: "diffect-checkpoint"
  readonly version: 1
  readonly variables: { readonly [name: string]: VariableJson }
}

const CheckpointEnvelope = Schema.Struct({
  format: Schema.Literal("diffect-checkpoint"),
  version: Schema.Literal(1),
  variables: Schema.Record(Schema.String, Schema.Unknown)
})

const checkVariables = (op: string, vars: Readonly<Record<string, Variable.Variable<any>>>): StateError | undefined => {
  if (typeof vars !== "object" || vars === null) return new StateError({ message: `${op}: expected a record of Variables, got ${String(vars)}` })
  const bad = Object.keys(vars).find((k) => !Variable.isVariable(vars[k]))
  return bad === undefined ? undefined : new StateError({ message: `${op}: "${bad}" is not a Variable` })
}

/**
 * Saves the current values of named Variables (an effect: it reads them and
 * their data; inside a transform it reads that call's view of them).
 * @example
 * ```ts
 * const ckpt = yield* Codec.saveVariables({ w1, b1, w2, b2 })
 * fs.writeFileSync("model.json", JSON.stringify(ckpt))
 * ```
 */
export const saveVariables = (vars: Readonly<Record<string, Variable.Variable<any>>>): Effect.Effect<Checkpoint, TensorError | StateError> =>
  Effect.gen(function* () {
    const bad = checkVariables("Codec.saveVariables", vars)
    if (bad) return yield* Effect.fail(bad)
    const variables: Record<string, VariableJson> = {}
    for (const name of Object.keys(vars).sort()) {
      const value: unknown = yield* Variable.get(vars[name]!)
      const [leaves, def] = Pytree.flatten(value)
      const encoded = yield* Effect.forEach(leaves, (t) => encode(t))
      let i = 0
      const build = (d: Pytree.TreeDef): VariableJson => {
        switch (d.kind) {
          case "leaf":
            return encoded[i++]!
          case "none":
            return null
          case "array":
            return d.items.map(build)
          case "object":
            return Object.fromEntries(d.keys.map((k, j) => [k, build(d.items[j]!)]))
        }
      }
      variables[name] = build(def)
    }
    return { format: "diffect-checkpoint", version: 1, variables } satisfies Checkpoint
  })

/**
 * Options of `restoreVariables`.
 * @example `yield* Codec.restoreVariables({ encoder }, fullModelCheckpoint, { strict: false })`
 */
export interface RestoreOptions {
  /** Fail when the checkpoint has variables that are not restored (default true). */
  readonly strict?: boolean | undefined
}

const withPrefix = (e: ShapeError | DTypeError, prefix: string): ShapeError | DTypeError =>
  e._tag === "ShapeError" ? new ShapeError({ message: `${prefix}${e.message}` }) : new DTypeError({ message: `${prefix}${e.message}` })

/**
 * Restores named Variables from a checkpoint (for example parsed JSON). Every
 * value is validated first — the envelope, each variable's presence and
 * structure (`StateError`), each tensor's shape and dtype against the
 * Variable's (`ShapeError` / `DTypeError`) — and then all are written
 * together, so bad data leaves every Variable as it was. Inside a transform
 * the writes commit with the call.
 * @example
 * ```ts
 * yield* Codec.restoreVariables({ w1, b1, w2, b2 }, JSON.parse(fs.readFileSync("model.json", "utf8")))
 * ```
 */
export const restoreVariables = (
  vars: Readonly<Record<string, Variable.Variable<any>>>,
  checkpoint: unknown,
  options: RestoreOptions = {}
): Effect.Effect<void, TensorError | StateError> =>
  Effect.gen(function* () {
    const op = "Codec.restoreVariables"
    const bad = checkVariables(op, vars)
    if (bad) return yield* Effect.fail(bad)
    if (options === null || typeof options !== "object" || (options.strict !== undefined && typeof options.strict !== "boolean"))
      return yield* Effect.fail(new StateError({ message: `${op}: options must be an object { strict?: boolean }, got ${describeValue(options === null || typeof options !== "object" ? options : options.strict)}` }))
    const envelope = yield* Effect.mapError(
      Schema.decodeUnknownEffect(CheckpointEnvelope)(checkpoint),
      (e) => new StateError({ message: `${op}: not a diffect checkpoint ({ format: "diffect-checkpoint", version: 1, variables }): ${e.message}` })
    )
    const saved = envelope.variables
    const names = Object.keys(vars).sort()
    const missing = names.filter((n) => !Object.prototype.hasOwnProperty.call(saved, n))
    if (missing.length > 0)
      return yield* Effect.fail(new StateError({ message: `${op}: the checkpoint has no ${missing.map((n) => `"${n}"`).join(", ")} (it has ${Object.keys(saved).sort().join(", ") || "nothing"})` }))
    const extra = Object.keys(saved).filter((n) => !Object.prototype.hasOwnProperty.call(vars, n)).sort()
    if ((options.strict ?? true) && extra.length > 0)
      return yield* Effect.fail(new StateError({ message: `${op}: the checkpoint has variables that are not restored: ${extra.join(", ")} (pass { strict: false } to ignore them)` }))
    const entries: Array<readonly [Variable.Variable<unknown>, unknown]> = []
    for (const name of names) {
      const v = vars[name]! as Variable.Variable<unknown>
      const leaves: Array<Tensor> = []
      let next = 0
      const walk = (d: Pytree.TreeDef, j: unknown, path: string): Effect.Effect<void, TensorError | StateError> => {
        const where = `${op}: "${name}"${path}`
        switch (d.kind) {
          case "none":
            return Effect.void
          case "leaf": {
            const slot = next++ // leaves are visited in flatten order
            const aval = v.avals[slot]!
            return Effect.map(
              Effect.mapError(decode(j, { shape: aval.shape, dtype: aval.dtype }), (e) => withPrefix(e, `${where}: `)),
              (t) => void (leaves[slot] = t)
            )
          }
          case "array":
            if (!Array.isArray(j) || j.length !== d.items.length)
              return Effect.fail(new StateError({ message: `${where}: expected an array of ${d.items.length}, got ${Array.isArray(j) ? `${j.length} items` : typeof j}` }))
            return Effect.forEach(d.items, (item, k) => walk(item, j[k], `${path}[${k}]`), { discard: true })
          case "object": {
            const o = j as Record<string, unknown>
            const keys = typeof j === "object" && j !== null && !Array.isArray(j) ? Object.keys(o).sort() : undefined
            if (keys === undefined || JSON.stringify(keys) !== JSON.stringify(d.keys))
              return Effect.fail(new StateError({ message: `${where}: expected an object with keys ${d.keys.join(", ")}, got ${keys ? `keys ${keys.join(", ")}` : typeof j}` }))
            return Effect.forEach(d.items, (item, k) => walk(item, o[d.keys[k]!], `${path}.${d.keys[k]}`), { discard: true })
          }
        }
      }
      yield* walk(v.def, saved[name], "")
      entries.push([v, Pytree.unflatten(v.def, leaves)])
    }
    // all validated: write everything at once (all or nothing)
    const handler = yield* Effect.service(Variable.CurrentStateHandler)
    yield* handler.writeAll(entries)
  })
