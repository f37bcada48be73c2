/**
 * Evaluation metrics, pure functions of tensors (a float32 scalar).
 *
 * @example
 * ```ts
 * const acc = yield* Tensor.item(Metrics.accuracy(yield* model.apply(xTest), yTest)) // 0.95
 * ```
 * @module
 */
import { DTypeError, Internal, ShapeError, Tensor } from "@diffect/core"

const fmt = Internal.fmt
const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.length === b.length && a.every((d, i) => d === b[i])

/** The index of the first maximum along the last axis. */
const firstArgmax = (x: Tensor.Tensor): Tensor.Tensor => Tensor.argmax(x, { axis: -1 })

/**
 * The fraction of correct predictions.
 * - `logits` `[..., C]` with int32 `labels` `[...]`: the first argmax of the
 *   logits against the label (multi-class);
 * - `logits` and `labels` of the same shape `[..., C]` (rank ≥ 2, C > 1):
 *   argmax against argmax (one-hot or probability labels);
 * - otherwise the same shape (`[N]`, `[N, 1]`): binary, logit > 0 against
 *   label > 0.5.
 * Other shapes give a tensor that fails with `ShapeError` when read.
 * @example `Metrics.accuracy(Tensor.make([[2, 1], [0, 3]]), Tensor.make([0, 0], { dtype: "int32" })) // 0.5`
 */
export const accuracy = (logits: Tensor.Tensor, labels: Tensor.Tensor): Tensor.Tensor => {
  if (!Tensor.isTensor(logits) || !Tensor.isTensor(labels))
    return Internal.errorTensor(new DTypeError({ message: `Metrics.accuracy: logits and labels must be Tensors, got ${Internal.describeValue(Tensor.isTensor(logits) ? labels : logits)}` }))
  if (logits.op === "error") return logits
  if (labels.op === "error") return labels
  const frac = (correct: Tensor.Tensor) => Tensor.mean(Tensor.cast(correct, "float32"))
  const rank = logits.shape.length
  if (labels.dtype === "int32" && rank >= 1 && sameShape(labels.shape, logits.shape.slice(0, -1)))
    return frac(Tensor.equal(firstArgmax(logits), labels))
  if (!sameShape(labels.shape, logits.shape))
    return Internal.errorTensor(
      new ShapeError({ message: `Metrics.accuracy: expected int32 labels of shape ${fmt(logits.shape.slice(0, -1))} or labels of the logits' shape ${fmt(logits.shape)}, got ${labels.dtype}${fmt(labels.shape)}` })
    )
  if (rank >= 2 && logits.shape[rank - 1]! > 1) return frac(Tensor.equal(firstArgmax(logits), firstArgmax(Tensor.cast(labels, "float32"))))
  return frac(Tensor.equal(Tensor.greater(logits, 0), Tensor.greater(Tensor.cast(labels, "float32"), 0.5)))
}
