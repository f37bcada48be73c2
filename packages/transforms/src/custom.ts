/**
 * Custom differentiation rules for a function of tensors, as JAX's
 * `custom_jvp` / `custom_vjp`: the function computes the value, the rule
 * gives the derivative. Rules are written with tensor ops, so they can be
 * differentiated again (nesting works). Under `vmap` the function's own
 * graph is batched. Tensors the function closes over are treated as
 * constants by the rule (pass them as arguments to differentiate them).
 * @module
 */
import { Internal, Tensor } from "@diffect/core"

/**
 * Gives `f` a forward-mode rule: `jvp(primals, tangents, out)` returns the
 * output tangent. Reverse mode goes through `f`'s own graph.
 * @example
 * ```ts
 * // log(1 + eˣ) with a stable derivative sigmoid(x)
 * const softplus = customJvp(
 *   (x: Tensor.Tensor) => Tensor.log1p(Tensor.exp(x)),
 *   ([x], [t]) => Tensor.mul(t, Tensor.sigmoid(x))
 * )
 * ```
 */
export const customJvp =
  <Args extends ReadonlyArray<Tensor.Tensor>>(
    f: (...xs: Args) => Tensor.Tensor,
    jvp: (primals: Args, tangents: Args, out: Tensor.Tensor) => Tensor.Tensor
  ) =>
  (...xs: Args): Tensor.Tensor => {
    const value = f(...xs)
    if (value.op === "error") return value
    return Internal.customTensor(xs, value, {
      name: f.name || "customJvp",
      jvp: (p, t, out) => jvp(p as unknown as Args, t as unknown as Args, out)
    })
  }

/**
 * Gives `f` a reverse-mode rule: `vjp(primals, out, cotangent)` returns one
 * cotangent per argument (`null` for none). Forward mode goes through `f`'s
 * own graph.
 * @example
 * ```ts
 * // gradient clipping in the backward pass
 * const clip = customVjp(
 *   (x: Tensor.Tensor) => x,
 *   (_p, _out, ct) => [Tensor.maximum(Tensor.minimum(ct, 1), -1)]
 * )
 * ```
 */
export const customVjp =
  <Args extends ReadonlyArray<Tensor.Tensor>>(
    f: (...xs: Args) => Tensor.Tensor,
    vjp: (primals: Args, out: Tensor.Tensor, cotangent: Tensor.Tensor) => ReadonlyArray<Tensor.Tensor | null>
  ) =>
  (...xs: Args): Tensor.Tensor => {
    const value = f(...xs)
    if (value.op === "error") return value
    return Internal.customTensor(xs, value, {
      name: f.name || "customVjp",
      vjp: (p, out, ct) => vjp(p as unknown as Args, out, ct)
    })
  }
