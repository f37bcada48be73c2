/**
 * Shapes and dtypes of the linear-algebra primitives (the packed outputs
 * are described in `primitives.ts`). Kept apart from their derivative
 * rules: `bind` needs these, and those need `bind`.
 */
import { type DType } from "../../DType.js"
import { DTypeError, LinalgError, ShapeError, type TensorError } from "../../Errors.js"
import type { Aval } from "../bind.js"
import type { PrimParams } from "../primitives.js"
import { fmt, shapeEq } from "../shape.js"

export type LinalgPrim = "cholesky" | "triangularSolve" | "lu" | "qr" | "eigh" | "svd"
type AbstractRule<P extends LinalgPrim> = (ins: ReadonlyArray<Aval>, params: PrimParams[P]) => Aval | TensorError

const isFloat = (d: DType) => d === "float32" || d === "float64"

/** A real floating matrix (or stack of them): the checks every linalg primitive makes. */
const matrixCheck = (op: string, a: Aval, square: boolean): TensorError | undefined => {
  if (!isFloat(a.dtype)) return new DTypeError({ message: `${op}: expected a float32 or float64 matrix, got ${a.dtype} ${fmt(a.shape)}` })
  if (a.shape.length < 2) return new ShapeError({ message: `${op}: expected a matrix (at least 2 axes), got ${a.dtype} ${fmt(a.shape)}` })
  const r = a.shape.length
  if (square && a.shape[r - 1] !== a.shape[r - 2])
    return new LinalgError({ message: `${op}: expected square matrices, got ${a.dtype} ${fmt(a.shape)}` })
  return undefined
}

const lead = (a: Aval) => a.shape.slice(0, -2)
const dims = (a: Aval): [number, number] => [a.shape[a.shape.length - 2]!, a.shape[a.shape.length - 1]!]

export const linalgAbstract: { readonly [P in LinalgPrim]: AbstractRule<P> } = {
  cholesky: ([a]) => matrixCheck("cholesky", a!, true) ?? a!,
  triangularSolve: ([a, b]) => {
    const e = matrixCheck("solveTriangular", a!, true) ?? matrixCheck("solveTriangular", b!, false)
    if (e) return e
    if (a!.dtype !== b!.dtype) return new DTypeError({ message: `solveTriangular: dtypes differ: ${a!.dtype} and ${b!.dtype}` })
    if (!shapeEq(lead(a!), lead(b!)) || dims(b!)[0] !== dims(a!)[0])
      return new ShapeError({ message: `solveTriangular: ${fmt(a!.shape)} does not fit a right-hand side of shape ${fmt(b!.shape)}` })
    return b!
  },
  lu: ([a]) => matrixCheck("lu", a!, true) ?? { shape: [...lead(a!), dims(a!)[0] + 2, dims(a!)[1]], dtype: a!.dtype },
  qr: ([a]) => {
    const [m, n] = dims(a!)
    return matrixCheck("qr", a!, false) ?? { shape: [...lead(a!), m + n, Math.min(m, n)], dtype: a!.dtype }
  },
  eigh: ([a]) => matrixCheck("eigh", a!, true) ?? { shape: [...lead(a!), dims(a!)[0] + 1, dims(a!)[1]], dtype: a!.dtype },
  svd: ([a]) => {
    const [m, n] = dims(a!)
    return matrixCheck("svd", a!, false) ?? { shape: [...lead(a!), m + 1 + n, Math.min(m, n)], dtype: a!.dtype }
  }
}

