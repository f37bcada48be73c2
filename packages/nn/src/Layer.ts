/**
 * Layers: plain objects of TrainVars with an `apply`. Making a layer is an
 * Effect (it draws initial values from a `Random` key and creates
 * Variables); `apply(x)` is an Effect that reads the parameters, so under
 * `grad(f, { gradVars: Module.trainVars(model.params) })` they are
 * differentiated.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Random, Tensor } from "@diffect/core"
 * import { Layer, Module } from "@diffect/nn"
 * const program = Effect.gen(function* () {
 *   const key = yield* Random.key(0)
 *   const mlp = yield* Layer.sequential(yield* Layer.linear(key, 4, 16), Layer.fn(Tensor.relu), yield* Layer.linear(key, 16, 3))
 *   const logits = yield* mlp.apply(Tensor.ones([8, 4])) // [8, 3]
 *   return Module.trainVars(mlp.params) // { "0.b", "0.w", "2.b", "2.w" }
 * })
 * ```
 * @module
 */
import { Effect } from "effect"
import { DTypeError, Internal, OptionsError, Random, ShapeError, type StateError, Tensor, type TensorError, TrainVar, Variable } from "@diffect/core"
import * as C from "./internal/check.js"
import * as Init from "./Init.js"
import { Training } from "./Module.js"

/** What applying a layer can fail with: the tensors' errors, or state errors reading its Variables. */
export type ApplyError = TensorError | StateError

/** What making a layer can fail with: bad options, a bad key, tensor or state errors. */
export type MakeError = OptionsError | TensorError | StateError

/**
 * A layer: its parameters (a record or array of TrainVars, possibly nested)
 * and the function applying it.
 * @example `const layer: Layer.Layer<{ w: Variable.Variable; b: Variable.Variable }> = yield* Layer.linear(key, 2, 3)`
 */
export interface Layer<P = unknown, In = Tensor.Tensor, Out = Tensor.Tensor> {
  /** The TrainVars (collect them with `Module.trainVars`). */
  readonly params: P
  /** Applies the layer: reads the parameters, computes the output. */
  readonly apply: (x: In) => Effect.Effect<Out, ApplyError>
}

type FloatDType = "float32" | "float64"
const dtypeCheck: C.FieldCheck = (u) => (u === "float32" || u === "float64" ? undefined : `"float32" or "float64"`)
const initCheck: C.FieldCheck = (u) => (typeof u === "function" ? undefined : "an initializer (key, shape, options?) => Effect<Tensor>")

const dims = (op: string, named: Record<string, unknown>): OptionsError | undefined => {
  for (const [k, v] of Object.entries(named))
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) return new OptionsError({ message: `${op}: ${k} must be a positive integer, got ${C.describeValue(v)}` })
  return undefined
}

const lastAxis = (op: string, x: Tensor.Tensor, expected: number): Effect.Effect<void, ShapeError> =>
  Tensor.isTensor(x) && x.shape.length >= 1 && x.shape[x.shape.length - 1] === expected
    ? Effect.void
    : Effect.fail(new ShapeError({ message: `${op}: expected an input whose last axis is ${expected}, got ${Tensor.isTensor(x) ? `${x.dtype}${Internal.fmt(x.shape)}` : C.describeValue(x)}` }))

// ------------------------------------------------------------------ linear

/**
 * Options of {@link linear}.
 * @example `const o: Layer.LinearOptions = { bias: false, init: Init.heNormal }`
 */
export interface LinearOptions {
  /** Whether to add a bias (default true; initialized to zeros). */
  readonly bias?: boolean | undefined
  /** The weight's initializer (default `Init.glorotUniform`). */
  readonly init?: Init.Initializer | undefined
  /** float32 (default) or float64. */
  readonly dtype?: FloatDType | undefined
  /** A prefix for the Variables' names (default `"linear"`). */
  readonly name?: string | undefined
}

/**
 * A fully connected layer, y = x @ w + b, with w `[inDim, outDim]` and b
 * `[outDim]`. `params` is `{ w, b }` (`{ w }` without bias).
 * @example `const dense = yield* Layer.linear(key, 784, 256)`
 */
