/**
 * Testing helpers for code built on diffect: `checkGrads`, a derivative
 * checker in the spirit of JAX's `check_grads` and HIPS autograd's, and
 * fast-check arbitraries for shapes, tensors and pytrees.
 *
 * `fast-check` is an optional peer dependency of `@diffect/transforms`; this
 * entry point (`@diffect/transforms/testing`) imports it, the main one does not.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import fc from "fast-check"
 * import { Tensor } from "@diffect/core"
 * import { arbitraries, checkGrads } from "@diffect/transforms/testing"
 *
 * await fc.assert(
 *   fc.asyncProperty(arbitraries.tensor({ shape: [3], min: 0.1, max: 2 }), (x) =>
 *     Effect.runPromise(checkGrads((x: Tensor.Tensor) => Tensor.log(x), [x], { order: 2 }))
 *   )
 * )
 * ```
 * @module @diffect/transforms/testing
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { DType, DTypeError, type DiffectError, Internal, Pytree, Tensor, Variable } from "@diffect/core"
import { jvp, vjp } from "../forward.js"
import { callFn } from "../internal/trace.js"
import type { Fn } from "../types.js"

// ------------------------------------------------------------------ errors and options

/**
 * A derivative mode checked by {@link checkGrads}: `"fwd"` (jvp against
 * central differences) or `"rev"` (vjp by the inner-product identity).
 * @example `const modes: ReadonlyArray<GradCheckMode> = ["rev"]`
 */
export type GradCheckMode = "fwd" | "rev"

/**
 * A failed derivative check: which mode, at which order, by how much.
 * `order` is 1 for the first derivatives of `f`, 2 for the derivatives of
 * its derivative functions, and so on; `path` lists the transforms that
 * built the function that was being checked (`[]` at order 1,
 * `["rev"]` for the checked derivatives of `vjp(f)`'s pullback, ...).
 * @example
 * ```ts
 * const r = yield* Effect.result(checkGrads(f, [x]))
 * if (Result.isFailure(r) && r.failure._tag === "GradCheckError") console.log(r.failure.mode, r.failure.order, r.failure.maxError)
 * ```
 */
export class GradCheckError extends Data.TaggedError("GradCheckError")<{
  readonly message: string
  readonly mode: GradCheckMode
  readonly order: number
  readonly path: ReadonlyArray<GradCheckMode>
  /** The largest absolute difference between the derivative and its check. */
  readonly maxError: number
  /** The tolerance that difference was held to (`atol + rtol · scale`). */
  readonly tolerance: number
}> {}

/**
 * Options of {@link checkGrads}.
 * @example
 * ```ts
 * const options: CheckGradsOptions = { order: 2, modes: ["fwd", "rev"], rtol: 1e-5, atol: 1e-5, eps: 1e-5, seed: 1 }
 * ```
 */
export interface CheckGradsOptions {
  /** How many times to differentiate (default 2). */
  readonly order?: number | undefined
  /** Which modes to check (default both). */
  readonly modes?: ReadonlyArray<GradCheckMode> | undefined
  /** Relative tolerance (default 1e-5). */
  readonly rtol?: number | undefined
  /** Absolute tolerance (default 1e-5). */
  readonly atol?: number | undefined
  /**
   * The step of the central finite differences (default 1e-5: near the
   * optimum ∛ε for float64, where the truncation error ε²·f‴/6 and the
   * rounding error 1e-16·|f|/ε balance; raise it when `f` rounds through float32).
   */
  readonly eps?: number | undefined
  /** Seed of the random directions (default 0): the check is deterministic. */
  readonly seed?: number | undefined
}

// ------------------------------------------------------------------ host helpers

type AnyFn = Fn<ReadonlyArray<unknown>, unknown, unknown, unknown>

/** A deterministic PRNG (mulberry32) with standard normal draws. */
const makeRng = (seed: number) => {
  let s = seed >>> 0
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    normal: (): number => {
      const u = 1 - uniform()
      const v = uniform()
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
    }
  }
}
type Rng = ReturnType<typeof makeRng>

const isFloatLeaf = (t: Tensor.Tensor): boolean => DType.isFloat(t.dtype)

const f64 = (data: ArrayLike<number>, shape: ReadonlyArray<number>, dtype: DType.DType = "float64"): Tensor.Tensor =>
  Tensor.make(Float64Array.from(data), { shape, dtype })

