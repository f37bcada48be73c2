/**
 * Batched matrix product `[batch, m, k] @ [batch, k, n]`.
 *
 * With the flat layout a texel holds four consecutive elements of a row.
 * When `m`, `k` and `n` are multiples of 4, a fragment computes a 4×4 block
 * (see matmulRows4). Otherwise, when `n % 4 == 0`, a fragment computes four
 * adjacent outputs of one row: per step of four along `k` it reads one texel
 * of `a` (when `k % 4 == 0`) and four texels of `b`, 16 multiply-adds for 5
 * fetches. Other shapes fall back to one output per channel (still reading
 * `a` by texels when `k % 4 == 0`, and both operands by texels for
 * matrix-vector products).
 */
import type { Device, Handle } from "../device.js"

/**
 * Four rows per fragment when `m`, `k` and `n` are multiples of 4: each
 * texel of `b` read feeds four rows, so the right operand, which every row
 * streams through, is read a quarter as often. The rows go to four targets
 * (multiple render targets: row `4q + r` of the result is row `q` of target
 * `r`), which one more pass interleaves.
 */
const matmulRows4 = (device: Device, a: Handle, b: Handle, batch: number, m: number, k: number, n: number): Handle => {
  const rows = batch * m
  const per = (rows / 4) * n
  const k4 = k >> 2
  const n4 = n >> 2
  const parts = device.runMany(`matmul4:${batch}:${m}:${k}:${n}`, [a, b], per, 4, () => {
    const acc = (r: number) =>
      `x = texel0(at + ${r * k4} + p); c${r} += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;`
    return `
void main() {
  int o = outTexel() * 4;
  if (o >= ${per}) { outColor0 = vec4(0.0); outColor1 = vec4(0.0); outColor2 = vec4(0.0); outColor3 = vec4(0.0); return; }
  int j = o % ${n}; int row = (o / ${n}) * 4; int bb = row / ${m};
  int at = row * ${k4}; int bt = (bb * ${k * n} + j) >> 2;
  vec4 c0 = vec4(0.0), c1 = vec4(0.0), c2 = vec4(0.0), c3 = vec4(0.0);
  vec4 x;
  for (int p = 0; p < ${k4}; p++) {
    int t = bt + p * ${4 * n4};
    vec4 b0 = texel1(t), b1 = texel1(t + ${n4}), b2 = texel1(t + ${2 * n4}), b3 = texel1(t + ${3 * n4});
    ${[0, 1, 2, 3].map(acc).join("\n    ")}
  }
  outColor0 = c0; outColor1 = c1; outColor2 = c2; outColor3 = c3;
}`
  })
  try {
    return device.run(`interleave4:${rows}:${n}`, parts, rows * n, () => `
void main() {
  int o = outTexel() * 4;
  if (o >= ${rows * n}) { outColor = vec4(0.0); return; }
  int row = o / ${n}; int j = o - row * ${n};
  int s = ((row >> 2) * ${n} + j) >> 2;
  int r = row & 3;
  outColor = r == 0 ? texel0(s) : r == 1 ? texel1(s) : r == 2 ? texel2(s) : texel3(s);
}`)
  } finally {
    for (const p of parts) device.dispose(p)
  }
}

export const matmul = (device: Device, a: Handle, b: Handle, batch: number, m: number, k: number, n: number): Handle => {
  if (m % 4 === 0 && k % 4 === 0 && n % 4 === 0 && batch * m * k * n >= 65536)
    return matmulRows4(device, a, b, batch, m, k, n)
  const size = batch * m * n
  return device.run(`matmul:${batch}:${m}:${k}:${n}`, [a, b], size, () => {
    const coords = `int j = o % ${n}; int mi = o / ${n}; int i = mi % ${m}; int bb = mi / ${m};
  int aBase = (bb * ${m} + i) * ${k}; int bBase = bb * ${k * n} + j;`
    const k4 = k >> 2
    if (n % 4 === 0) {
      const n4 = n >> 2
      const loop =
        k % 4 === 0
          ? `int at = aBase >> 2; int bt = bBase >> 2;
  for (int p = 0; p < ${k4}; p++) {
    vec4 x = texel0(at + p);
    int t = bt + p * ${4 * n4};
    acc += x.x * texel1(t) + x.y * texel1(t + ${n4}) + x.z * texel1(t + ${2 * n4}) + x.w * texel1(t + ${3 * n4});
  }`
          : `int bt = bBase >> 2;
  for (int p = 0; p < ${k}; p++) acc += elem0(aBase + p) * texel1(bt + p * ${n4});`
      return `
void main() {
  int o = outTexel() * 4;
  if (o >= ${size}) { outColor = vec4(0.0); return; }
  ${coords}
  vec4 acc = vec4(0.0);
  ${loop}
  outColor = acc;
}`
    }
    let loop: string
    if (k % 4 === 0 && n === 1)
      loop = `int at = aBase >> 2; int bt = bBase >> 2;
  for (int p = 0; p < ${k4}; p++) acc += dot(texel0(at + p), texel1(bt + p));`
    else if (k % 4 === 0)
      loop = `int at = aBase >> 2;
  for (int p = 0; p < ${k4}; p++) {
    int q = bBase + p * ${4 * n};
    acc += dot(texel0(at + p), vec4(elem1(q), elem1(q + ${n}), elem1(q + ${2 * n}), elem1(q + ${3 * n})));
  }`
    else loop = `for (int p = 0; p < ${k}; p++) acc += elem0(aBase + p) * elem1(bBase + p * ${n});`
    return `
float value(int o) {
  ${coords}
  float acc = 0.0;
  ${loop}
  return acc;
}
void main() {
  int o = outTexel() * 4;
  vec4 v = vec4(0.0);
  if (o < ${size}) v.x = value(o);
  if (o + 1 < ${size}) v.y = value(o + 1);
  if (o + 2 < ${size}) v.z = value(o + 2);
  if (o + 3 < ${size}) v.w = value(o + 3);
  outColor = v;
}`
  })
}
