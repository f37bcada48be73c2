/**
 * Batches over a dataset: an array or a record of tensors that share their
 * leading length (`[x, y]`, `{ images, labels }`), cut into minibatches of
 * the same structure, shuffled by a `Random` key (each epoch draws a new
 * permutation and advances the key). `batches` gives one epoch as an array
 * (iterate it with `for...of`); `stream` gives an Effect `Stream` over
 * several epochs.
 *
 * The rows are gathered on the host (the dataset's values are read once per
 * `batches` call, or once per `stream`), as a data loader does.
 *
 * @example
 * ```ts
 * const key = yield* Random.key(0)
 * for (const [x, y] of yield* Data.batches([images, labels], { batchSize: 128, key })) {
 *   yield* Optim.minimize(opt, () => loss(x, y))
 * }
 * ```
 * @module
 */
import { Effect, Stream } from "effect"
import { DTypeError, OptionsError, Random, ShapeError, type StateError, Tensor, type TensorError, Variable } from "@diffect/core"
import * as C from "./internal/check.js"

/** A dataset: tensors sharing their leading length, in an array or a record. @example `const d: Data.Dataset = [x, y]` */
export type Dataset = ReadonlyArray<Tensor.Tensor> | { readonly [k: string]: Tensor.Tensor }

/** A minibatch: the dataset's structure, each tensor cut to the batch's rows. @example `const [x, y]: Data.Batch<[Tensor.Tensor, Tensor.Tensor]> = batch` */
export type Batch<D extends Dataset> = { -readonly [K in keyof D]: Tensor.Tensor }

/**
 * Options of {@link batches} and {@link stream}.
 * @example `const o: Data.BatchOptions = { batchSize: 64, key, dropLast: true }`
 */
export interface BatchOptions {
  /** Rows per batch (a positive integer). */
  readonly batchSize: number
  /** Shuffle with this `Random` key (advanced once per epoch); in order when absent. */
  readonly key?: Random.Key | undefined
  /** Drop the last batch when it is smaller than `batchSize` (default false). */
  readonly dropLast?: boolean | undefined
}

/**
 * Options of {@link stream}: those of {@link batches} and the number of epochs.
 * @example `const o: Data.StreamOptions = { batchSize: 64, key, epochs: 10 }`
 */
export interface StreamOptions extends BatchOptions {
  /** How many passes over the data (default 1; `Infinity` for an endless stream). */
  readonly epochs?: number | undefined
}

/** What batching can fail with: bad options or data, reading the data, drawing the permutation. */
export type DataError = OptionsError | TensorError | StateError

interface Host {
  readonly keys: ReadonlyArray<string | number>
  readonly columns: ReadonlyArray<{ readonly data: ArrayLike<number> & { readonly constructor: new (n: number) => any; subarray(a: number, b: number): ArrayLike<number> }; readonly shape: ReadonlyArray<number>; readonly dtype: Tensor.DType }>
  readonly rows: number
  readonly isArray: boolean
}

const check = (op: string, data: unknown, options: unknown, extra: Record<string, C.FieldCheck> = {}): DataError | undefined => {
  const bad = C.checkOptions(op, options, { batchSize: C.positiveInteger, key: (u) => (Variable.isVariable(u) ? undefined : "a Random key Variable"), dropLast: C.boolean, ...extra })
  if (bad) return bad
  if (options === undefined || (options as BatchOptions).batchSize === undefined) return new OptionsError({ message: `${op}: batchSize is required` })
  const tensors = Array.isArray(data) ? data : C.isPlainObject(data) ? Object.values(data) : undefined
  if (tensors === undefined || tensors.length === 0)
    return new OptionsError({ message: `${op}: data must be a non-empty array or record of tensors, got ${C.describeValue(data)}` })
  const notTensor = tensors.find((t) => !Tensor.isTensor(t))
  if (notTensor !== undefined) return new OptionsError({ message: `${op}: every entry of data must be a Tensor, got ${C.describeValue(notTensor)}` })
  const ts = tensors as ReadonlyArray<Tensor.Tensor>
  const scalar = ts.find((t) => t.shape.length === 0)
  if (scalar) return new ShapeError({ message: `${op}: every tensor needs a leading (row) axis, got a scalar` })
  const complex = ts.find((t) => t.dtype === "complex64")
  if (complex) return new DTypeError({ message: `${op}: complex64 data is not supported` })
  const n = ts[0]!.shape[0]!
  const other = ts.find((t) => t.shape[0] !== n)
  if (other) return new ShapeError({ message: `${op}: every tensor must have the same leading length, got ${ts.map((t) => `[${t.shape.join(", ")}]`).join(", ")}` })
  return undefined
}

