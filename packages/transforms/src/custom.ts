/**
 * Custom differentiation rules for a function of tensors, as JAX's
 * `custom_jvp` / `custom_vjp`: the function computes the value, the rule
 * gives the derivative. Rules are written with tensor ops, so they can be
 * differentiated again (nesting works). Under `vmap` the function's own
 * graph is batched. Tensors the function closes over are treated as
 * constants by the rule (pass them as arguments to differentiate them).
 * @module
 */
import { DTypeError, Internal, ShapeError, Tensor } from "@diffect/core"

const fail = (e: DTypeError | ShapeError): Tensor.Tensor => Internal.errorTensor(e)

/** The arguments and `f` itself: what makes the custom node, or the error tensor that replaces it. */
const checkCall = (name: string, f: unknown, rule: unknown, ruleName: string, xs: ReadonlyArray<unknown>): Tensor.Tensor | undefined => {
  if (typeof f !== "function") return fail(new DTypeError({ message: `${name}: expected a function, got ${Internal.describeValue(f)}` }))
  if (typeof rule !== "function") return fail(new DTypeError({ message: `${name}: the ${ruleName} rule must be a function, got ${Internal.describeValue(rule)}` }))
  const i = xs.findIndex((x) => !Tensor.isTensor(x))
  if (i >= 0) return fail(new DTypeError({ message: `${name}: argument ${i} must be a Tensor, got ${Internal.describeValue(xs[i])}` }))
  return (xs as ReadonlyArray<Tensor.Tensor>).find((x) => x.op === "error")
}

/** `f`'s value must be a Tensor. */
const checkValue = (name: string, value: unknown): Tensor.Tensor | undefined =>
  Tensor.isTensor(value) ? (value.op === "error" ? value : undefined) : fail(new DTypeError({ message: `${name}: f must return a Tensor, got ${Internal.describeValue(value)}` }))

/** A rule's result must be shaped like `like` (the tangent of the output, or the cotangent of an argument). */
const checkLike = (name: string, what: string, t: unknown, like: Tensor.Tensor): Tensor.Tensor => {
  if (!Tensor.isTensor(t)) return fail(new DTypeError({ message: `${name}: ${what} must be a Tensor, got ${Internal.describeValue(t)}` }))
  if (t.op === "error") return t
  if (t.shape.length !== like.shape.length || t.shape.some((d, i) => d !== like.shape[i]))
    return fail(new ShapeError({ message: `${name}: ${what} has shape [${t.shape.join(", ")}], expected [${like.shape.join(", ")}]` }))
  if (t.dtype !== like.dtype) return fail(new DTypeError({ message: `${name}: ${what} has dtype ${t.dtype}, expected ${like.dtype}` }))
  return t
}

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
    const bad = checkCall("customJvp", f, jvp, "jvp", xs)
    if (bad) return bad
    const value = f(...xs)
    const badValue = checkValue("customJvp", value)
    if (badValue) return badValue
    const name = f.name ? `customJvp ${f.name}` : "customJvp"
    return Internal.customTensor(xs, value, {
      name,
      jvp: (p, t, out) => checkLike(name, "the jvp rule's result", jvp(p as unknown as Args, t as unknown as Args, out), out)
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
    const bad = checkCall("customVjp", f, vjp, "vjp", xs)
    if (bad) return bad
    const value = f(...xs)
    const badValue = checkValue("customVjp", value)
    if (badValue) return badValue
    const name = f.name ? `customVjp ${f.name}` : "customVjp"
    return Internal.customTensor(xs, value, {
      name,
      vjp: (p, out, ct) => {
        const cts: unknown = vjp(p as unknown as Args, out, ct)
        const where = name
        if (!Array.isArray(cts) || cts.length !== p.length) {
          const e = fail(new ShapeError({ message: `${where}: the vjp rule must return an array of ${p.length} cotangents (one per argument, null for none), got ${Internal.describeValue(cts)}` }))
          return p.map(() => e)
        }
        return cts.map((c, i) => (c === null || c === undefined ? null : checkLike(where, `the vjp rule's cotangent ${i}`, c, p[i]!)))
      }
    })
  }
