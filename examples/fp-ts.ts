/**
 * diffect from an fp-ts pipeline (`node --import tsx examples/fp-ts.ts`).
 *
 * `@diffect/transforms/fp-ts` gives every transform a `TaskEither` form
 * (`gradTE`, `valueAndGradTE`, `vmapTE`, ...) whose `Left` carries typed
 * errors: diffect's own (`ShapeError`, `NonScalarOutputError`...) and the
 * function's (here a `Left` returned by the loss). No Effect code in sight.
 *
 * The program fits a line to noisy rows that arrive as untyped records,
 * finds the worst-fitting rows with per-example losses from `vmapTE`, and
 * shows the typed failures.
 */
import * as A from "fp-ts/lib/Array.js"
import * as E from "fp-ts/lib/Either.js"
import { pipe } from "fp-ts/lib/function.js"
import * as T from "fp-ts/lib/Task.js"
import * as TE from "fp-ts/lib/TaskEither.js"
import { type DiffectError, Tensor } from "@diffect/core"
import { gradTE, runTE, valueAndGradTE, vmapTE } from "@diffect/transforms/fp-ts"

const FAST = process.env.DIFFECT_EXAMPLE_FAST === "1"
const STEPS = FAST ? 100 : 300

// ------------------------------------------------------------------ data, validated with Either

/** Our own typed errors, tagged like diffect's so one `switch (e._tag)` handles both. */
interface ParseError {
  readonly _tag: "ParseError"
  readonly message: string
}
interface DataError {
  readonly _tag: "DataError"
  readonly message: string
}
const parseError = (message: string): ParseError => ({ _tag: "ParseError", message })
const dataError = (message: string): DataError => ({ _tag: "DataError", message })

interface Dataset {
  readonly x: Tensor.Tensor // [n, 2]: the feature and a constant 1 (for the intercept)
  readonly y: Tensor.Tensor // [n]
}

const parseRow = (u: unknown, i: number): E.Either<ParseError, { x: number; y: number }> =>
  typeof u === "object" && u !== null && "x" in u && "y" in u && typeof u.x === "number" && typeof u.y === "number"
    ? E.right({ x: u.x, y: u.y })
    : E.left(parseError(`row ${i}: expected { x: number, y: number }, got ${JSON.stringify(u)}`))

const parse = (rows: ReadonlyArray<unknown>): E.Either<ParseError, Dataset> =>
  pipe(
    [...rows],
    A.traverseWithIndex(E.Applicative)((i, u) => parseRow(u, i)),
    E.map((rs) => ({ x: Tensor.make(rs.map((r) => [r.x, 1])), y: Tensor.make(rs.map((r) => r.y)) }))
  )

/** Rows of y = 3x − 2 with deterministic noise, and two outliers at rows 7 and 23. */
const rows: ReadonlyArray<unknown> = Array.from({ length: 40 }, (_, i) => {
  const x = -1 + (2 * i) / 39
  const noise = 0.05 * Math.sin(i * 12.9898) + (i === 7 ? 2.5 : i === 23 ? -3 : 0)
  return { x, y: 3 * x - 2 + noise }
})

// ------------------------------------------------------------------ the model: plain functions of tensors

/** Squared error of each row. */
const residuals2 = (w: Tensor.Tensor, x: Tensor.Tensor, y: Tensor.Tensor) => Tensor.square(Tensor.sub(Tensor.matmul(x, w), y))

/**
 * The mean squared error, checking shapes first: a mismatch is our own typed
 * `DataError` (a `Left`), not an exception. Shapes are known before any value
 * is computed, so the check is free.
 */
// #region fit-mse
const mse = (w: Tensor.Tensor, data: Dataset): E.Either<DataError, Tensor.Tensor> =>
  data.x.shape[0] !== data.y.shape[0]
    ? E.left(dataError(`x has ${data.x.shape[0]} rows but y has ${data.y.shape[0]}`))
    : E.right(Tensor.mean(residuals2(w, data.x, data.y)))
// #endregion

// ------------------------------------------------------------------ training: a fold of TaskEither steps

// #region fit-step
/** One gradient-descent step: the loss before it, and the new weights. */
const step = (data: Dataset, lr: number) => (w: Tensor.Tensor) =>
  pipe(
    valueAndGradTE(mse)(w, data), // [loss, dL/dw]: argnums defaults to 0
    TE.map(([loss, g]) => ({ loss, w: Tensor.sub(w, Tensor.mul(g, lr)) }))
  )
// #endregion

const fit = (data: Dataset): TE.TaskEither<DiffectError | DataError, { readonly w: Tensor.Tensor; readonly loss: Tensor.Tensor }> =>
  pipe(
    A.replicate(STEPS, step(data, 0.5)),
    A.reduce(TE.right({ w: Tensor.zeros([2]), loss: Tensor.make(Infinity) }), (acc, s) =>
      pipe(
        acc,
        TE.chain(({ w }) => s(w))
      )
    )
  )