const load = (data: Dataset): Effect.Effect<Host, TensorError> =>
  Effect.gen(function* () {
    const isArray = Array.isArray(data)
    const keys: Array<string | number> = isArray ? (data as ReadonlyArray<Tensor.Tensor>).map((_, i) => i) : Object.keys(data)
    const columns: Array<Host["columns"][number]> = []
    for (const k of keys) {
      const t = (data as Record<string | number, Tensor.Tensor>)[k]!
      // only read (rows copied into each batch): the tensor's own buffer on the CPU, no copy of the whole dataset
      columns.push({ data: (yield* Tensor.dataShared(t)) as never, shape: t.shape, dtype: t.dtype })
    }
    return { keys, columns, rows: columns[0]!.shape[0]!, isArray }
  })

/** The batches of one epoch from host data, in `order`. */
const cut = (host: Host, order: ArrayLike<number> | undefined, options: BatchOptions): Array<any> => {
  const out: Array<any> = []
  const size = options.batchSize
  const last = options.dropLast ? host.rows - (host.rows % size) : host.rows
  for (let start = 0; start < last; start += size) {
    const m = Math.min(size, last - start)
    const parts = host.columns.map((c) => {
      const row = c.shape.slice(1).reduce((a, b) => a * b, 1)
      const buf = new c.data.constructor(m * row)
      for (let j = 0; j < m; j++) {
        const i = order === undefined ? start + j : order[start + j]!
        buf.set(c.data.subarray(i * row, (i + 1) * row), j * row)
      }
      return Tensor.make(buf, { shape: [m, ...c.shape.slice(1)], dtype: c.dtype })
    })
    out.push(host.isArray ? parts : Object.fromEntries(host.keys.map((k, i) => [k, parts[i]])))
  }
  return out
}

const epoch = (host: Host, options: BatchOptions): Effect.Effect<Array<any>, DataError> =>
  options.key === undefined
    ? Effect.succeed(cut(host, undefined, options))
    : Effect.map(Effect.flatMap(Random.permutation(options.key, host.rows), Tensor.dataShared), (order) => cut(host, order, options))

/**
 * One epoch of minibatches, as an array (shuffled when `options.key` is given;
 * the last batch is smaller unless `dropLast`).
 * @example `const epoch = yield* Data.batches({ x, y }, { batchSize: 32, key })`
 */
export const batches = <const D extends Dataset>(data: D, options: BatchOptions): Effect.Effect<ReadonlyArray<Batch<D>>, DataError> =>
  Effect.suspend(() => {
    const bad = check("Data.batches", data, options)
    if (bad) return Effect.fail(bad)
    return Effect.flatMap(load(data), (host) => epoch(host, options))
  })

/**
 * Minibatches over `epochs` passes (default 1), as an Effect `Stream`,
 * reshuffled each epoch when `options.key` is given.
 * @example
 * ```ts
 * yield* Stream.runForEach(Data.stream([x, y], { batchSize: 64, key, epochs: 5 }), ([xb, yb]) => Optim.minimize(opt, () => loss(xb, yb)))
 * ```
 */
export const stream = <const D extends Dataset>(data: D, options: StreamOptions): Stream.Stream<Batch<D>, DataError> =>
  Stream.unwrap(
    Effect.suspend(() => {
      const bad = check("Data.stream", data, options, { epochs: (u) => (u === Infinity || (typeof u === "number" && Number.isInteger(u) && u >= 0) ? undefined : "a non-negative integer or Infinity") })
      if (bad) return Effect.fail(bad)
      const epochs = options.epochs ?? 1
      return Effect.map(load(data), (host) => {
        const one = Stream.flatMap(Stream.fromEffect(epoch(host, options)), (bs) => Stream.fromIterable(bs as ReadonlyArray<Batch<D>>))
        return epochs === Infinity ? Stream.forever(one) : epochs === 0 ? Stream.empty : Stream.flatMap(Stream.range(1, epochs), () => one)
      })
    })
  )
