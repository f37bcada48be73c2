/**
 * Data movement kernels (broadcast, transpose, slice, pad, concat) as one
 * gather: each output element's coordinates select a source (a "piece") and
 * an index in it, a linear function of the coordinates. When the last axis
 * maps to a contiguous run (stride 1) or a repeated element (stride 0) of
 * the source, a fragment whose four elements lie in one row reads them with
 * one or two texel fetches instead of four.
 */
import { Internal } from "@diffect/core"
import type { Device, Handle } from "../device.js"

const { sizeOf, stridesOf } = Internal

type Shape = ReadonlyArray<number>

/** One source of output elements: where `cond` holds, `elemK(index)`. */
interface Piece {
  /** GLSL bool over coordinates c0..c{r-1}; absent means always. */
  readonly cond?: string
  readonly k: number
  /** GLSL int over the coordinates. */
  readonly index: string
  /** The source stride of the last output axis (0, 1, or another value that rules out the fast path). */
  readonly innerStride: number
}


/** `offset + Σ c_d * strides[d]` as GLSL (terms with zero stride dropped). */
const linear = (strides: ReadonlyArray<number>, offset = 0, shift: ReadonlyArray<number> = []): string => {
  const terms = strides.flatMap((s, d) => {
    if (s === 0) return []
    const c = shift[d] ? `(c${d} - ${shift[d]})` : `c${d}`
    return [s === 1 ? c : `${c} * ${s}`]
  })
  if (offset !== 0 || terms.length === 0) terms.push(String(offset))
  return terms.join(" + ")
}

const decompose = (shape: Shape): string => {
  const r = shape.length
  if (r === 0) return ""
  const lines = ["int r = o;"]
  for (let d = r - 1; d > 0; d--) lines.push(`int c${d} = r % ${shape[d]}; r /= ${shape[d]};`)
  lines.push("int c0 = r;")
  return lines.join(" ")
}

/** GLSL names of one element type: floats, or exact int32 (every input an int32 texture). */
const typesOf = (int: boolean) =>
  int
    ? { s: "int", v: "ivec4", elem: "ielem", texel: "itexel", zero: "0", vzero: "ivec4(0)", out: "outColorI" }
    : { s: "float", v: "vec4", elem: "elem", texel: "texel", zero: "0.0", vzero: "vec4(0.0)", out: "outColor" }

const gather = (device: Device, key: string, inputs: ReadonlyArray<Handle>, outShape: Shape, pieces: ReadonlyArray<Piece>, fastOk: boolean): Handle => {
  const n = sizeOf(outShape)
  const int = device.outInt && inputs.every((h) => h.int)
  const T = typesOf(int)
  return device.run(`gather:${int ? "i" : "f"}:${key}`, inputs, n, () => {
    const r = outShape.length
    const last = r === 0 ? 1 : outShape[r - 1]!
    const fast = fastOk && r > 0 && last >= 4 && pieces.every((p) => p.innerStride === 0 || p.innerStride === 1)
    const chain = (f: (p: Piece) => string, zero: string) =>
      pieces.map((p) => (p.cond === undefined ? `return ${f(p)};` : `if (${p.cond}) return ${f(p)};`)).join("\n  ") + `\n  return ${zero};`
    const read4 = (p: Piece): string => (p.innerStride === 0 ? `${T.v}(${T.elem}${p.k}(${p.index}))` : `read4_${p.k}(${p.index})`)
    const readers = fast
      ? inputs
          .map(
            (_, k) => `${T.v} read4_${k}(int s) {
  ${T.v} lo = ${T.texel}${k}(s >> 2);
  int sh = s & 3;
  if (sh == 0) return lo;
  ${T.v} hi = ${T.texel}${k}((s >> 2) + 1);
  if (sh == 1) return ${T.v}(lo.yzw, hi.x);
  if (sh == 2) return ${T.v}(lo.zw, hi.xy);
  return ${T.v}(lo.w, hi.xyz);
}`
          )
          .join("\n")
      : ""
    return `
${T.s} value(int o) {
  ${decompose(outShape)}
  ${chain((p) => `${T.elem}${p.k}(${p.index})`, T.zero)}
}
${readers}
${fast ? `${T.v} value4(int o) {\n  ${decompose(outShape)}\n  ${chain(read4, T.vzero)}\n}` : ""}
void main() {
  int o = outTexel() * 4;
  ${fast ? `if (o + 3 < ${n} && (o % ${last}) + 3 < ${last}) { ${T.out} = value4(o); return; }` : ""}
  ${T.v} v = ${T.vzero};
  if (o < ${n}) v.x = value(o);
  if (o + 1 < ${n}) v.y = value(o + 1);
  if (o + 2 < ${n}) v.z = value(o + 2);
  if (o + 3 < ${n}) v.w = value(o + 3);
  ${T.out} = v;
}`
  })
}

