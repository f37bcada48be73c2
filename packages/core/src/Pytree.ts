/**
 * Pytrees: tensors nested in arrays and plain objects. Transforms flatten
 * their arguments and outputs to leaves and rebuild the structure after.
 *
 * @example
 * ```ts
 * import { Pytree, Tensor } from "@diffect/core"
 * const [leaves, def] = Pytree.flatten({ w: Tensor.ones([2]), b: [Tensor.zeros([1])] })
 * const same = Pytree.unflatten(def, leaves)
 * ```
 * @module
 */
import { isTensor, type Tensor } from "./internal/tensor.js"

/** A tensor, or arrays / plain objects of pytrees. */
export type Pytree = Tensor | ReadonlyArray<Pytree> | { readonly [k: string]: Pytree }

/** The shape of a pytree without its leaves. */
export type TreeDef =
  | { readonly kind: "leaf" }
  | { readonly kind: "array"; readonly items: ReadonlyArray<TreeDef> }
  | { readonly kind: "object"; readonly keys: ReadonlyArray<string>; readonly items: ReadonlyArray<TreeDef> }
  | { readonly kind: "none"; readonly value: unknown }

/** A pytree with its tensor leaves replaced by another type. */
export type MapLeaves<T, L> = T extends Tensor
  ? L
  : T extends ReadonlyArray<any>
    ? { -readonly [K in keyof T]: MapLeaves<T[K], L> }
    : T extends { readonly [k: string]: any }
      ? { -readonly [K in keyof T]: MapLeaves<T[K], L> }
      : T

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && (Object.getPrototypeOf(u) === Object.prototype || Object.getPrototypeOf(u) === null)

/**
 * Flattens a pytree to its tensor leaves (depth first, object keys sorted).
 * Values that are neither tensors, arrays nor plain objects are kept in the
 * structure as constants (`kind: "none"`).
 */
export const flatten = (tree: unknown): [Tensor[], TreeDef] => {
  const leaves: Tensor[] = []
  const go = (x: unknown): TreeDef => {
    if (isTensor(x)) {
      leaves.push(x)
      return { kind: "leaf" }
    }
    if (Array.isArray(x)) return { kind: "array", items: x.map(go) }
    if (isPlainObject(x)) {
      const keys = Object.keys(x).sort()
      return { kind: "object", keys, items: keys.map((k) => go(x[k])) }
    }
    return { kind: "none", value: x }
  }
  const def = go(tree)
  return [leaves, def]
}

/** Rebuilds a pytree from its structure and leaves. */
export const unflatten = <T = unknown>(def: TreeDef, leaves: ReadonlyArray<unknown>): T => {
  let i = 0
  const go = (d: TreeDef): unknown => {
    switch (d.kind) {
      case "leaf":
        return leaves[i++]
      case "array":
        return d.items.map(go)
      case "object": {
        const out: Record<string, unknown> = {}
        d.keys.forEach((k, j) => (out[k] = go(d.items[j]!)))
        return out
      }
      case "none":
        return d.value
    }
  }
  return go(def) as T
}

/** Whether two structures are equal (same nesting, keys and leaf count). */
export const defEqual = (a: TreeDef, b: TreeDef): boolean => {
  if (a.kind !== b.kind) return false
  if (a.kind === "leaf" || b.kind === "leaf") return true
  if (a.kind === "none" || b.kind === "none") return a.kind === b.kind && Object.is((a as { value: unknown }).value, (b as { value: unknown }).value)
  if (a.items.length !== b.items.length) return false
  if (a.kind === "object" && b.kind === "object" && a.keys.some((k, i) => k !== b.keys[i])) return false
  return a.items.every((d, i) => defEqual(d, b.items[i]!))
}

/** The number of leaves of a structure. */
export const leafCount = (def: TreeDef): number =>
  def.kind === "leaf" ? 1 : def.kind === "none" ? 0 : def.items.reduce((n, d) => n + leafCount(d), 0)

/** Maps every leaf. */
export const map = <L>(tree: unknown, f: (t: Tensor, i: number) => L): unknown => {
  const [leaves, def] = flatten(tree)
  return unflatten(def, leaves.map(f))
}

/** A readable description of a structure, for error messages. */
export const describe = (def: TreeDef): string => {
  switch (def.kind) {
    case "leaf":
      return "Tensor"
    case "none":
      return def.value === null ? "null" : typeof def.value
    case "array":
      return `[${def.items.map(describe).join(", ")}]`
    case "object":
      return `{ ${def.keys.map((k, i) => `${k}: ${describe(def.items[i]!)}`).join(", ")} }`
  }
}
