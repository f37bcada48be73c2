/**
 * One-hot bases for jacobians: the rows of an identity matrix of size `n`,
 * split into blocks shaped like a list of tensors, so that a single batched
 * pass (vmap over the basis) computes every row or column of a jacobian.
 */
import { DType, Internal, Tensor } from "@diffect/core"

export interface Block {
  readonly offset: number
  readonly size: number
}

/** Offsets of consecutive blocks of the given sizes. */
export const blocks = (sizes: ReadonlyArray<number>): { blocks: Block[]; total: number } => {
  let offset = 0
  const out = sizes.map((size) => {
    const b = { offset, size }
    offset += size
    return b
  })
  return { blocks: out, total: offset }
}

/** Rows `[0, n)` of the identity restricted to one block: shape `[n, ...shape]`. */
export const basisBlock = (n: number, block: Block, shape: ReadonlyArray<number>, dtype: DType.DType): Tensor.Tensor => {
  const host = DType.allocHost(dtype, n * block.size)
  const w = dtype === "complex64" ? 2 : 1
  for (let j = 0; j < block.size; j++) host[((block.offset + j) * block.size + j) * w] = 1
  return Internal.constTensor(host, [n, ...shape], dtype)
}

/** Rows `[offset, offset + size)` of a batched result `[n, ...rest]`, reshaped to `[...lead, ...rest]`. */
export const takeRows = (t: Tensor.Tensor, block: Block, lead: ReadonlyArray<number>): Tensor.Tensor => {
  const starts = t.shape.map((_, i) => (i === 0 ? block.offset : 0))
  const stops = t.shape.map((d, i) => (i === 0 ? block.offset + block.size : d))
  return Tensor.reshape(Tensor.slice(t, starts, stops), [...lead, ...t.shape.slice(1)])
}

/** Moves the first `k` axes of `t` to the end. */
export const moveLeadingToEnd = (t: Tensor.Tensor, k: number): Tensor.Tensor => {
  const r = t.ndim
  if (k === 0 || k === r) return t
  return Tensor.transpose(t, [...Array.from({ length: r - k }, (_, i) => i + k), ...Array.from({ length: k }, (_, i) => i)])
}