export const linear = (
  key: Random.Key,
  inDim: number,
  outDim: number,
  options: LinearOptions = {}
): Effect.Effect<Layer<{ readonly w: Variable.Variable<Tensor.Tensor>; readonly b?: Variable.Variable<Tensor.Tensor> }>, MakeError> =>
  Effect.gen(function* () {
    const op = "Layer.linear"
    const bad = dims(op, { inDim, outDim }) ?? C.checkOptions(op, options, { bias: C.boolean, init: initCheck, dtype: dtypeCheck, name: C.string })
    if (bad) return yield* Effect.fail(bad)
    const dtype = options.dtype ?? "float32"
    const name = options.name ?? "linear"
    const w = yield* TrainVar.make(yield* (options.init ?? Init.glorotUniform)(key, [inDim, outDim], { dtype }), { name: `${name}.w` })
    const b = (options.bias ?? true) ? yield* TrainVar.make(Tensor.zeros([outDim], { dtype }), { name: `${name}.b` }) : undefined
    const apply = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        yield* lastAxis(op, x, inDim)
        const y = Tensor.matmul(x, yield* Variable.get(w))
        return b === undefined ? y : Tensor.add(y, yield* Variable.get(b))
      })
    return { params: b === undefined ? { w } : { w, b }, apply }
  })

// ------------------------------------------------------------------ conv2d

/**
 * Options of {@link conv2d}: those of `Tensor.conv`, and the layer's own.
 * @example `const o: Layer.Conv2dOptions = { padding: "SAME", strides: 2, bias: false }`
 */
export interface Conv2dOptions {
  /** Stride per spatial axis (a number for both; default 1). */
  readonly strides?: number | readonly [number, number] | undefined
  /** `"VALID"` (default), `"SAME"`, or `[lo, hi]` per spatial axis. */
  readonly padding?: "VALID" | "SAME" | readonly [readonly [number, number], readonly [number, number]] | undefined
  /** Kernel dilation per spatial axis (default 1). */
  readonly dilation?: number | readonly [number, number] | undefined
  /** Feature groups (default 1; divides both channel counts). */
  readonly groups?: number | undefined
  /** Whether to add a bias per output channel (default true; zeros). */
  readonly bias?: boolean | undefined
  /** The kernel's initializer (default `Init.glorotUniform`, fans of `[O, C / groups, kh, kw]`). */
  readonly init?: Init.Initializer | undefined
  /** float32 (default) or float64. */
  readonly dtype?: FloatDType | undefined
  /** A prefix for the Variables' names (default `"conv2d"`). */
  readonly name?: string | undefined
}

/**
 * A 2-D convolution layer in PyTorch's layout, as `nn.Conv2d`: x `[N, C, H,
 * W]`, kernel w `[O, C / groups, kh, kw]`, bias b `[O]`, output `[N, O, H',
 * W']` (`Tensor.conv` plus the bias). `params` is `{ w, b }` (`{ w }`
 * without bias).
 * @example `const conv = yield* Layer.conv2d(key, 1, 8, 3, { padding: "SAME" })`
 */
export const conv2d = (
  key: Random.Key,
  inChannels: number,
  outChannels: number,
  kernelSize: number | readonly [number, number],
  options: Conv2dOptions = {}
): Effect.Effect<Layer<{ readonly w: Variable.Variable<Tensor.Tensor>; readonly b?: Variable.Variable<Tensor.Tensor> }>, MakeError> =>
  Effect.gen(function* () {
    const op = "Layer.conv2d"
    const [kh, kw] = typeof kernelSize === "number" ? [kernelSize, kernelSize] : Array.isArray(kernelSize) ? kernelSize : [NaN, NaN]
    const any: C.FieldCheck = () => undefined // checked by Tensor.conv, with its messages
    const groups = options?.groups ?? 1
    const bad =
      dims(op, { inChannels, outChannels, "kernelSize[0]": kh, "kernelSize[1]": kw, groups }) ??
      C.checkOptions(op, options, { strides: any, padding: any, dilation: any, groups: C.positiveInteger, bias: C.boolean, init: initCheck, dtype: dtypeCheck, name: C.string }) ??
      (inChannels % groups !== 0 || outChannels % groups !== 0
        ? new OptionsError({ message: `${op}: groups ${groups} must divide inChannels ${inChannels} and outChannels ${outChannels}` })
        : undefined)
    if (bad) return yield* Effect.fail(bad)
    const dtype = options.dtype ?? "float32"
    const name = options.name ?? "conv2d"
    const w = yield* TrainVar.make(yield* (options.init ?? Init.glorotUniform)(key, [outChannels, inChannels / groups, kh!, kw!], { dtype }), { name: `${name}.w` })
    const b = (options.bias ?? true) ? yield* TrainVar.make(Tensor.zeros([outChannels], { dtype }), { name: `${name}.b` }) : undefined
    const convOptions = {
      ...(options.strides !== undefined ? { strides: options.strides } : {}),
      ...(options.padding !== undefined ? { padding: options.padding } : {}),
      ...(options.dilation !== undefined ? { dilation: options.dilation } : {}),
      groups
    }
    const apply = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        if (!Tensor.isTensor(x) || x.shape.length !== 4 || x.shape[1] !== inChannels)
          return yield* Effect.fail(
            new ShapeError({ message: `${op}: expected an input [N, ${inChannels}, H, W], got ${Tensor.isTensor(x) ? `${x.dtype}${Internal.fmt(x.shape)}` : C.describeValue(x)}` })
          )
        const y = Tensor.conv(x, yield* Variable.get(w), convOptions as never)
        return b === undefined ? y : Tensor.add(y, Tensor.reshape(yield* Variable.get(b), [1, outChannels, 1, 1]))
      })
    return { params: b === undefined ? { w } : { w, b }, apply }
  })

