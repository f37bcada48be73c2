/**
 * Losses: pure functions of tensors giving the batch mean as a scalar.
 * Numerically stable (logits of ±1000 give finite losses and gradients) and
 * smooth where the math is, so `grad` of `grad` works through them. A shape
 * or dtype mistake does not throw: the result fails with `ShapeError` /
 * `DTypeError` when read, as every tensor op.
 *
 * @example
 * ```ts
 * import { Loss } from "@diffect/nn"
 * const loss = Loss.softmaxCrossEntropy(logits, labels) // logits [N, C], labels int32 [N]
 * ```
 * @module
 */
import { DTypeError, Internal, ShapeError, Tensor } from "@diffect/core"

const fmt = Internal.fmt

const fail = (error: ShapeError | DTypeError): Tensor.Tensor => Internal.errorTensor(error, "float32", [])

const isFloat = (t: Tensor.Tensor) => t.dtype === "float32" || t.dtype === "float64"

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.length === b.length && a.every((d, i) => d === b[i])

/** The first problem with the operands of a loss of two same-shaped tensors, as an error tensor. */
const checkPair = (op: string, x: unknown, y: unknown, names: readonly [string, string]): Tensor.Tensor | undefined => {
  if (!Tensor.isTensor(x)) return fail(new DTypeError({ message: `Loss.${op}: ${names[0]} must be a Tensor, got ${Internal.describeValue(x)}` }))
  if (!Tensor.isTensor(y)) return fail(new DTypeError({ message: `Loss.${op}: ${names[1]} must be a Tensor, got ${Internal.describeValue(y)}` }))
  if (x.op === "error") return x
  if (y.op === "error") return y
  if (!isFloat(x)) return fail(new DTypeError({ message: `Loss.${op}: ${names[0]} must be float32 or float64, got ${x.dtype}${fmt(x.shape)}` }))
  if (!sameShape(x.shape, y.shape))
    return fail(new ShapeError({ message: `Loss.${op}: ${names[0]} and ${names[1]} must have the same shape, got ${x.dtype}${fmt(x.shape)} and ${y.dtype}${fmt(y.shape)}` }))
  return undefined
}

/** softplus(z) = log(1 + eᶻ) = logsumexp(0, z): stable at any |z| and smooth to every order. */
const softplus = (z: Tensor.Tensor): Tensor.Tensor =>
  Tensor.logsumexp(Tensor.concat([Tensor.expandDims(Tensor.zerosLike(z), 0), Tensor.expandDims(z, 0)]), { axis: 0 })

/**
 * Options of {@link softmaxCrossEntropy}.
 * @example `const o: Loss.CrossEntropyOptions = { axis: 1 }`
 */
export interface CrossEntropyOptions {
  /** The class axis of the logits (default -1, the last). */
  readonly axis?: number | undefined
}

/**
 * Softmax cross-entropy, the mean over every position of −Σ_c y_c log
 * softmax(logits)_c. `labels` are int32 class indices with the logits' shape
 * without the class axis (a label outside [0, C) selects no class and
 * contributes 0), or probabilities with the logits' shape. As PyTorch's
 * `F.cross_entropy` (mean reduction) and optax's
 * `softmax_cross_entropy(_with_integer_labels)`.
 * @example `Loss.softmaxCrossEntropy(Tensor.make([[2, 0, -1]]), Tensor.make([0], { dtype: "int32" }))`
 */
