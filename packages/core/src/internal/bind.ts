/**
 * Abstract evaluation (output shape and dtype of each primitive, with the
 * checks that make a bad application an `error` node) and `bind`, the one
 * place where primitive application nodes are made.
 */
import { type DType, isComplex, isInexact } from "../DType.js"
import { DTypeError, ShapeError, type TensorError } from "../Errors.js"
import type { Prim, PrimParams } from "./primitives.js"
import { fmt, isPermutation, type Shape, shapeEq, sizeOf } from "./shape.js"
import { errorTensor, firstError, makeNode, type Tensor } from "./tensor.js"
import { linalgAbstract } from "./linalg/abstract.js"
import { convAbstract } from "./conv/abstract.js"

export interface Aval {
  readonly shape: Shape
  readonly dtype: DType
}

type AbstractRule<P extends Prim> = (ins: ReadonlyArray<Aval>, params: PrimParams[P]) => Aval | TensorError

const shapeErr = (message: string) => new ShapeError({ message })
const dtypeErr = (message: string) => new DTypeError({ message })

const same = (prim: string, ins: ReadonlyArray<Aval>): TensorError | undefined => {
  const [a, b] = ins as [Aval, Aval]
  if (!shapeEq(a.shape, b.shape)) return shapeErr(`${prim}: operand shapes differ: ${fmt(a.shape)} and ${fmt(b.shape)}`)
  if (a.dtype !== b.dtype) return dtypeErr(`${prim}: operand dtypes differ: ${a.dtype} and ${b.dtype}`)
  return undefined
}

const unary = (prim: string, needsInexact: boolean): AbstractRule<any> => (ins) => {
  const a = ins[0]!
  if (needsInexact && !isInexact(a.dtype)) return dtypeErr(`${prim}: expected a float or complex tensor, got ${a.dtype}`)
  if (a.dtype === "bool" && prim !== "sign") return dtypeErr(`${prim}: not defined for bool`)
  return a
}

const binary = (prim: string, needsInexact: boolean, realOnly: boolean): AbstractRule<any> => (ins) => {
  const e = same(prim, ins)
  if (e) return e
  const a = ins[0]!
  if (needsInexact && !isInexact(a.dtype)) return dtypeErr(`${prim}: expected float or complex operands, got ${a.dtype}`)
  if (realOnly && isComplex(a.dtype)) return dtypeErr(`${prim}: not defined for complex64`)
  return a
}

const compare = (prim: string): AbstractRule<any> => (ins) => {
  const e = same(prim, ins)
  if (e) return e
  if (prim !== "equal" && isComplex(ins[0]!.dtype)) return dtypeErr(`${prim}: complex numbers are not ordered`)
  return { shape: ins[0]!.shape, dtype: "bool" }
}

const realUnary = (prim: string): AbstractRule<any> => (ins) => {
  const a = ins[0]!
  if (!isInexact(a.dtype) || isComplex(a.dtype)) return dtypeErr(`${prim}: expected a float tensor, got ${a.dtype}`)
  return a
}

/** The output shape of gather: x.shape[:axis] + indices.shape[batchDims:] + x.shape[axis + 1:]. */
export const gatherShape = (x: Shape, idx: Shape, axis: number, batchDims: number): Shape => [
  ...x.slice(0, axis),
  ...idx.slice(batchDims),
  ...x.slice(axis + 1)
]

const indexCheck = (prim: string, x: Aval, idx: Aval, axis: number, batchDims: number): TensorError | undefined => {
  if (idx.dtype !== "int32") return dtypeErr(`${prim}: indices must be int32, got ${idx.dtype} (indexing ${x.dtype}${fmt(x.shape)})`)
  if (!Number.isInteger(batchDims) || batchDims < 0 || batchDims > idx.shape.length || !Number.isInteger(axis) || axis < batchDims || axis >= x.shape.length)
    return shapeErr(`${prim}: axis ${axis} (batch dims ${batchDims}) is out of range for ${fmt(x.shape)} indexed by ${fmt(idx.shape)}`)
  if (!shapeEq(x.shape.slice(0, batchDims), idx.shape.slice(0, batchDims)))
    return shapeErr(`${prim}: batch axes differ: ${fmt(x.shape)} and indices ${fmt(idx.shape)}`)
  if (x.shape[axis] === 0 && sizeOf(idx.shape) > 0) return shapeErr(`${prim}: cannot index the empty axis ${axis} of ${fmt(x.shape)}`)
  return undefined
}

