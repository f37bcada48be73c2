/**
 * Shape and dtype rule of the `conv` primitive (kept apart from its
 * derivative rules: `bind` needs this, and those need `bind`).
 *
 * `conv` is `lax.conv_general_dilated` in the PyTorch layout: x `[N, C,
 * ...spatial]`, w `[O, C / groups, ...kernel]`, output `[N, O, ...out]`,
 * with per spatial axis a stride, explicit (possibly negative) padding
 * `[lo, hi]`, an input dilation (`lhsDilation`: zeros between input
 * elements, what transposed convolutions need) and a kernel dilation
 * (`rhsDilation`). out = ⌊(dil(in, lhs) + lo + hi − dil(k, rhs)) / stride⌋ + 1
 * with dil(n, d) = (n − 1)·d + 1.
 */
import { isInexact } from "../../DType.js"
import { DTypeError, ShapeError, type TensorError } from "../../Errors.js"
import type { Aval } from "../bind.js"
import type { PrimParams } from "../primitives.js"
import { fmt } from "../shape.js"

/** (n − 1)·d + 1, and 0 for an empty axis. */
export const dilate = (n: number, d: number): number => (n === 0 ? 0 : (n - 1) * d + 1)

const positiveInts = (xs: ReadonlyArray<number>, n: number) => xs.length === n && xs.every((x) => Number.isInteger(x) && x >= 1)

/** The output spatial sizes, or the error that forbids the convolution. */
export const convOutSpatial = (
  op: string,
  x: Aval,
  w: Aval,
  { strides, padding, lhsDilation, rhsDilation, groups }: PrimParams["conv"]
): ReadonlyArray<number> | TensorError => {
  const what = `x ${x.dtype} ${fmt(x.shape)} and kernel ${w.dtype} ${fmt(w.shape)}`
  if (x.shape.length < 3 || x.shape.length > 5 || w.shape.length !== x.shape.length)
    return new ShapeError({ message: `${op}: expected x [N, C, ...spatial] and kernel [O, C / groups, ...kernel] with 1 to 3 spatial axes, got ${what}` })
  const sd = x.shape.length - 2
  if (!positiveInts(strides, sd) || !positiveInts(lhsDilation, sd) || !positiveInts(rhsDilation, sd) || padding.length !== sd || padding.some((p) => p.length !== 2 || !p.every(Number.isInteger)))
    return new ShapeError({ message: `${op}: strides, dilations and padding need one entry per spatial axis (${sd}) for ${what}` })
  if (!Number.isInteger(groups) || groups < 1) return new ShapeError({ message: `${op}: groups must be a positive integer, got ${groups}` })
  const c = x.shape[1]!, o = w.shape[0]!
  if (c !== w.shape[1]! * groups)
    return new ShapeError({ message: `${op}: x has ${c} channels but the kernel expects ${w.shape[1]! * groups} (${w.shape[1]} per group × ${groups} groups): ${what}` })
  if (o % groups !== 0) return new ShapeError({ message: `${op}: the kernel's ${o} output channels do not split into ${groups} groups: ${what}` })
  const out: number[] = []
  for (let d = 0; d < sd; d++) {
    const padded = dilate(x.shape[d + 2]!, lhsDilation[d]!) + padding[d]![0] + padding[d]![1]
    const k = dilate(w.shape[d + 2]!, rhsDilation[d]!)
    if (padded < k)
      return new ShapeError({
        message: `${op}: the kernel (${k} with dilation) is larger than the padded input (${padded}) along spatial axis ${d}: ${what}, padding [${padding.map((p) => `[${p.join(", ")}]`).join(", ")}]`
      })
    out.push(Math.floor((padded - k) / strides[d]!) + 1)
  }
  return out
}

export const convAbstract = ([x, w]: ReadonlyArray<Aval>, params: PrimParams["conv"]): Aval | TensorError => {
  if (x!.dtype !== w!.dtype) return new DTypeError({ message: `conv: dtypes differ: x ${x!.dtype}, kernel ${w!.dtype}` })
  if (!isInexact(x!.dtype) || x!.dtype === "complex64") return new DTypeError({ message: `conv: expected float32 or float64 operands, got ${x!.dtype}` })
  const out = convOutSpatial("conv", x!, w!, params)
  if (!Array.isArray(out)) return out as TensorError
  return { shape: [x!.shape[0]!, w!.shape[0]!, ...out], dtype: x!.dtype }
}