// ------------------------------------------------------------------ layerNorm

/**
 * Options of {@link layerNorm}.
 * @example `const o: Layer.LayerNormOptions = { eps: 1e-6 }`
 */
export interface LayerNormOptions {
  /** Added to the variance (default 1e-5, PyTorch's). */
  readonly eps?: number | undefined
  /** Learnable scale and bias (default true: `params` is `{ scale, bias }`, else `{}`). */
  readonly affine?: boolean | undefined
  /** float32 (default) or float64. */
  readonly dtype?: FloatDType | undefined
  /** A prefix for the Variables' names (default `"layerNorm"`). */
  readonly name?: string | undefined
}

/**
 * Layer normalization over the last axis (of size `dim`), as PyTorch's
 * `nn.LayerNorm(dim)`: (x − mean) / √(var + eps) · scale + bias, with the
 * biased variance; scale starts at ones, bias at zeros.
 * @example `const norm = yield* Layer.layerNorm(256)`
 */
export const layerNorm = (
  dim: number,
  options: LayerNormOptions = {}
): Effect.Effect<Layer<{ readonly scale?: Variable.Variable<Tensor.Tensor>; readonly bias?: Variable.Variable<Tensor.Tensor> }>, MakeError> =>
  Effect.gen(function* () {
    const op = "Layer.layerNorm"
    const bad = dims(op, { dim }) ?? C.checkOptions(op, options, { eps: C.nonNegative, affine: C.boolean, dtype: dtypeCheck, name: C.string })
    if (bad) return yield* Effect.fail(bad)
    const dtype = options.dtype ?? "float32"
    const eps = options.eps ?? 1e-5
    const name = options.name ?? "layerNorm"
    const affine = options.affine ?? true
    const scale = affine ? yield* TrainVar.make(Tensor.ones([dim], { dtype }), { name: `${name}.scale` }) : undefined
    const bias = affine ? yield* TrainVar.make(Tensor.zeros([dim], { dtype }), { name: `${name}.bias` }) : undefined
    const apply = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        yield* lastAxis(op, x, dim)
        const centred = Tensor.sub(x, Tensor.mean(x, { axis: -1, keepdims: true }))
        const variance = Tensor.mean(Tensor.square(centred), { axis: -1, keepdims: true })
        const normed = Tensor.div(centred, Tensor.sqrt(Tensor.add(variance, eps)))
        if (scale === undefined || bias === undefined) return normed
        return Tensor.add(Tensor.mul(normed, yield* Variable.get(scale)), yield* Variable.get(bias))
      })
    return { params: scale === undefined || bias === undefined ? {} : { scale, bias }, apply }
  })

// ------------------------------------------------------------------ embedding

/**
 * Options of {@link embedding}.
 * @example `const o: Layer.EmbeddingOptions = { init: Init.normal(0.02) }`
 */
export interface EmbeddingOptions {
  /** The table's initializer (default N(0, 1), PyTorch's). */
  readonly init?: Init.Initializer | undefined
  /** float32 (default) or float64. */
  readonly dtype?: FloatDType | undefined
  /** A prefix for the Variables' names (default `"embedding"`). */
  readonly name?: string | undefined
}

/**
 * A lookup table: `apply(ids)` maps int32 ids of any shape to rows of the
 * table `[count, dim]`, giving `[...ids.shape, dim]` (`Tensor.take` along
 * axis 0). The gradient reaches exactly the rows looked up (a scatter-add).
 * Negative ids count from the end and ids out of range are clamped, as
 * `Tensor.take` (JAX's `mode="clip"`).
 * @example `const embed = yield* Layer.embedding(key, vocabulary, 64)`
 */
