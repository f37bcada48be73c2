/**
 * Element types and the promotion rules used by every op.
 *
 * Promotion (documented contract):
 * - between tensors the result is the larger of `bool < int32 < float32 < float64`,
 *   and `complex64` absorbs every real dtype;
 * - a JavaScript number is *weak* (as in JAX): it takes the dtype of the tensor
 *   it meets, except that a non-integer number meeting `bool`/`int32` gives
 *   `float32`, and an integer meeting `bool` gives `int32`;
 * - ops that are only defined on inexact numbers (`exp log sin cos tanh sqrt
 *   div pow log1p expm1 mean softmax logsumexp sigmoid`) promote `bool`/`int32`
 *   inputs to `float32`;
 * - comparisons give `bool`; `sum` of `bool` gives `int32`.
 * @module
 */

/** The element types diffect knows. */
export type DType = "float32" | "float64" | "int32" | "bool" | "complex64"

/** All dtypes, in promotion order. */
export const dtypes: ReadonlyArray<DType> = ["bool", "int32", "float32", "float64", "complex64"]

/** The host storage of each dtype (complex64 is interleaved re, im pairs). */
export interface HostArrayOf {
  float32: Float32Array
  float64: Float64Array
  int32: Int32Array
  bool: Uint8Array
  complex64: Float32Array
}
/** Any host array diffect uses. */
export type HostArray = HostArrayOf[DType]

/** Whether a value is one of the dtype names. */
export const isDType = (u: unknown): u is DType =>
  u === "float32" || u === "float64" || u === "int32" || u === "bool" || u === "complex64"

/** float32, float64 or complex64. */
export const isInexact = (d: DType): boolean => d === "float32" || d === "float64" || d === "complex64"
/** float32 or float64. */
export const isFloat = (d: DType): boolean => d === "float32" || d === "float64"
/** int32 or bool. */
export const isIntegral = (d: DType): boolean => d === "int32" || d === "bool"
/** complex64. */
export const isComplex = (d: DType): boolean => d === "complex64"

const rank: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3, complex64: 4 }

/** The promoted dtype of two tensors. */
export const promote2 = (a: DType, b: DType): DType => (rank[a] >= rank[b] ? a : b)

/** The dtype a weak JavaScript number takes next to a tensor of dtype `d`. */
export const weakNumberDType = (x: number, d: DType): DType => {
  if (d === "bool") return Number.isInteger(x) ? "int32" : "float32"
  if (d === "int32") return Number.isInteger(x) ? "int32" : "float32"
  return d
}

/** The dtype of a JavaScript number on its own. */
export const defaultNumberDType: DType = "float32"

/** `d` itself if inexact, else float32. */
export const toInexact = (d: DType): DType => (isInexact(d) ? d : "float32")

/** The real dtype that goes with `d` (complex64 → float32). */
export const realOf = (d: DType): DType => (d === "complex64" ? "float32" : d)

/** Allocates zeroed host storage for `size` elements. */
export const allocHost = (dtype: DType, size: number): HostArray => {
  switch (dtype) {
    case "float32":
      return new Float32Array(size)
    case "float64":
      return new Float64Array(size)
    case "int32":
      return new Int32Array(size)
    case "bool":
      return new Uint8Array(size)
    case "complex64":
      return new Float32Array(2 * size)
  }
}

/** Copies plain numbers into host storage of a dtype (complex: interleaved input). */
export const hostFrom = (dtype: DType, values: ArrayLike<number>): HostArray => {
  const out = allocHost(dtype, dtype === "complex64" ? values.length / 2 : values.length)
  if (dtype === "bool") for (let i = 0; i < values.length; i++) out[i] = values[i] !== 0 ? 1 : 0
  else if (dtype === "int32") for (let i = 0; i < values.length; i++) out[i] = Math.trunc(values[i]!)
  else out.set(values as ArrayLike<number>)
  return out
}