const checkAxes = (prim: string, axes: ReadonlyArray<number>, ndim: number): TensorError | undefined => {
  for (let i = 0; i < axes.length; i++) {
    const a = axes[i]!
    if (!Number.isInteger(a) || a < 0 || a >= ndim || (i > 0 && a <= axes[i - 1]!))
      return shapeErr(`${prim}: axes [${axes.join(", ")}] are not sorted distinct axes of a rank-${ndim} tensor`)
  }
  return undefined
}

const reduce = (prim: string): AbstractRule<any> => (ins, { axes }) => {
  const a = ins[0]!
  const e = checkAxes(prim, axes, a.shape.length)
  if (e) return e
  if (prim === "reduceMax" && isComplex(a.dtype)) return dtypeErr(`max: complex numbers are not ordered`)
  return {
    shape: a.shape.filter((_, i) => !axes.includes(i)),
    dtype: prim === "sum" && a.dtype === "bool" ? "int32" : a.dtype
  }
}

export const abstractRules: { readonly [P in Prim]: AbstractRule<P> } = {
  neg: unary("neg", false),
  exp: unary("exp", true),
  log: unary("log", true),
  sin: unary("sin", true),
  cos: unary("cos", true),
  tanh: unary("tanh", true),
  sqrt: unary("sqrt", true),
  abs: (ins) => {
    const a = ins[0]!
    if (a.dtype === "bool") return dtypeErr("abs: not defined for bool")
    return { shape: a.shape, dtype: isComplex(a.dtype) ? "float32" : a.dtype }
  },
  sign: unary("sign", false),
  log1p: unary("log1p", true),
  expm1: unary("expm1", true),
  erf: realUnary("erf"),
  floor: realUnary("floor"),
  add: binary("add", false, false),
  sub: binary("sub", false, false),
  mul: binary("mul", false, false),
  div: binary("div", true, false),
  pow: binary("pow", true, false),
  max: binary("max", false, true),
  min: binary("min", false, true),
  atan2: binary("atan2", true, true),
  greater: compare("greater"),
  less: compare("less"),
  equal: compare("equal"),
  where: (ins) => {
    const [c, x, y] = ins as [Aval, Aval, Aval]
    if (c.dtype !== "bool") return dtypeErr(`where: condition must be bool, got ${c.dtype}`)
    if (!shapeEq(c.shape, x.shape) || !shapeEq(x.shape, y.shape))
      return shapeErr(`where: shapes differ: condition ${fmt(c.shape)}, x ${fmt(x.shape)}, y ${fmt(y.shape)}`)
    if (x.dtype !== y.dtype) return dtypeErr(`where: branch dtypes differ: ${x.dtype} and ${y.dtype}`)
    return x
  },
  sum: reduce("sum"),
  reduceMax: reduce("reduceMax"),
  reshape: (ins, { shape }) => {
    const a = ins[0]!
    if (shape.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(shape) !== sizeOf(a.shape))
      return shapeErr(`reshape: cannot reshape ${fmt(a.shape)} (size ${sizeOf(a.shape)}) to ${fmt(shape)}`)
    return { shape, dtype: a.dtype }
  },
  broadcast: (ins, { shape, dims }) => {
    const a = ins[0]!
    const ok =
      dims.length === a.shape.length &&
      dims.every((d, i) => Number.isInteger(d) && d >= 0 && d < shape.length && (i === 0 || d > dims[i - 1]!)) &&
      a.shape.every((s, i) => s === 1 || s === shape[dims[i]!])
    if (!ok) return shapeErr(`broadcast: cannot broadcast ${fmt(a.shape)} to ${fmt(shape)}`)
    return { shape, dtype: a.dtype }
  },
  transpose: (ins, { perm }) => {
    const a = ins[0]!
    if (!isPermutation(perm, a.shape.length))
      return shapeErr(`transpose: [${perm.join(", ")}] is not a permutation of the ${a.shape.length} axes of ${fmt(a.shape)}`)
    return { shape: perm.map((p) => a.shape[p]!), dtype: a.dtype }
  },
  slice: (ins, { starts, stops }) => {
    const a = ins[0]!
    const ok =
      starts.length === a.shape.length &&
      stops.length === a.shape.length &&
      a.shape.every((d, i) => Number.isInteger(starts[i]) && Number.isInteger(stops[i]) && 0 <= starts[i]! && starts[i]! <= stops[i]! && stops[i]! <= d)
    if (!ok) return shapeErr(`slice: starts [${starts.join(", ")}] and stops [${stops.join(", ")}] do not fit ${fmt(a.shape)}`)
    return { shape: starts.map((s, i) => stops[i]! - s), dtype: a.dtype }
  },
  pad: (ins, { before, after }) => {
    const a = ins[0]!
    if (before.length !== a.shape.length || after.length !== a.shape.length || [...before, ...after].some((p) => !Number.isInteger(p) || p < 0))
      return shapeErr(`pad: widths [${before.join(", ")}] / [${after.join(", ")}] do not fit ${fmt(a.shape)}`)
    return { shape: a.shape.map((d, i) => d + before[i]! + after[i]!), dtype: a.dtype }
  },
  concat: (ins, { axis }) => {
    const a = ins[0]
    if (a === undefined) return shapeErr("concat: needs at least one tensor")
    if (!Number.isInteger(axis) || axis < 0 || axis >= a.shape.length) return shapeErr(`concat: axis ${axis} is out of range for ${fmt(a.shape)}`)
    let n = 0
    for (const b of ins) {
      if (b.dtype !== a.dtype) return dtypeErr(`concat: dtypes differ: ${a.dtype} and ${b.dtype}`)
      if (b.shape.length !== a.shape.length || b.shape.some((d, i) => i !== axis && d !== a.shape[i]))
        return shapeErr(`concat: shapes ${ins.map((t) => fmt(t.shape)).join(", ")} differ outside axis ${axis}`)
      n += b.shape[axis]!
    }
    return { shape: a.shape.map((d, i) => (i === axis ? n : d)), dtype: a.dtype }
  },
  matmul: (ins) => {
    const [a, b] = ins as [Aval, Aval]
    const r = a.shape.length
    if (r < 2 || b.shape.length !== r || !shapeEq(a.shape.slice(0, r - 2), b.shape.slice(0, r - 2)) || a.shape[r - 1] !== b.shape[r - 2])
      return shapeErr(`matmul: inner dimensions differ: ${fmt(a.shape)} @ ${fmt(b.shape)}`)
    if (a.dtype !== b.dtype) return dtypeErr(`matmul: dtypes differ: ${a.dtype} and ${b.dtype}`)
    if (a.dtype === "bool") return dtypeErr("matmul: not defined for bool")
    // the result's shape is often an operand's (W·x): that array is shared rather than copied
    const n = b.shape[r - 1]!
    if (n === a.shape[r - 1]) return { shape: a.shape, dtype: a.dtype }
    if (a.shape[r - 2] === b.shape[r - 2]) return { shape: b.shape, dtype: a.dtype }
    // (an array of exactly r elements: a spread grows its backing store to 17 slots, 136 bytes more for every step of a long loop)
    const shape = a.shape.slice()
    shape[r - 1] = n
    return { shape, dtype: a.dtype }
  },
  cast: (ins, { dtype }) => ({ shape: ins[0]!.shape, dtype }),
  stopGradient: (ins) => ins[0]!,
  real: (ins) => ({ shape: ins[0]!.shape, dtype: ins[0]!.dtype === "complex64" ? "float32" : ins[0]!.dtype }),
  imag: (ins) => ({ shape: ins[0]!.shape, dtype: ins[0]!.dtype === "complex64" ? "float32" : ins[0]!.dtype }),
  complex: (ins) => {
    const e = same("complex", ins)
    if (e) return e
    if (ins[0]!.dtype !== "float32") return dtypeErr(`complex: expected float32 parts, got ${ins[0]!.dtype}`)
    return { shape: ins[0]!.shape, dtype: "complex64" }
  },
  conj: (ins) => ins[0]!,
  random: (ins, { kind, shape, dtype }) => {
    const k = ins[0]!
    if (k.dtype !== "int32" || k.shape.length === 0 || k.shape[k.shape.length - 1] !== 2)
      return dtypeErr(`random: expected an int32 key of shape [..., 2], got ${k.dtype}${fmt(k.shape)}`)
    const batch = k.shape.slice(0, -1)
    return kind === "hash" ? { shape: [...batch, 2], dtype: "int32" } : { shape: [...batch, ...shape], dtype }
  },
  gather: (ins, { axis, batchDims }) => {
    const [x, idx] = ins as [Aval, Aval]
    const e = indexCheck("gather", x, idx, axis, batchDims)
    if (e) return e
    return { shape: gatherShape(x.shape, idx.shape, axis, batchDims), dtype: x.dtype }
  },
  scatterAdd: (ins, { axis, batchDims }) => {
    const [x, idx, upd] = ins as [Aval, Aval, Aval]
    const e = indexCheck("scatterAdd", x, idx, axis, batchDims)
    if (e) return e
    const want = gatherShape(x.shape, idx.shape, axis, batchDims)
    if (!shapeEq(upd.shape, want))
      return shapeErr(`scatterAdd: updates of shape ${fmt(upd.shape)} do not fit ${fmt(x.shape)} indexed by ${fmt(idx.shape)} on axis ${axis} (expected ${fmt(want)})`)
    if (upd.dtype !== x.dtype) return dtypeErr(`scatterAdd: updates are ${upd.dtype}, the tensor is ${x.dtype}`)
    return x
  },
  argsort: (ins) => {
    const a = ins[0]!
    if (a.shape.length === 0) return shapeErr("argsort: needs at least one axis, got a scalar")
    if (isComplex(a.dtype) || a.dtype === "bool") return dtypeErr(`argsort: cannot sort ${a.dtype}`)
    return { shape: a.shape, dtype: "int32" }
  },
  cumsum: (ins, { axis }) => {
    const a = ins[0]!
    if (!Number.isInteger(axis) || axis < 0 || axis >= a.shape.length) return shapeErr(`cumsum: axis ${axis} is out of range for ${fmt(a.shape)}`)
    if (a.dtype === "bool") return dtypeErr("cumsum: not defined for bool")
    return a
  },
  ...linalgAbstract,
  conv: convAbstract
}

const isAval = (u: Aval | TensorError): u is Aval => "shape" in u && "dtype" in u && !("_tag" in u)

/** The output aval of a primitive application, or the error that forbids it. */
export const abstractEval = <P extends Prim>(prim: P, ins: ReadonlyArray<Aval>, params: PrimParams[P]): Aval | TensorError =>
  (abstractRules[prim] as AbstractRule<P>)(ins, params)

/**
 * Applies a primitive: checks shapes and dtypes and returns a new node, or an
 * `error` node (the first error of an input, or the one this application makes).
 */
export const bind = <P extends Prim>(prim: P, inputs: ReadonlyArray<Tensor>, params: PrimParams[P]): Tensor => {
  const err = firstError(inputs)
  if (err) return err
  const out = abstractEval(prim, inputs, params)
  if (!isAval(out)) return errorTensor(out, inputs[0]?.dtype)
  return makeNode(prim, inputs, isEmpty(params) ? (noParams as PrimParams[P]) : params, out.shape, out.dtype)
}

/** The params of every node that has none (an object per node costs memory in long graphs). */
const noParams = Object.freeze({})

const isEmpty = (p: unknown): boolean => {
  if (p === noParams) return false
  for (const _ in p as object) return false
  return true
}