export const embedding = (
  key: Random.Key,
  count: number,
  dim: number,
  options: EmbeddingOptions = {}
): Effect.Effect<Layer<{ readonly table: Variable.Variable<Tensor.Tensor> }>, MakeError> =>
  Effect.gen(function* () {
    const op = "Layer.embedding"
    const bad = dims(op, { count, dim }) ?? C.checkOptions(op, options, { init: initCheck, dtype: dtypeCheck, name: C.string })
    if (bad) return yield* Effect.fail(bad)
    const dtype = options.dtype ?? "float32"
    const table = yield* TrainVar.make(yield* (options.init ?? Init.normal(1))(key, [count, dim], { dtype }), { name: `${options.name ?? "embedding"}.table` })
    const apply = (ids: Tensor.Tensor) =>
      Effect.gen(function* () {
        if (!Tensor.isTensor(ids) || ids.dtype !== "int32")
          return yield* Effect.fail(new DTypeError({ message: `${op}: ids must be an int32 tensor, got ${Tensor.isTensor(ids) ? `${ids.dtype}${Internal.fmt(ids.shape)}` : C.describeValue(ids)}` }))
        return Tensor.take(yield* Variable.get(table), ids, { axis: 0 }) // [...ids.shape, dim]
      })
    return { params: { table }, apply }
  })

// ------------------------------------------------------------------ dropout

/**
 * Dropout (inverted, as PyTorch's `nn.Dropout`): in training mode
 * (`Module.training`) each element is zeroed with probability `rate` and the
 * rest scaled by 1 / (1 − rate), the mask drawn from `key` (a `Random` key
 * Variable, advanced by every draw; inside `grad` the advance commits with
 * the call). Outside training mode it is the identity. `params` is `{}`;
 * `key` is kept in `state`.
 * @example `const drop = yield* Layer.dropout(key, 0.1)`
 */
export const dropout = (key: Random.Key, rate: number): Effect.Effect<Layer<{}> & { readonly state: { readonly key: Random.Key } }, OptionsError> =>
  Effect.gen(function* () {
    const op = "Layer.dropout"
    if (!Variable.isVariable(key)) return yield* Effect.fail(new OptionsError({ message: `${op}: key must be a Random key Variable, got ${C.describeValue(key)}` }))
    if (typeof rate !== "number" || !(rate >= 0 && rate < 1)) return yield* Effect.fail(new OptionsError({ message: `${op}: rate must be a number in [0, 1), got ${C.describeValue(rate)}` }))
    const apply = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        if (!(yield* Training) || rate === 0) return x
        const keep = yield* Random.bernoulli(key, 1 - rate, x.shape)
        return Tensor.where(keep, Tensor.div(x, 1 - rate), Tensor.zerosLike(x))
      })
    return { params: {}, state: { key }, apply }
  })

// ------------------------------------------------------------------ composition

/**
 * A parameterless layer from a pure function of a tensor (an activation).
 * @example `const relu = Layer.fn(Tensor.relu)`
 */
export const fn = (f: (x: Tensor.Tensor) => Tensor.Tensor): Layer<{}> => ({ params: {}, apply: (x) => Effect.sync(() => f(x)) })

/**
 * Layers applied one after another. `params` is the array of the layers'
 * params, so `Module.trainVars(seq.params)` keys them `"0.w"`, `"2.b"`...
 * @example `const mlp = yield* Layer.sequential(yield* Layer.linear(key, 2, 8), Layer.fn(Tensor.tanh), yield* Layer.linear(key, 8, 1))`
 */
export const sequential = <const Ls extends ReadonlyArray<Layer<any, Tensor.Tensor, Tensor.Tensor>>>(
  ...layers: Ls
): Effect.Effect<Layer<{ readonly [K in keyof Ls]: Ls[K]["params"] }> & { readonly layers: Ls }, OptionsError> =>
  Effect.suspend(() => {
    const bad = layers.findIndex((l) => typeof l !== "object" || l === null || typeof (l as { apply?: unknown }).apply !== "function")
    if (bad >= 0) return Effect.fail(new OptionsError({ message: `Layer.sequential: argument ${bad} is not a layer ({ params, apply }), got ${C.describeValue(layers[bad])}` }))
    const apply = (x: Tensor.Tensor): Effect.Effect<Tensor.Tensor, ApplyError> =>
      layers.reduce<Effect.Effect<Tensor.Tensor, ApplyError>>((acc, l) => Effect.flatMap(acc, (h) => l.apply(h)), Effect.succeed(x))
    return Effect.succeed({ params: layers.map((l) => l.params) as unknown as { readonly [K in keyof Ls]: Ls[K]["params"] }, layers, apply })
  })