/** The values of tensors, as float64 host arrays (one evaluation). */
const readAll = (ts: ReadonlyArray<Tensor.Tensor>): Effect.Effect<Float64Array[], DiffectError> =>
  Effect.gen(function* () {
    const settled = yield* Internal.settle(ts)
    const out: Float64Array[] = []
    for (const t of settled) out.push(Float64Array.from((yield* Tensor.data(t)) as ArrayLike<number>))
    return out
  })

/** Arguments with numbers as float64 scalars and float leaves cast to float64, evaluated once. */
const prepareArgs = (args: ReadonlyArray<unknown>): Effect.Effect<unknown[], DiffectError> =>
  Effect.gen(function* () {
    const out: unknown[] = []
    for (const a of args) {
      const [leaves, def] = Pytree.flatten(typeof a === "number" ? Tensor.make(a, { dtype: "float64" }) : a)
      const bad = leaves.find((t) => t.op === "error")
      if (bad) return yield* Effect.fail(bad.error!)
      const complex = leaves.find((t) => DType.isComplex(t.dtype))
      if (complex)
        return yield* Effect.fail(
          new DTypeError({ message: `checkGrads: complex64 leaves are not supported (shape [${complex.shape.join(", ")}]); check the real and imaginary parts as float64` })
        )
      const cast = leaves.map((t) => (isFloatLeaf(t) ? Tensor.cast(t, "float64") : t))
      out.push(Pytree.unflatten(def, yield* Internal.settle(cast)))
    }
    return out
  })

/** A random standard-normal pytree like `tree`, leaf dtypes kept (zeros for non-float leaves). */
const randomLike = (tree: unknown, rng: Rng): unknown =>
  Pytree.map(tree, (t) =>
    isFloatLeaf(t)
      ? f64(Array.from({ length: t.size }, () => rng.normal()), t.shape, t.dtype)
      : Tensor.zeros(t.shape, { dtype: t.dtype })
  )

/** `args + s · dir` on the float leaves. */
const shift = (args: ReadonlyArray<unknown>, dir: ReadonlyArray<unknown>, s: number): Effect.Effect<unknown[], DiffectError> =>
  Effect.gen(function* () {
    const [xs, def] = Pytree.flatten(args)
    const [ds] = Pytree.flatten(dir)
    const xv = yield* readAll(xs)
    const dv = yield* readAll(ds)
    const moved = xs.map((x, i) => (isFloatLeaf(x) ? f64(xv[i]!.map((v, j) => v + s * dv[i]![j]!), x.shape) : x))
    return Pytree.unflatten<unknown[]>(def, moved)
  })

/** A handler that reads the state of its parent and drops every write: checks leave Variables as they were. */
const discardingHandler = (parent: Variable.StateHandler): Variable.StateHandler => ({
  read: parent.read,
  writeAll: () => Effect.void
})

/** Evaluates `f(...args)` (in its own transaction, writes discarded) to float64 host arrays per output leaf. */
const evaluate = (f: AnyFn, args: ReadonlyArray<unknown>) =>
  Effect.gen(function* () {
    const parent = yield* Variable.CurrentStateHandler
    const tx = new Variable.Transaction(parent, new Set())
    const ret = yield* callFn(f, args).pipe(Effect.provideService(Variable.CurrentStateHandler, tx))
    tx.close()
    const [leaves] = Pytree.flatten(ret)
    const bad = leaves.find((t) => t.op === "error")
    if (bad) return yield* Effect.fail(bad.error!)
    return { leaves, values: yield* readAll(leaves) }
  })

const flatLeaves = (tree: unknown): Tensor.Tensor[] => Pytree.flatten(tree)[0]

const describePath = (path: ReadonlyArray<GradCheckMode>): string =>
  path.length === 0 ? "f" : path.reduceRight((inner, m) => `${m === "fwd" ? "jvp" : "vjp"}(${inner})`, "f")

interface Ctx {
  readonly rtol: number
  readonly atol: number
  readonly eps: number
  readonly modes: ReadonlyArray<GradCheckMode>
  readonly rng: Rng
}

/** The central difference `(f(x + εv) − f(x − εv)) / 2ε`, per output leaf. */
const numericalJvp = (ctx: Ctx, f: AnyFn, args: ReadonlyArray<unknown>, dir: ReadonlyArray<unknown>) =>
  Effect.gen(function* () {
    const plus = yield* evaluate(f, yield* shift(args, dir, ctx.eps))
    const minus = yield* evaluate(f, yield* shift(args, dir, -ctx.eps))
    return plus.values.map((p, i) => p.map((v, j) => (v - minus.values[i]![j]!) / (2 * ctx.eps)))
  })

