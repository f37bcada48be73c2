/**
 * Reductions (sum, reduceMax) over sorted axes.
 *
 * When the reduced axes form one contiguous block, the input is viewed as
 * `[outer, M, inner]` and reduced without moving data; otherwise the reduced
 * axes are first transposed to the end. Each pass folds runs of at most
 * `CHUNK` elements of the middle axis, giving `[outer, ceil(M / CHUNK),
 * inner]`; passes repeat until the middle axis is 1, so no fragment loops
 * over more than `CHUNK` elements and a long sum is added as a tree (better
 * rounding than one long loop). Reads are vectorised: along the run when
 * `inner` is 1, across four outputs when `inner` is a multiple of 4.
 */
import type { Device, Handle } from "../device.js"
import { mainOfValue, specials } from "../glsl.js"
import { transpose } from "./gather.js"

export type ReduceKind = "sum" | "max"

const CHUNK = 256

const init = { sum: "0.0", max: "-INF" }
// max propagates NaN, as the CPU backend
const combine = { sum: (a: string, b: string) => `${a} + ${b}`, max: (a: string, b: string) => `mx(${a}, ${b})` }
const helpers = `${specials}
float mx(float a, float b) { return (b > a || isnan(b)) ? b : a; }
vec4 mx4(vec4 a, vec4 b) { return mix(mix(a, b, greaterThan(b, a)), b, isnan(b)); }
`

/** One pass: `[outer, m, inner]` → `[outer, ceil(m / CHUNK), inner]`. */
const pass = (device: Device, kind: ReduceKind, a: Handle, outer: number, m: number, inner: number): Handle => {
  const q = Math.max(1, Math.ceil(m / CHUNK))
  const n = outer * q * inner
  const R = Math.max(1, Math.min(CHUNK, m))
  return device.run(`reduce:${kind}:${outer}:${m}:${inner}`, [a], n, () => {
    const comb = combine[kind]
    // element e = (o, c, i): folds r in [c*R, min(m, c*R + R)) of in[(o*m + r)*inner + i]
    const head = `int i = e % ${inner}; int oc = e / ${inner}; int c = oc % ${q}; int o = oc / ${q};
  int r0 = c * ${R}; int r1 = min(${m}, r0 + ${R});`
    if (inner === 1) {
      // a contiguous run [s, end): walk its texels
      return `${helpers}
float value(int e) {
  ${head}
  int s = o * ${m} + r0; int end = o * ${m} + r1;
  float acc = ${init[kind]};
  for (int t = s >> 2; t < (end + 3) >> 2; t++) {
    vec4 v = texel0(t);
    int b = t * 4;
    if (b >= s && b + 4 <= end) {
      ${kind === "sum" ? "acc += (v.x + v.y) + (v.z + v.w);" : "acc = mx(mx(acc, v.x), mx(mx(v.y, v.z), v.w));"}
    } else {
      for (int k = 0; k < 4; k++) if (b + k >= s && b + k < end) acc = ${comb("acc", "v[k]")};
    }
  }
  return acc;
}
${mainOfValue(n)}`
    }
    if (inner % 4 === 0) {
      // four consecutive outputs share (o, c): one texel per step
      return `${helpers}
void main() {
  int e = outTexel() * 4;
  if (e >= ${n}) { outColor = vec4(0.0); return; }
  ${head}
  vec4 acc = vec4(${init[kind]});
  for (int r = r0; r < r1; r++) {
    vec4 v = texel0(((o * ${m} + r) * ${inner} + i) >> 2);
    acc = ${kind === "sum" ? "acc + v" : "mx4(acc, v)"};
  }
  outColor = acc;
}`
    }
    return `${helpers}
float value(int e) {
  ${head}
  float acc = ${init[kind]};
  for (int r = r0; r < r1; r++) acc = ${comb("acc", `elem0((o * ${m} + r) * ${inner} + i)`)};
  return acc;
}
${mainOfValue(n)}`
  })
}

/** Reduces `a` (shape `shape`) over sorted distinct `axes`. */
export const reduce = (device: Device, kind: ReduceKind, a: Handle, shape: ReadonlyArray<number>, axes: ReadonlyArray<number>): Handle => {
  const prod = (xs: ReadonlyArray<number>) => xs.reduce((x, y) => x * y, 1)
  const contiguous = axes.every((ax, i) => i === 0 || ax === axes[i - 1]! + 1)
  let src = a
  let outer: number, m: number, inner: number
  if (axes.length === 0) {
    outer = prod(shape)
    m = 1
    inner = 1
  } else if (contiguous) {
    outer = prod(shape.slice(0, axes[0]!))
    m = prod(axes.map((ax) => shape[ax]!))
    inner = prod(shape.slice(axes[axes.length - 1]! + 1))
  } else {
    const keep = shape.map((_, i) => i).filter((i) => !axes.includes(i))
    src = transpose(device, a, shape, [...keep, ...axes])
    outer = prod(keep.map((i) => shape[i]!))
    m = prod(axes.map((ax) => shape[ax]!))
    inner = 1
  }
  try {
    let cur = pass(device, kind, src, outer, m, inner)
    let size = Math.ceil(m / CHUNK)
    while (size > 1) {
      const next = pass(device, kind, cur, outer, size, inner)
      device.dispose(cur)
      cur = next
      size = Math.ceil(size / CHUNK)
    }
    return cur
  } finally {
    if (src !== a) device.dispose(src)
  }
}