export const softmaxCrossEntropy = (logits: Tensor.Tensor, labels: Tensor.Tensor, options: CrossEntropyOptions = {}): Tensor.Tensor => {
  const op = "Loss.softmaxCrossEntropy"
  if (!Tensor.isTensor(logits)) return fail(new DTypeError({ message: `${op}: logits must be a Tensor, got ${Internal.describeValue(logits)}` }))
  if (!Tensor.isTensor(labels)) return fail(new DTypeError({ message: `${op}: labels must be a Tensor, got ${Internal.describeValue(labels)}` }))
  if (logits.op === "error") return logits
  if (labels.op === "error") return labels
  if (!isFloat(logits)) return fail(new DTypeError({ message: `${op}: logits must be float32 or float64, got ${logits.dtype}${fmt(logits.shape)}` }))
  const rank = logits.shape.length
  const axis0 = options.axis ?? -1
  if (!Number.isInteger(axis0) || axis0 < -rank || axis0 >= rank)
    return fail(new ShapeError({ message: `${op}: axis ${String(axis0)} is out of range for logits of shape ${fmt(logits.shape)}` }))
  const axis = axis0 < 0 ? axis0 + rank : axis0
  const logp = Tensor.logSoftmax(logits, { axis })
  let target: Tensor.Tensor
  if (labels.dtype === "int32") {
    const expected = logits.shape.filter((_, i) => i !== axis)
    if (!sameShape(labels.shape, expected))
      return fail(new ShapeError({ message: `${op}: int32 labels must have shape ${fmt(expected)} (the logits' ${fmt(logits.shape)} without axis ${axis}), got ${fmt(labels.shape)}` }))
    const classes = logits.shape[axis]!
    const iota = Tensor.reshape(Tensor.arange(0, classes, 1, { dtype: "int32" }), logits.shape.map((d, i) => (i === axis ? d : 1)))
    target = Tensor.cast(Tensor.equal(Tensor.expandDims(labels, axis), iota), logits.dtype) // one-hot
  } else if (isFloat(labels)) {
    if (!sameShape(labels.shape, logits.shape))
      return fail(new ShapeError({ message: `${op}: probability labels must have the logits' shape ${fmt(logits.shape)}, got ${labels.dtype}${fmt(labels.shape)}` }))
    target = labels.dtype === logits.dtype ? labels : Tensor.cast(labels, logits.dtype)
  } else return fail(new DTypeError({ message: `${op}: labels must be int32 class indices or float probabilities, got ${labels.dtype}${fmt(labels.shape)}` }))
  return Tensor.mean(Tensor.neg(Tensor.sum(Tensor.mul(target, logp), { axis })))
}

/**
 * Binary cross-entropy on logits, the mean of softplus(z) − t·z (=
 * −t log σ(z) − (1−t) log(1−σ(z)), computed stably), as PyTorch's
 * `F.binary_cross_entropy_with_logits`. `targets` (in [0, 1], any dtype)
 * have the logits' shape.
 * @example `Loss.sigmoidBinaryCrossEntropy(Tensor.make([3, -2]), Tensor.make([1, 0]))`
 */
export const sigmoidBinaryCrossEntropy = (logits: Tensor.Tensor, targets: Tensor.Tensor): Tensor.Tensor => {
  const bad = checkPair("sigmoidBinaryCrossEntropy", logits, targets, ["logits", "targets"])
  if (bad) return bad
  const t = targets.dtype === logits.dtype ? targets : Tensor.cast(targets, logits.dtype)
  return Tensor.mean(Tensor.sub(softplus(logits), Tensor.mul(t, logits)))
}

/**
 * Mean squared error, mean((pred − target)²). The shapes must be equal (no
 * broadcasting: a [N, 1] against a [N] is a `ShapeError`, not an [N, N]).
 * @example `Loss.mse(Tensor.make([1, 2]), Tensor.make([1, 0])) // 2`
 */
export const mse = (pred: Tensor.Tensor, target: Tensor.Tensor): Tensor.Tensor => {
  const bad = checkPair("mse", pred, target, ["pred", "target"])
  if (bad) return bad
  return Tensor.mean(Tensor.square(Tensor.sub(pred, target)))
}

/**
 * Options of {@link huber}.
 * @example `const o: Loss.HuberOptions = { delta: 0.5 }`
 */
export interface HuberOptions {
  /** Where the loss turns from quadratic to linear (default 1, > 0). */
  readonly delta?: number | undefined
}

/**
 * The Huber loss, as PyTorch's `F.huber_loss`: the mean of ½d² where |d| ≤ δ
 * and δ(|d| − ½δ) elsewhere, d = pred − target (written ½a² + δ(|d| − a)
 * with a = min(|d|, δ), whose gradient is continuous).
 * @example `Loss.huber(pred, target, { delta: 1 })`
 */
export const huber = (pred: Tensor.Tensor, target: Tensor.Tensor, options: HuberOptions = {}): Tensor.Tensor => {
  const bad = checkPair("huber", pred, target, ["pred", "target"])
  if (bad) return bad
  const delta = options.delta ?? 1
  if (typeof delta !== "number" || !(delta > 0) || !Number.isFinite(delta))
    return fail(new ShapeError({ message: `Loss.huber: delta must be a positive number, got ${Internal.describeValue(delta)}` }))
  const d = Tensor.abs(Tensor.sub(pred, target))
  const a = Tensor.minimum(d, delta)
  return Tensor.mean(Tensor.add(Tensor.mul(Tensor.square(a), 0.5), Tensor.mul(Tensor.sub(d, a), delta)))
}