/** Forward mode: `jvp` against central differences, elementwise. */
const checkJvp = (ctx: Ctx, f: AnyFn, args: ReadonlyArray<unknown>, order: number, path: ReadonlyArray<GradCheckMode>) =>
  Effect.gen(function* () {
    const dir = randomLike(args, ctx.rng) as unknown[]
    const [, tOut] = yield* jvp(f, args, dir)
    const outs = flatLeaves(tOut)
    const auto = yield* readAll(outs)
    const numeric = yield* numericalJvp(ctx, f, args, dir)
    // the worst element: the largest error relative to its tolerance (NaN counts as worst)
    let maxError = 0, tolerance = 0, worst = "", ratio = -1
    outs.forEach((o, i) => {
      if (!isFloatLeaf(o)) return
      const a = auto[i]!, e = numeric[i]!
      for (let j = 0; j < a.length; j++) {
        const err = Math.abs(a[j]! - e[j]!)
        const tol = ctx.atol + ctx.rtol * Math.abs(e[j]!)
        const r = Number.isNaN(err) ? Infinity : err / tol
        if (r > ratio) {
          ratio = r
          maxError = err
          tolerance = tol
          worst = `output leaf ${i} (shape [${o.shape.join(", ")}]) element ${j}: jvp gives ${a[j]}, central differences give ${e[j]}`
        }
      }
    })
    const failed = ratio > 1
    if (failed)
      return yield* Effect.fail(
        new GradCheckError({
          message: `checkGrads: forward mode (jvp) disagrees with central differences (eps ${ctx.eps}) at order ${order} for ${describePath(path)}: max error ${maxError} > tolerance ${tolerance} (atol ${ctx.atol}, rtol ${ctx.rtol}); worst at ${worst}`,
          mode: "fwd",
          order,
          path,
          maxError,
          tolerance
        })
      )
  })

/** ⟨a, b⟩ over the float leaves, and Σ|aᵢbᵢ| (the scale of its rounding error). */
const inner = (a: ReadonlyArray<Float64Array>, b: ReadonlyArray<Float64Array>, use: ReadonlyArray<boolean>): [number, number] => {
  let s = 0, scale = 0
  a.forEach((x, i) => {
    if (!use[i]) return
    const y = b[i]!
    for (let j = 0; j < x.length; j++) {
      s += x[j]! * y[j]!
      scale += Math.abs(x[j]! * y[j]!)
    }
  })
  return [s, scale]
}

/**
 * Reverse mode: the inner-product identity ⟨u, J v⟩ = ⟨Jᵀ u, v⟩ for random
 * u and v, with J v from `jvp` and, independently, from central differences.
 */
const checkVjp = (ctx: Ctx, f: AnyFn, args: ReadonlyArray<unknown>, order: number, path: ReadonlyArray<GradCheckMode>) =>
  Effect.gen(function* () {
    const v = randomLike(args, ctx.rng) as unknown[]
    const [out, pullback] = yield* vjp(f, ...args)
    const u = randomLike(out, ctx.rng)
    const grads = yield* pullback(u)
    const [, jv] = yield* jvp(f, args, v)
    const numeric = yield* numericalJvp(ctx, f, args, v)
    const outLeaves = flatLeaves(out)
    const uv = yield* readAll(flatLeaves(u))
    const jvv = yield* readAll(flatLeaves(jv))
    const gv = yield* readAll(flatLeaves(grads))
    const vv = yield* readAll(flatLeaves(v))
    const [ipRev, scaleRev] = inner(gv, vv, flatLeaves(v).map(isFloatLeaf))
    const useOut = outLeaves.map(isFloatLeaf)
    const [ipFwd, scaleFwd] = inner(uv, jvv, useOut)
    const [ipNum, scaleNum] = inner(uv, numeric, useOut)
    const checks = [
      { what: "⟨u, J v⟩ by jvp", ip: ipFwd, scale: Math.max(scaleFwd, scaleRev) },
      { what: `⟨u, J v⟩ by central differences (eps ${ctx.eps})`, ip: ipNum, scale: Math.max(scaleNum, scaleRev) }
    ]
    let maxError = 0, tolerance = 0, ratio = -1
    const failures: string[] = []
    for (const c of checks) {
      const err = Math.abs(ipRev - c.ip)
      const tol = ctx.atol + ctx.rtol * c.scale
      if (!(err <= tol)) failures.push(`⟨Jᵀu, v⟩ = ${ipRev} by vjp but ${c.what} = ${c.ip}`)
      const r = Number.isNaN(err) ? Infinity : err / tol
      if (r > ratio) {
        ratio = r
        maxError = err
        tolerance = tol
      }
    }
    if (failures.length > 0)
      return yield* Effect.fail(
        new GradCheckError({
          message: `checkGrads: reverse mode (vjp) fails the inner-product identity at order ${order} for ${describePath(path)}: ${failures.join("; ")}; max error ${maxError} > tolerance ${tolerance} (atol ${ctx.atol}, rtol ${ctx.rtol})`,
          mode: "rev",
          order,
          path,
          maxError,
          tolerance
        })
      )
  })