/** Reads tensors back to numbers (an effect in diffect, a TaskEither here). */
const toNumbers = (t: Tensor.Tensor) => pipe(runTE(Tensor.data(t)), TE.map((d) => Array.from(d)))

const fmt = (xs: ReadonlyArray<number>) => `[${xs.map((v) => v.toFixed(3)).join(", ")}]`

/** The indices of the `k` rows with the largest loss under `w` (vmap over rows of x and y, w shared). */
const worstRows = (data: Dataset, w: Tensor.Tensor, k: number) =>
  pipe(
    vmapTE(residuals2, { inAxes: [null, 0, 0] })(w, data.x, data.y), // [n]: one loss per row
    TE.chainW(toNumbers),
    TE.map((errors) => errors.map((e, i) => [e, i] as const).sort((a, b) => b[0] - a[0]).slice(0, k).map(([, i]) => i).sort((a, b) => a - b))
  )

const describeFit = (label: string, fitted: { readonly w: Tensor.Tensor; readonly loss: Tensor.Tensor }) =>
  pipe(
    TE.Do,
    TE.apS("w", toNumbers(fitted.w)),
    TE.apS("loss", toNumbers(fitted.loss)),
    TE.map(({ w, loss }) => `${label}: w = ${fmt(w)} (true [3, -2]), mse ${loss[0]!.toFixed(4)}`)
  )

/** Fit, find the two rows that fit worst, drop them, fit again. */
const program = pipe(
  TE.fromEither(parse(rows)),
  TE.bindTo("data"),
  TE.bindW("first", ({ data }) => fit(data)),
  TE.bindW("outliers", ({ data, first }) => worstRows(data, first.w, 2)),
  TE.bindW("second", ({ outliers }) =>
    pipe(
      TE.fromEither(parse(rows.filter((_, i) => !outliers.includes(i)))),
      TE.chainW(fit)
    )
  ),
  TE.bindW("lines", ({ first, outliers, second }) =>
    pipe(
      [describeFit(`fit on all ${rows.length} rows (${STEPS} steps)`, first), describeFit("refit without them", second)],
      A.sequence(TE.ApplicativeSeq),
      TE.map(([a, b]) => [a!, `worst rows by their own loss (vmapTE): ${outliers.join(", ")} (the planted outliers are 7, 23)`, b!])
    )
  ),
  TE.map(({ lines }) => lines)
)

// ------------------------------------------------------------------ typed failures, on the Left

/** One message for every failure, by tag: diffect's errors and ours in one union. */
const explain = (e: DiffectError | DataError | ParseError): string => {
  switch (e._tag) {
    case "ParseError":
    case "DataError":
      return `our ${e._tag}: ${e.message}`
    case "NonScalarOutputError":
      return `diffect's NonScalarOutputError: ${e.message}`
    default:
      return `diffect's ${e._tag}: ${e.message}`
  }
}

const failures = [
  // bad input: parse fails before anything is computed
  pipe(TE.fromEither(parse([{ x: 1, y: 2 }, { x: "3", y: 4 }])), TE.map(() => "parsed")),
  // the loss returns a Left: it becomes the transform's typed failure
  pipe(gradTE(mse)(Tensor.zeros([2]), { x: Tensor.ones([3, 2]), y: Tensor.ones([4]) }), TE.map(() => "grad")),
  // grad of a non-scalar output: diffect's own typed failure
  pipe(gradTE(residuals2)(Tensor.zeros([2]), Tensor.ones([3, 2]), Tensor.ones([3])), TE.map(() => "grad")),
  // shapes that do not fit: a ShapeError when the value is needed
  pipe(gradTE((w: Tensor.Tensor) => Tensor.sum(Tensor.matmul(Tensor.ones([3, 5]), w)))(Tensor.zeros([2])), TE.map(() => "grad"))
]

const main = pipe(
  program,
  TE.match(
    (e) => [`failed: ${explain(e)}`],
    (lines) => lines
  ),
  T.chain((lines) =>
    pipe(
      failures,
      A.map(TE.match(explain, (ok) => `unexpected success: ${ok}`)),
      A.sequence(T.ApplicativeSeq),
      T.map((fs) => [...lines, "", "typed failures (Left):", ...fs.map((f) => `  ${f}`)])
    )
  )
)

main().then(
  (lines) => {
    for (const l of lines) console.log(l)
    process.exit(lines[0]!.startsWith("failed") ? 1 : 0)
  },
  (defect: unknown) => {
    console.error("defect:", defect)
    process.exit(1)
  }
)
