/**
 * Derivative and batching rules of `conv` (see `abstract.ts`). conv is
 * bilinear, so forward mode is conv(dx, w) + conv(x, dw); its transposes
 * (reverse mode) are convolutions again, as in JAX's `lax/convolution.py`:
 * the input gradient convolves the cotangent with the flipped kernel
 * (input and output channels swapped within each group), dilated by the
 * strides; the kernel gradient convolves the input with the cotangent, the
 * batch axis playing the channels. Both use `conv` itself, so every order
 * of differentiation works.
 */
import { bind } from "../bind.js"
import * as O from "../ops.js"
import type { PrimParams } from "../primitives.js"
import type { BatchRule } from "../rules/batch.js"
import type { JvpRule } from "../rules/jvp.js"
import type { VjpRule } from "../rules/vjp.js"
import * as S from "../structural.js"
import type { Tensor } from "../tensor.js"
import { dilate } from "./abstract.js"

type P = PrimParams["conv"]
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** `x` reversed along `axis` (slices put back in reverse order). */
const flipAxis = (x: Tensor, axis: number): Tensor => {
  const n = x.shape[axis]!
  if (n <= 1) return x
  const parts = range(n).map((i) => {
    const j = n - 1 - i
    return S.slice(x, x.shape.map((_, a) => (a === axis ? j : 0)), x.shape.map((d, a) => (a === axis ? j + 1 : d)))
  })
  return S.concat(parts, axis)
}

/** The kernel of the input gradient: within each group, in and out channels swapped, spatially flipped. */
const transposeKernel = (w: Tensor, groups: number): Tensor => {
  const [o, cg, ...k] = w.shape as [number, number, ...number[]]
  const g = groups
  const swapped = S.reshape(
    S.transpose(S.reshape(w, [g, o / g, cg, ...k]), [0, 2, 1, ...k.map((_, i) => i + 3)]),
    [g * cg, o / g, ...k]
  )
  let out = swapped
  for (let d = 0; d < k.length; d++) out = flipAxis(out, d + 2)
  return out
}

/** x̄ = conv(ct, flip(wᵀ)) with the strides as input dilation (JAX's _conv_general_dilated_transpose_lhs). */
export const convInputGradient = (ct: Tensor, x: Tensor, w: Tensor, p: P): Tensor => {
  const sd = x.ndim - 2
  const padding = range(sd).map((d): readonly [number, number] => {
    const lhsDil = dilate(x.shape[d + 2]!, p.lhsDilation[d]!)
    const rhsDil = dilate(w.shape[d + 2]!, p.rhsDilation[d]!)
    const outDil = dilate(ct.shape[d + 2]!, p.strides[d]!)
    const before = rhsDil - p.padding[d]![0] - 1
    return [before, lhsDil + rhsDil - 1 - outDil - before]
  })
  return bind("conv", [ct, transposeKernel(w, p.groups)], {
    strides: p.lhsDilation,
    padding,
    lhsDilation: p.strides,
    rhsDilation: p.rhsDilation,
    groups: p.groups
  })
}

/** w̄ = conv(x with batch and channels swapped, ct) (JAX's _conv_general_dilated_transpose_rhs; groups become feature groups over N). */
export const convKernelGradient = (ct: Tensor, x: Tensor, w: Tensor, p: P): Tensor => {
  const sd = x.ndim - 2
  const [n, c, ...xs] = x.shape as [number, number, ...number[]]
  const g = p.groups
  const spatial = range(sd).map((i) => i + 3)
  // x [N, C, ...] → [C/g, g·N, ...]: batch = channel within the group, features = (group, n)
  const lhs = S.reshape(S.transpose(S.reshape(x, [n, g, c / g, ...xs]), [2, 1, 0, ...spatial]), [c / g, g * n, ...xs])
  // ct [N, O, ...] → [O, N, ...]: out features O, in features N per group
  const rhs = S.transpose(ct, [1, 0, ...range(sd).map((i) => i + 2)])
  const padding = range(sd).map((d): readonly [number, number] => {
    const lhsDil = dilate(x.shape[d + 2]!, p.lhsDilation[d]!)
    const rhsDil = dilate(w.shape[d + 2]!, p.rhsDilation[d]!)
    const outDil = dilate(ct.shape[d + 2]!, p.strides[d]!)
    const lo = p.padding[d]![0]
    return [lo, outDil - lhsDil + (rhsDil - lo - 1)]
  })
  const out = bind("conv", [lhs, rhs], { strides: p.rhsDilation, padding, lhsDilation: p.lhsDilation, rhsDilation: p.strides, groups: g })
  // [C/g, O, ...k] → [O, C/g, ...k]
  return S.transpose(out, [1, 0, ...range(sd).map((i) => i + 2)])
}

export const convJvp: JvpRule<"conv"> = ([tx, tw], [x, w], p) => {
  const a = tx == null ? null : bind("conv", [tx, w!], p)
  const b = tw == null ? null : bind("conv", [x!, tw], p)
  return a === null ? b : b === null ? a : O.add(a, b)
}

export const convVjp: VjpRule<"conv"> = (ct, [x, w], p) => [convInputGradient(ct, x!, w!, p), convKernelGradient(ct, x!, w!, p)]

/**
 * vmap: a batched input folds into N; a batched kernel folds into the output
 * channels; both batched become B·groups groups over channels (B, C).
 */
export const convBatch: BatchRule<"conv"> = ([a, b], p, nb) => {
  const x = a!.t, w = b!.t
  const sd = (a!.batched ? x.ndim - 1 : x.ndim) - 2
  const sp = range(sd)
  if (a!.batched && !b!.batched) {
    const [, n, ...rest] = x.shape as [number, number, ...number[]]
    const out = bind("conv", [S.reshape(x, [nb * n, ...rest]), w], p)
    return S.reshape(out, [nb, n, ...out.shape.slice(1)])
  }
  const g = p.groups
  if (!a!.batched && b!.batched) {
    const [, o, cg, ...k] = w.shape as [number, number, number, ...number[]]
    // [B, O, ...] → [g, B, O/g, ...] so that each group's output channels stay together
    const wg = S.reshape(S.transpose(S.reshape(w, [nb, g, o / g, cg, ...k]), [1, 0, 2, 3, ...sp.map((i) => i + 4)]), [g * nb * (o / g), cg, ...k])
    const out = bind("conv", [x, wg], p) // [N, g·B·O/g, ...]
    const [n, , ...os] = out.shape as [number, number, ...number[]]
    const r = S.reshape(out, [n, g, nb, o / g, ...os])
    return S.reshape(S.transpose(r, [2, 0, 1, 3, ...sp.map((i) => i + 4)]), [nb, n, o, ...os])
  }
  const [, n, c, ...xs] = x.shape as [number, number, number, ...number[]]
  const [, o, cg, ...k] = w.shape as [number, number, number, ...number[]]
  const xm = S.reshape(S.transpose(x, [1, 0, 2, ...sp.map((i) => i + 3)]), [n, nb * c, ...xs])
  const out = bind("conv", [xm, S.reshape(w, [nb * o, cg, ...k])], { ...p, groups: nb * g }) // [N, B·O, ...]
  const os = out.shape.slice(2)
  return S.transpose(S.reshape(out, [n, nb, o, ...os]), [1, 0, 2, ...sp.map((i) => i + 3)])
}