/** Non-float leaves of a tangent must be zero (they are not perturbed). */
const zeroNonFloat = (tree: unknown): unknown => Pytree.map(tree, (t) => (isFloatLeaf(t) ? t : Tensor.zeros(t.shape, { dtype: t.dtype })))

const checkLevel = (
  ctx: Ctx,
  f: AnyFn,
  args: ReadonlyArray<unknown>,
  order: number,
  level: number,
  path: ReadonlyArray<GradCheckMode>
): Effect.Effect<void, unknown, unknown> =>
  Effect.gen(function* () {
    if (ctx.modes.includes("fwd")) {
      yield* checkJvp(ctx, f, args, level, path)
      if (level < order) {
        const g: AnyFn = (primals, tangents) => jvp(f, primals as ReadonlyArray<unknown>, tangents as ReadonlyArray<unknown>)
        yield* checkLevel(ctx, g, [args, zeroNonFloat(args)], order, level + 1, [...path, "fwd"])
      }
    }
    if (ctx.modes.includes("rev")) {
      yield* checkVjp(ctx, f, args, level, path)
      if (level < order) {
        const g: AnyFn = (...xs) => Effect.flatMap(vjp(f, ...xs), ([out, pullback]) => pullback(out))
        yield* checkLevel(ctx, g, args, order, level + 1, [...path, "rev"])
      }
    }
  })

/**
 * Checks the derivatives of `f` at `args` to `order`, in the spirit of
 * JAX's `check_grads`: forward mode (`"fwd"`) compares `jvp` in a random
 * direction with central differences; reverse mode (`"rev"`) checks the
 * inner-product identity ⟨u, J v⟩ = ⟨Jᵀu, v⟩ between `vjp` and `jvp` (and
 * central differences) for random `u` and `v`. With `order` > 1 it checks
 * the derivative functions themselves the same way (`jvp(f)` and the
 * pullback of `vjp(f)`), recursively.
 *
 * Float leaves of `args` are cast to float64 first (numbers become float64
 * scalars), so `f` should keep float64 through; integer and bool leaves are
 * held constant. `f` may read Variables; its writes are discarded, so the
 * check leaves state as it was. Succeeds with `void`, or fails with a
 * {@link GradCheckError} naming the mode, the order and the max error.
 *
 * @example
 * ```ts
 * const f = (x: Tensor.Tensor, y: Tensor.Tensor) => Tensor.sum(Tensor.mul(Tensor.tanh(x), y))
 * yield* checkGrads(f, [Tensor.make([0.1, -0.4]), Tensor.make([2, 3])], { order: 2, modes: ["fwd", "rev"] })
 * ```
 */
export const checkGrads = <Args extends ReadonlyArray<unknown>, Ret, E = never, R = never>(
  f: Fn<Args, Ret, E, R>,
  args: NoInfer<Args>,
  options: CheckGradsOptions = {}
): Effect.Effect<void, GradCheckError | DiffectError | E, R> =>
  Effect.gen(function* () {
    const order = options.order ?? 2
    if (!Number.isInteger(order) || order < 1)
      return yield* Effect.fail(new GradCheckError({ message: `checkGrads: order must be an integer >= 1, got ${order}`, mode: "fwd", order, path: [], maxError: NaN, tolerance: NaN }))
    const ctx: Ctx = {
      rtol: options.rtol ?? 1e-5,
      atol: options.atol ?? 1e-5,
      eps: options.eps ?? 1e-5,
      modes: options.modes ?? ["fwd", "rev"],
      rng: makeRng(options.seed ?? 0)
    }
    const parent = yield* Variable.CurrentStateHandler
    const prepared = yield* prepareArgs(args)
    yield* checkLevel(ctx, f as AnyFn, prepared, order, 1, []).pipe(Effect.provideService(Variable.CurrentStateHandler, discardingHandler(parent)))
  }) as Effect.Effect<void, GradCheckError | DiffectError | E, R>

