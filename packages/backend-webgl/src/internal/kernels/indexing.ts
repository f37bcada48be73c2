/**
 * Indexing, sorting and scanning kernels: gather and scatter-add along one
 * axis (with leading batch axes), the stable argsort of the last axis, and
 * the cumulative sum. Indices are read as floats (exact below 2²⁴),
 * normalized (negative from the end) and clamped to the axis, as on the CPU.
 * Scatter-add, argsort and cumsum loop over the axis in each fragment:
 * O(size · axis) work, meant for the moderate axes of models.
 */
import { Internal } from "@diffect/core"
import type { Device, Handle } from "../device.js"
import { mainOfValue, specials } from "../glsl.js"

/** `mainOfValue` for an `int value(int e)`, written exactly to an int32 output. */
const mainOfIntValue = (size: number): string => `void main() {
  int e = outTexel() * 4;
  ivec4 v = ivec4(0);
  if (e < ${size}) v.x = value(e);
  if (e + 1 < ${size}) v.y = value(e + 1);
  if (e + 2 < ${size}) v.z = value(e + 2);
  if (e + 3 < ${size}) v.w = value(e + 3);
  outColorI = v;
}`

/** Element access of one type: exact int32 when every value input is an int32 texture and the output is int32. */
const kind = (device: Device, values: ReadonlyArray<Handle>) => {
  const int = device.outInt && values.every((h) => h.int)
  return int
    ? { int, t: "int", e: "ielem", zero: "0", main: mainOfIntValue, tag: "i" }
    : { int, t: "float", e: "elem", zero: "0.0", main: mainOfValue, tag: "f" }
}

const { sizeOf } = Internal

type Shape = ReadonlyArray<number>

const extents = (xShape: Shape, idxShape: Shape, axis: number, batchDims: number) => ({
  ps: sizeOf(xShape.slice(batchDims, axis)),
  n: xShape[axis]!,
  qs: sizeOf(xShape.slice(axis + 1)),
  js: sizeOf(idxShape.slice(batchDims))
})

const clampFn = (n: number) => `int clampIndex(float f) {
  int k = int(f);
  if (k < 0) k += ${n};
  return clamp(k, 0, ${n - 1});
}`

export const gather = (device: Device, x: Handle, idx: Handle, xShape: Shape, idxShape: Shape, axis: number, batchDims: number, outSize: number): Handle => {
  const { ps, n, qs, js } = extents(xShape, idxShape, axis, batchDims)
  const K = kind(device, [x])
  return device.run(`gather1:${K.tag}:${n}:${ps}:${qs}:${js}:${outSize}`, [x, idx], outSize, () => `${clampFn(n)}
${K.t} value(int o) {
  int q = o % ${qs}; int t = o / ${qs}; int j = t % ${js}; int bp = t / ${js}; int b = bp / ${ps};
  int k = clampIndex(elem1(b * ${js} + j));
  return ${K.e}0((bp * ${n} + k) * ${qs} + q);
}
${K.main(outSize)}`)
}

export const scatterAdd = (device: Device, x: Handle, idx: Handle, upd: Handle, xShape: Shape, idxShape: Shape, axis: number, batchDims: number): Handle => {
  const { ps, n, qs, js } = extents(xShape, idxShape, axis, batchDims)
  const size = sizeOf(xShape)
  const K = kind(device, [x, upd])
  return device.run(`scatterAdd:${K.tag}:${n}:${ps}:${qs}:${js}:${size}`, [x, idx, upd], size, () => `${clampFn(n)}
${K.t} value(int o) {
  int q = o % ${qs}; int t = o / ${qs}; int k = t % ${n}; int bp = t / ${n}; int b = bp / ${ps};
  ${K.t} acc = ${K.e}0(o);
  for (int j = 0; j < ${js}; j++) {
    if (clampIndex(elem1(b * ${js} + j)) == k) acc += ${K.e}2((bp * ${js} + j) * ${qs} + q);
  }
  return acc;
}
${K.main(size)}`)
}

/** Two passes: each element's rank in its row, then the position of each rank. */
export const argsort = (device: Device, x: Handle, shape: Shape, descending: boolean): Handle => {
  const m = shape[shape.length - 1]!
  const size = sizeOf(shape)
  // whether v (at j) comes before c (at i)
  const before = descending
    ? "isnan(v) ? (!isnan(c) || j < i) : (!isnan(c) && (v > c || (v == c && j < i)))"
    : "isnan(c) ? (!isnan(v) || j < i) : (!isnan(v) && (v < c || (v == c && j < i)))"
  const ik = x.int
  const nan = ik ? "bool isnanI(int v) { return false; }\n#define isnan isnanI" : ""
  const rank = device.run(`rank:${ik ? "i" : "f"}:${m}:${size}:${descending}`, [x], size, () => `${specials}${nan}
float value(int e) {
  int i = e % ${m}; int base = e - i;
  ${ik ? "int" : "float"} c = ${ik ? "ielem" : "elem"}0(e);
  int r = 0;
  for (int j = 0; j < ${m}; j++) {
    ${ik ? "int" : "float"} v = ${ik ? "ielem" : "elem"}0(base + j);
    if (${before}) r++;
  }
  return float(r);
}
${mainOfValue(size)}`)
  try {
    return device.run(`unrank:${m}:${size}`, [rank], size, () => `
float value(int e) {
  int p = e % ${m}; int base = e - p;
  int found = 0;
  for (int j = 0; j < ${m}; j++) {
    if (int(elem0(base + j)) == p) found = j;
  }
  return float(found);
}
${mainOfValue(size)}`)
  } finally {
    device.dispose(rank)
  }
}

export const cumsum = (device: Device, x: Handle, shape: Shape, axis: number, reverse: boolean): Handle => {
  const n = shape[axis]!
  const qs = sizeOf(shape.slice(axis + 1))
  const size = sizeOf(shape)
  const K = kind(device, [x])
  return device.run(`cumsum:${K.tag}:${n}:${qs}:${size}:${reverse}`, [x], size, () => `
${K.t} value(int o) {
  int q = o % ${qs}; int t = o / ${qs}; int k = t % ${n}; int base = (t - k) * ${qs} + q;
  ${K.t} acc = ${K.zero};
  ${reverse ? `for (int j = ${n - 1}; j >= k; j--)` : "for (int j = 0; j <= k; j++)"} acc += ${K.e}0(base + j * ${qs});
  return acc;
}
${K.main(size)}`)
}
