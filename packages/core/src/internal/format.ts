/**
 * How a tensor prints (`toString`, `toJSON`, Node's `util.inspect`): its
 * dtype, its shape, and its values when they are known without computing
 * anything (host data, or a buffer of a host-memory backend such as the
 * CPU's). Long axes are summarized NumPy's way: the first and last few
 * entries around an ellipsis. Never the graph's internals.
 */
import type { HostArray } from "../DType.js"
import type { Tensor } from "./tensor.js"

/** Backend fields printing may use (a structural view, to avoid an import cycle). */
interface HostReadable {
  readonly name?: string
  readonly hostBuffers?: boolean
  readonly download: (handle: unknown, aval: Tensor) => HostArray
}

/** Tensors of at most this many elements print in full. */
const fullUpTo = 12

/** Entries kept at each end of a summarized axis (fewer for more axes, so a print stays short). */
const edgeItems = (ndim: number): number => (ndim <= 2 ? 3 : ndim === 3 ? 2 : 1)

/** The marker that stands for the entries left out of a summarized axis. */
export const ellipsis = "..."

/** What is known about a tensor's value without evaluating anything. */
export type Known =
  | { readonly kind: "values"; readonly host: HostArray }
  | { readonly kind: "error"; readonly tag: string; readonly message: string }
  | { readonly kind: "traced" }
  | { readonly kind: "lazy" }
  | { readonly kind: "device"; readonly backend: string }

/** Reads what is known about `t` (never runs a kernel, never reads a GPU). */
export const known = (t: Tensor): Known => {
  if (t.op === "error") return { kind: "error", tag: t.error?._tag ?? "Error", message: t.error?.message ?? "" }
  if (t.op === "const") {
    if (t.host !== undefined) return { kind: "values", host: t.host }
    const buf = t.buf as { readonly backend: HostReadable; readonly handle: unknown } | undefined
    if (buf !== undefined && buf.backend.hostBuffers === true) {
      try {
        return { kind: "values", host: buf.backend.download(buf.handle, t) }
      } catch {
        // a backend that can no longer read: say where the values are
      }
    }
    return { kind: "device", backend: buf?.backend.name ?? "a device" }
  }
  return t.symbolic ? { kind: "traced" } : { kind: "lazy" }
}

/** One element as text: integers as they are, floats with at most 6 significant digits. */
const formatNumber = (x: number): string =>
  Number.isInteger(x) || !Number.isFinite(x) ? String(x) : String(Number(x.toPrecision(6)))

const elementAt = (t: Tensor, host: HostArray, i: number): string => {
  if (t.dtype === "bool") return host[i] ? "true" : "false"
  if (t.dtype === "complex64") {
    const re = host[2 * i]!
    const im = host[2 * i + 1]!
    return `${formatNumber(re)}${im < 0 || Object.is(im, -0) ? "-" : "+"}${formatNumber(Math.abs(im))}i`
  }
  return formatNumber(host[i]!)
}

/** The indices shown along an axis of length `n` (`-1` marks the ellipsis). */
const shownIndices = (n: number, summarize: boolean, edge: number): ReadonlyArray<number> =>
  summarize && n > 2 * edge
    ? [...Array.from({ length: edge }, (_, i) => i), -1, ...Array.from({ length: edge }, (_, i) => n - edge + i)]
    : Array.from({ length: n }, (_, i) => i)

/** Nested values (JSON-friendly), with `"..."` where entries are left out. */
export type Summary = number | boolean | string | ReadonlyArray<Summary>

const walk = <A>(t: Tensor, leaf: (i: number) => A, node: (items: ReadonlyArray<A | typeof ellipsis>) => A): A => {
  const shape = t.shape
  const summarize = t.size > fullUpTo
  const edge = edgeItems(shape.length)
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1))
  const go = (d: number, offset: number): A =>
    d === shape.length
      ? leaf(offset)
      : node(shownIndices(shape[d]!, summarize, edge).map((i) => (i < 0 ? ellipsis : go(d + 1, offset + i * strides[d]!))))
  return go(0, 0)
}

/** The values of `t` as nested arrays, summarized when large. */
export const summary = (t: Tensor, host: HostArray): Summary =>
  walk<Summary>(
    t,
    (i) =>
      t.dtype === "bool"
        ? host[i] === 1
        : t.dtype === "complex64"
          ? [host[2 * i]!, host[2 * i + 1]!]
          : host[i]!,
    (items) => items
  )

/** The values of `t` as text, `[[1, 2], [3, 4]]`, summarized when large. */
export const valuesText = (t: Tensor, host: HostArray): string =>
  walk<string>(t, (i) => elementAt(t, host, i), (items) => `[${items.join(", ")}]`)

const typeText = (t: Tensor): string => `${t.dtype}[${t.shape.join(", ")}]`

/** `Tensor(float32[2, 3])`: a tensor's type without its values, for error messages. */
export const tensorTypeText = (t: Tensor): string => `Tensor(${typeText(t)})`

/**
 * The one-line text of a tensor: `Tensor(float32[2, 2], [[1, 2], [3, 4]])`;
 * `lazy` for a value not computed yet (read it with `Tensor.toArray`),
 * `traced` for a value that depends on a transform's inputs, `on webgl` for
 * a value held by a GPU, or the error an invalid tensor carries.
 */
export const tensorText = (t: Tensor): string => {
  const k = known(t)
  switch (k.kind) {
    case "values":
      return `Tensor(${typeText(t)}, ${valuesText(t, k.host)})`
    case "error":
      return `Tensor(${k.tag}: ${k.message})`
    case "device":
      return `Tensor(${typeText(t)}, on ${k.backend})`
    default:
      return `Tensor(${typeText(t)}, ${k.kind})`
  }
}

/** The JSON view: `{ _id: "Tensor", dtype, shape, values }` (values summarized), or what is known instead. */
export const tensorJson = (t: Tensor): unknown => {
  const k = known(t)
  const head = { _id: "Tensor", dtype: t.dtype, shape: [...t.shape] }
  switch (k.kind) {
    case "values":
      return { ...head, values: summary(t, k.host) }
    case "error":
      return { _id: "Tensor", error: { _tag: k.tag, message: k.message } }
    case "device":
      return { ...head, values: `on ${k.backend}` }
    default:
      return { ...head, values: k.kind }
  }
}