// ------------------------------------------------------------------ arbitraries

/**
 * Options of {@link arbitraries}`.shape`.
 * @example `arbitraries.shape({ maxRank: 2, maxDim: 3 } satisfies ShapeConstraints)`
 */
export interface ShapeConstraints {
  /** Smallest rank (default 0). */
  readonly minRank?: number | undefined
  /** Largest rank (default 3). */
  readonly maxRank?: number | undefined
  /** Smallest size of an axis (default 1; 0 allows empty tensors). */
  readonly minDim?: number | undefined
  /** Largest size of an axis (default 4). */
  readonly maxDim?: number | undefined
}

/**
 * Options of {@link arbitraries}`.tensor`.
 * @example `arbitraries.tensor({ shape: [2, 3], dtype: "float64", min: 0.1, max: 2 } satisfies TensorConstraints)`
 */
export interface TensorConstraints {
  /** A fixed shape, or an arbitrary of shapes (default `shape()`). */
  readonly shape?: ReadonlyArray<number> | fc.Arbitrary<ReadonlyArray<number>> | undefined
  /** The dtype (default float64); complex64 is not generated. */
  readonly dtype?: "float32" | "float64" | "int32" | "bool" | undefined
  /** Smallest value (default -1; int32: -10). */
  readonly min?: number | undefined
  /** Largest value (default 1; int32: 10). */
  readonly max?: number | undefined
  /** Values whose magnitude is at least this (away from a kink at 0; default none). */
  readonly minAbs?: number | undefined
  /** Pairwise distinct values at least this far apart (no ties, e.g. for max; default none). */
  readonly distinct?: number | undefined
}

/**
 * Options of {@link arbitraries}`.pytree`.
 * @example `arbitraries.pytree({ leaf: arbitraries.tensor({ shape: [2] }), maxDepth: 2, maxBreadth: 3 } satisfies PytreeConstraints)`
 */
export interface PytreeConstraints {
  /** The leaves (default `tensor()`). */
  readonly leaf?: fc.Arbitrary<Tensor.Tensor> | undefined
  /** How deep arrays and records nest (default 2; 0 gives a leaf). */
  readonly maxDepth?: number | undefined
  /** The most entries of an array or a record (default 3). */
  readonly maxBreadth?: number | undefined
}

const sizeOf = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

const valuesArb = (n: number, c: TensorConstraints): fc.Arbitrary<number[]> => {
  const dtype = c.dtype ?? "float64"
  if (dtype === "bool") return fc.array(fc.boolean(), { minLength: n, maxLength: n }).map((bs) => bs.map((b) => (b ? 1 : 0)))
  if (dtype === "int32") {
    const min = Math.ceil(c.min ?? -10), max = Math.floor(c.max ?? 10)
    if (c.distinct !== undefined) {
      const step = Math.max(1, Math.ceil(c.distinct))
      return fc.uniqueArray(fc.integer({ min: 0, max: Math.floor((max - min) / step) }), { minLength: n, maxLength: n }).map((ks) => ks.map((k) => min + k * step))
    }
    return fc.array(fc.integer({ min, max }), { minLength: n, maxLength: n })
  }
  const min = c.min ?? -1, max = c.max ?? 1
  const fround = dtype === "float32" ? Math.fround : (x: number) => x
  if (c.distinct !== undefined) {
    const gap = c.distinct
    const slots = Math.floor((max - min) / gap)
    const ok = (x: number) => c.minAbs === undefined || Math.abs(x) >= c.minAbs
    const candidates = Array.from({ length: slots + 1 }, (_, k) => min + k * gap).filter(ok)
    if (candidates.length < n)
      throw new RangeError(`arbitraries.tensor: ${n} values at least ${gap} apart do not fit in [${min}, ${max}]${c.minAbs === undefined ? "" : ` with |x| >= ${c.minAbs}`}`)
    return fc
      .shuffledSubarray(candidates, { minLength: n, maxLength: n })
      .map((xs) => xs.map(fround))
  }
  let value: fc.Arbitrary<number> = fc.double({ min, max, noNaN: true, noDefaultInfinity: true })
  if (c.minAbs !== undefined) {
    const lo = c.minAbs
    const parts: fc.Arbitrary<number>[] = []
    if (max >= lo) parts.push(fc.double({ min: Math.max(lo, min), max, noNaN: true, noDefaultInfinity: true }))
    if (min <= -lo) parts.push(fc.double({ min, max: Math.min(-lo, max), noNaN: true, noDefaultInfinity: true }))
    if (parts.length === 0) throw new RangeError(`arbitraries.tensor: no value in [${min}, ${max}] has |x| >= ${lo}`)
    value = fc.oneof(...parts)
  }
  return fc.array(value.map(fround), { minLength: n, maxLength: n })
}

