/**
 * Batched matrix product `[batch, m, k] @ [batch, k, n]`.
 *
 * With the flat layout a texel holds four consecutive elements of a row.
 * When `m`, `k` and `n` are multiples of 4, a fragment computes a 4×4 block
 * (see matmulRows). Otherwise, when `n % 4 == 0`, a fragment computes four
 * adjacent outputs of one row: per step of four along `k` it reads one texel
 * of `a` (when `k % 4 == 0`) and four texels of `b`, 16 multiply-adds for 5
 * fetches. Other shapes fall back to one output per channel (still reading
 * `a` by texels when `k % 4 == 0`, and both operands by texels for
 * matrix-vector products).
 */
import type { Device, Handle } from "../device.js"
import { mainOfValue } from "../glsl.js"

/**
 * `R` rows per fragment (R = 4 or 8) when `m % R`, `k % 4` and `n % 4` are
 * 0: each texel of `b` read feeds R rows, so the right operand, which every
 * row streams through, is read R times less often. The rows go to R targets
 * (multiple render targets: row `R q + r` of the result is row `q` of
 * target `r`), which one more pass interleaves.
 */
const matmulRows = (device: Device, a: Handle, b: Handle, batch: number, m: number, k: number, n: number, R: number): Handle => {
  const rows = batch * m
  const per = (rows / R) * n
  const k4 = k >> 2
  const n4 = n >> 2
  const rs = Array.from({ length: R }, (_, r) => r)
  const parts = device.runMany(`matmulR${R}:${batch}:${m}:${k}:${n}`, [a, b], per, R, () => `
void main() {
  int o = outTexel() * 4;
  if (o >= ${per}) { ${rs.map((r) => `outColor${r} = vec4(0.0);`).join(" ")} return; }
  int j = o % ${n}; int row = (o / ${n}) * ${R}; int bb = row / ${m};
  int at = row * ${k4}; int bt = (bb * ${k * n} + j) >> 2;
  ${rs.map((r) => `vec4 c${r} = vec4(0.0);`).join(" ")}
  vec4 x;
  for (int p = 0; p < ${k4}; p++) {
    int t = bt + p * ${4 * n4};
    vec4 b0 = texel1(t), b1 = texel1(t + ${n4}), b2 = texel1(t + ${2 * n4}), b3 = texel1(t + ${3 * n4});
    ${rs.map((r) => `x = texel0(at + ${r * k4} + p); c${r} += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;`).join("\n    ")}
  }
  ${rs.map((r) => `outColor${r} = c${r};`).join(" ")}
}`)
  try {
    return device.run(`interleave${R}:${rows}:${n}`, parts, rows * n, () => `
void main() {
  int o = outTexel() * 4;
  if (o >= ${rows * n}) { outColor = vec4(0.0); return; }
  int row = o / ${n}; int j = o - row * ${n};
  int s = ((row / ${R}) * ${n} + j) >> 2;
  int r = row % ${R};
  ${rs.map((r) => `if (r == ${r}) { outColor = texel${r}(s); return; }`).join("\n  ")}
}`)
  } finally {
    for (const p of parts) device.dispose(p)
  }
}

export const matmul = (device: Device, a: Handle, b: Handle, batch: number, m: number, k: number, n: number): Handle => {
  if (k % 4 === 0 && n % 4 === 0 && batch * m * k * n >= 65536) {
    const R = m % 8 === 0 && device.maxDrawBuffers >= 8 ? 8 : m % 4 === 0 ? 4 : 0
    if (R > 0) return matmulRows(device, a, b, batch, m, k, n, R)
  }
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
${mainOfValue(size)}`
  })
}