const keyOf = (...parts: ReadonlyArray<unknown>): string => JSON.stringify(parts)

export const broadcast = (device: Device, a: Handle, inShape: Shape, outShape: Shape, dims: ReadonlyArray<number>): Handle => {
  const inStrides = stridesOf(inShape)
  const strides = new Array<number>(outShape.length).fill(0)
  dims.forEach((d, i) => (strides[d] = inShape[i] === 1 ? 0 : inStrides[i]!))
  const piece = { k: 0, index: linear(strides), innerStride: strides[outShape.length - 1] ?? 0 }
  return gather(device, keyOf("b", inShape, outShape, dims), [a], outShape, [piece], true)
}

export const transpose = (device: Device, a: Handle, inShape: Shape, perm: ReadonlyArray<number>): Handle => {
  const inStrides = stridesOf(inShape)
  const strides = perm.map((p) => inStrides[p]!)
  const outShape = perm.map((p) => inShape[p]!)
  const piece = { k: 0, index: linear(strides), innerStride: strides[strides.length - 1] ?? 0 }
  return gather(device, keyOf("t", inShape, perm), [a], outShape, [piece], true)
}

export const slice = (device: Device, a: Handle, inShape: Shape, starts: ReadonlyArray<number>, stops: ReadonlyArray<number>): Handle => {
  const inStrides = stridesOf(inShape)
  const offset = starts.reduce((acc, s, i) => acc + s * inStrides[i]!, 0)
  const outShape = starts.map((s, i) => stops[i]! - s)
  const piece = { k: 0, index: linear(inStrides, offset), innerStride: inStrides[inShape.length - 1] ?? 0 }
  return gather(device, keyOf("s", inShape, starts, stops), [a], outShape, [piece], true)
}

export const pad = (device: Device, a: Handle, inShape: Shape, before: ReadonlyArray<number>, after: ReadonlyArray<number>): Handle => {
  const outShape = inShape.map((d, i) => d + before[i]! + after[i]!)
  const conds = inShape.flatMap((d, i) => (before[i] === 0 && after[i] === 0 ? [] : [`c${i} >= ${before[i]} && c${i} < ${before[i]! + d}`]))
  const r = inShape.length
  const piece: Piece = {
    ...(conds.length > 0 ? { cond: conds.join(" && ") } : {}),
    k: 0,
    index: linear(stridesOf(inShape), 0, before),
    innerStride: 1
  }
  const fastOk = r > 0 && before[r - 1] === 0 && after[r - 1] === 0
  return gather(device, keyOf("p", inShape, before, after), [a], outShape, [piece], fastOk)
}

/** The most inputs one concat draw binds (texture units are limited). */
const MAX_INPUTS = 8

export const concat = (
  device: Device,
  args: ReadonlyArray<{ readonly handle: Handle; readonly shape: Shape }>,
  axis: number,
  outShape: Shape
): Handle => {
  if (args.length > MAX_INPUTS) {
    // concatenate the first group, then the rest after it
    const head = args.slice(0, MAX_INPUTS)
    const headShape = outShape.map((d, i) => (i === axis ? head.reduce((acc, a) => acc + a.shape[axis]!, 0) : d))
    const first = concat(device, head, axis, headShape)
    try {
      return concat(device, [{ handle: first, shape: headShape }, ...args.slice(MAX_INPUTS)], axis, outShape)
    } finally {
      device.dispose(first)
    }
  }
  const r = outShape.length
  let at = 0
  const pieces: Piece[] = []
  args.forEach(({ shape }, k) => {
    const len = shape[axis]!
    if (len > 0) {
      const shift = shape.map((_, i) => (i === axis ? at : 0))
      pieces.push({ cond: `c${axis} < ${at + len}`, k, index: linear(stridesOf(shape), 0, shift), innerStride: 1 })
    }
    at += len
  })
  return gather(device, keyOf("c", args.map((a) => a.shape), axis), args.map((a) => a.handle), outShape, pieces, axis !== r - 1)
}