const shapeArb = (c: ShapeConstraints = {}): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: c.minDim ?? 1, max: c.maxDim ?? 4 }), { minLength: c.minRank ?? 0, maxLength: c.maxRank ?? 3 })

const tensorArb = (c: TensorConstraints = {}): fc.Arbitrary<Tensor.Tensor> => {
  const shapes: fc.Arbitrary<ReadonlyArray<number>> = c.shape === undefined ? shapeArb() : Array.isArray(c.shape) ? fc.constant(c.shape as ReadonlyArray<number>) : (c.shape as fc.Arbitrary<ReadonlyArray<number>>)
  const dtype = c.dtype ?? "float64"
  return shapes.chain((shape) =>
    valuesArb(sizeOf(shape), c).map((values) =>
      Tensor.make(dtype === "float64" ? Float64Array.from(values) : dtype === "float32" ? Float32Array.from(values) : dtype === "int32" ? Int32Array.from(values) : Uint8Array.from(values), { shape: [...shape], dtype })
    )
  )
}

const pytreeArb = (c: PytreeConstraints = {}): fc.Arbitrary<Pytree.Pytree> => {
  const leaf = c.leaf ?? tensorArb()
  const breadth = c.maxBreadth ?? 3
  const go = (depth: number): fc.Arbitrary<Pytree.Pytree> =>
    depth <= 0
      ? leaf
      : fc.oneof(
          { weight: 2, arbitrary: leaf },
          { weight: 1, arbitrary: fc.array(go(depth - 1), { minLength: 1, maxLength: breadth }) },
          {
            weight: 1,
            arbitrary: fc
              .uniqueArray(fc.constantFrom("a", "b", "c", "d", "e", "f", "w", "x", "y", "z"), { minLength: 1, maxLength: breadth })
              .chain((keys) => fc.tuple(...keys.map(() => go(depth - 1))).map((vals) => Object.fromEntries(keys.map((k, i) => [k, vals[i]!]))))
          }
        )
  return go(c.maxDepth ?? 2)
}

/**
 * fast-check arbitraries for property tests of numerical code.
 *
 * - `shape({ minRank, maxRank, minDim, maxDim })`: shapes (arrays of axis sizes);
 * - `tensor({ shape, dtype, min, max, minAbs, distinct })`: tensors with
 *   values in `[min, max]` (float64 by default), optionally away from 0
 *   (`minAbs`) or pairwise distinct (`distinct`: the smallest gap);
 * - `pytree({ leaf, maxDepth, maxBreadth })`: tensors nested in arrays and records.
 *
 * @example
 * ```ts
 * fc.asyncProperty(
 *   arbitraries.tensor({ shape: arbitraries.shape({ maxRank: 2 }), min: 0.1, max: 3 }),
 *   (x) => Effect.runPromise(checkGrads(Tensor.sqrt, [x]))
 * )
 * fc.asyncProperty(arbitraries.pytree({ leaf: arbitraries.tensor({ shape: [2] }) }), (tree) => ...)
 * ```
 */
export const arbitraries: {
  readonly shape: (constraints?: ShapeConstraints) => fc.Arbitrary<number[]>
  readonly tensor: (constraints?: TensorConstraints) => fc.Arbitrary<Tensor.Tensor>
  readonly pytree: (constraints?: PytreeConstraints) => fc.Arbitrary<Pytree.Pytree>
} = { shape: shapeArb, tensor: tensorArb, pytree: pytreeArb }
