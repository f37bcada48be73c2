/**
 * Cholesky, triangular solves and LU with partial pivoting as fragment
 * shaders, batched over the leading axes, in float32.
 *
 * Each is a sequence of steps, one draw per step, ping-ponging between
 * textures (a draw cannot read the texture it writes): step `j` writes the
 * whole matrix, copying what is final and updating the rest from the
 * previous texture. The step index is a uniform, so one program serves
 * every step of a shape (a program per step would compile n of them).
 *
 * - cholesky, right-looking: step j writes column j of L (`√a_jj` and the
 *   column below it divided by it) and the rank-1 update of the trailing
 *   lower triangle, `a_rc − l_rj l_cj`, in one draw: n draws. The upper
 *   triangle is written as zeros and never read. A pivot that is not
 *   positive (or NaN) gives NaN on the diagonal; one last draw finds the
 *   first such column of each matrix and that small texture is read back,
 *   so a matrix that is not positive-definite throws the same
 *   `LinalgError` (naming the leading minor) as the CPU kernel.
 * - triangularSolve, column-oriented substitution: step i divides row i of
 *   the right-hand side by the diagonal (unless unit) and subtracts its
 *   multiple from the rows still to solve: n draws.
 * - lu (getrf order, as the CPU): per column c a pivot-search draw (one
 *   fragment per matrix: the first largest |a_rc|, r ≥ c, NaN first as on
 *   the CPU) and a draw that swaps rows c and p and eliminates below the
 *   pivot; the permutation and the sign rows of the packed output are
 *   carried along in the same texture: 2n draws.
 *
 * Where a texel's four elements lie in one matrix row (rows of a multiple
 * of 4), the steps read and write whole texels.
 */
import { Internal } from "@diffect/core"
import type { Device, Handle } from "../device.js"
import { mainOfValue, specials } from "../glsl.js"

/**
 * A `main()` that first runs `texel` (GLSL that may write `outColor` and
 * return; `t` is the texel, `e` its first element) and otherwise writes four
 * elements from `float value(int e)`.
 */
const mainWith = (size: number, texel: string): string => `void main() {
  int t = outTexel(); int e = t * 4;
  if (e >= ${size}) { outColor = vec4(0.0); return; }
  ${texel}
  vec4 v = vec4(0.0);
  v.x = value(e);
  if (e + 1 < ${size}) v.y = value(e + 1);
  if (e + 2 < ${size}) v.z = value(e + 2);
  if (e + 3 < ${size}) v.w = value(e + 3);
  outColor = v;
}`

/**
 * Runs `steps` draws, each from the previous result (the first from
 * `input`, which is not disposed), on two textures: the first two steps
 * draw new ones, later steps draw into the one written two steps before,
 * only over the rows holding elements changed since then (`changed(s)`:
 * the element range step s changes in the first matrix, `stride` elements
 * apart in the others). `draw(src, s, into)` runs step s reading `src`,
 * into a new texture (returned) or, with `into`, into that one's element
 * range.
 */
const iterate = (
  device: Device,
  input: Handle,
  steps: number,
  stride: number,
  batch: number,
  changed: (s: number) => readonly [number, number],
  draw: (src: Handle, s: number, into?: { readonly target: Handle; readonly from: number; readonly to: number }) => Handle
): Handle => {
  let cur: Handle | undefined
  let older: Handle | undefined
  try {
    for (let s = 0; s < steps; s++) {
      if (s < 2) {
        const next = draw(cur ?? input, s)
        older = cur
        cur = next
        continue
      }
      const [a0, a1] = changed(s - 1), [b0, b1] = changed(s)
      const from = Math.min(a0, b0), to = (batch - 1) * stride + Math.max(a1, b1)
      const target = older!
      draw(cur!, s, { target, from, to })
      older = cur
      cur = target
    }
  } catch (e) {
    if (cur !== undefined) device.dispose(cur)
    if (older !== undefined) device.dispose(older)
    throw e
  }
  if (older !== undefined) device.dispose(older)
  return cur ?? device.share(input)
}

export const cholesky = (device: Device, a: Handle, shape: ReadonlyArray<number>, dtype: string): Handle => {
  const n = shape[shape.length - 1]!
  const batch = Internal.sizeOf(shape.slice(0, -2))
  const size = batch * n * n
  if (size === 0) return device.alloc(0)
  const nn = n * n
  const body = (first: boolean) => `${specials}
uniform int J;
float value(int e) {
  int c = e % ${n}; int r = (e / ${n}) % ${n}; int base = e - r * ${n} - c;
  if (r < c) return 0.0;
  if (c < J) return elem0(e);
  float d = elem0(base + J * ${n + 1});
  float s = d > 0.0 ? sqrt(d) : NAN;
  if (c == J) return r == J ? s : elem0(base + r * ${n} + J) / s;
  return elem0(e) - (elem0(base + r * ${n} + J) / s) * (elem0(base + c * ${n} + J) / s);
}
${mainWith(
  size,
  // a texel within one row that is all upper triangle (zeros) or all in final columns (copied)
  `{ int c = e % ${n}; int r = (e / ${n}) % ${n}; int base = e - r * ${n} - c;
    if (c + 3 < ${n}) {
      if (r < c) { outColor = vec4(0.0); return; }
      ${first ? "" : "if (c + 3 < J) { outColor = texel0(t); return; }"}
      ${
        n % 4 === 0
          ? `// rows of a multiple of 4: the four columns c..c+3 of row r at once
      vec4 own = texel0(t);
      float d = elem0(base + J * ${n + 1});
      float s = d > 0.0 ? sqrt(d) : NAN;
      float lr = elem0(base + r * ${n} + J) / s;
      int cj = base + c * ${n} + J;
      vec4 lc = vec4(elem0(cj), elem0(cj + ${n}), elem0(cj + ${2 * n}), elem0(cj + ${3 * n})) / s;
      vec4 cs = vec4(float(c), float(c + 1), float(c + 2), float(c + 3));
      vec4 o = mix(own, own - lr * lc, greaterThan(cs, vec4(float(J))));
      o = mix(o, vec4(r == J ? s : lr), equal(cs, vec4(float(J))));
      outColor = mix(o, vec4(0.0), greaterThan(cs, vec4(float(r))));
      return;`
          : ""
      }
    } }`
)}`
  // step j changes rows j.. of each matrix
  const l = iterate(device, a, n, nn, batch, (j) => [j * n, nn], (cur, j, into) => {
    if (j === 0) return device.run(`chol0:${batch}:${n}`, [cur], size, () => body(true), { J: 0 })
    if (into === undefined) return device.run(`chol:${batch}:${n}`, [cur], size, () => body(false), { J: j })
    device.runInto(`chol:${batch}:${n}`, [cur], into.target, into.from, into.to, () => body(false), { J: j })
    return into.target
  })
  // the first column of each matrix whose pivot was not positive (−1: none)
  let status: Handle | undefined
  try {
    status = device.run(`cholStatus:${batch}:${n}`, [l], batch, () => `
float value(int b) {
  for (int j = 0; j < ${n}; j++) {
    if (!(elem0(b * ${nn} + j * ${n + 1}) > 0.0)) return float(j);
  }
  return -1.0;
}
${mainOfValue(batch)}`)
    const bad = device.download(status)
    for (let b = 0; b < batch; b++) {
      const i = bad[b]!
      if (i >= 0) throw Internal.notPositiveDefinite(dtype, shape, b, i)
    }
    return l
  } catch (e) {
    device.dispose(l)
    throw e
  } finally {
    if (status !== undefined) device.dispose(status)
  }
}

export const triangularSolve = (
  device: Device,
  a: Handle,
  b: Handle,
  aShape: ReadonlyArray<number>,
  k: number,
  lower: boolean,
  transpose: boolean,
  unit: boolean
): Handle => {
  const n = aShape[aShape.length - 1]!
  const batch = Internal.sizeOf(aShape.slice(0, -2))
  const size = batch * n * k
  if (size === 0) return device.alloc(0)
  // op(a) is lower triangular (solved top-down) when a is lower and not transposed, or upper and transposed
  const forward = lower !== transpose
  const nn = n * n
  // op(a)[r][j] of matrix q
  const coef = transpose ? `elem0(q * ${nn} + j * ${n} + r)` : `elem0(q * ${nn} + r * ${n} + j)`
  const pending = forward ? "r > I" : "r < I"
  const vector = k % 4 === 0
  const body = `
uniform int I;
float coef(int q, int r, int j) { return ${coef}; }
float value(int e) {
  int c = e % ${k}; int q = e / ${n * k}; int r = (e / ${k}) % ${n};
  float v = elem1(e);
  if (r != I && !(${pending})) return v;
  float xi = elem1((q * ${n} + I) * ${k} + c)${unit ? "" : " / coef(q, I, I)"};
  if (r == I) return xi;
  float m = coef(q, r, I);
  return m == 0.0 ? v : v - m * xi;
}
${mainWith(
  size,
  vector
    ? // whole texels: row i's four values are one texel too
      `{ int q = e / ${n * k}; int r = (e / ${k}) % ${n};
    vec4 v = texel1(t);
    if (r != I && !(${pending})) { outColor = v; return; }
    vec4 xi = texel1(t + (I - r) * ${k >> 2})${unit ? "" : " / coef(q, I, I)"};
    if (r == I) { outColor = xi; return; }
    float m = coef(q, r, I);
    outColor = m == 0.0 ? v : v - m * xi;
    return; }`
    : `{ int c = e % ${k}; int r = (e / ${k}) % ${n};
    if (c + 3 < ${k} && r != I && !(${pending})) { outColor = texel1(t); return; } }`
)}`
  const key = `trisolve:${batch}:${n}:${k}:${forward}:${transpose}:${unit}`
  const row = (s: number) => (forward ? s : n - 1 - s)
  // step s changes row i = row(s) and the rows after it (below when forward, above when not)
  return iterate(device, b, n, n * k, batch, (s) => (forward ? [row(s) * k, n * k] : [0, (row(s) + 1) * k]), (cur, s, into) => {
    if (into === undefined) return device.run(key, [a, cur], size, () => body, { I: row(s) })
    device.runInto(key, [a, cur], into.target, into.from, into.to, () => body, { I: row(s) })
    return into.target
  })
}

export const lu = (device: Device, a: Handle, shape: ReadonlyArray<number>): Handle => {
  const n = shape[shape.length - 1]!
  const batch = Internal.sizeOf(shape.slice(0, -2))
  const rows = n + 2
  const size = batch * rows * n
  if (size === 0) return device.alloc(0)
  // element (r, j) of matrix q: of the input (first column) or of the packed working texture
  const src = (first: boolean) => `float src(int q, int r, int j) { return elem0(q * ${first ? n * n : rows * n} + r * ${n} + j); }
vec4 srcTexel(int q, int r, int j) { return texel0((q * ${first ? n * n : rows * n} + r * ${n} + j) >> 2); }`
  const pivotBody = (first: boolean) => `${src(first)}
uniform int J;
float value(int q) {
  int p = J;
  float best = abs(src(q, J, J));
  for (int r = J + 1; r < ${n}; r++) {
    float v = abs(src(q, r, J));
    if (v > best || (isnan(v) && !isnan(best))) { best = v; p = r; }
  }
  return float(p);
}
${mainOfValue(batch)}`
  const elimBody = (first: boolean, last: boolean) => `${specials}${src(first)}
uniform int J;
float sgn(float x) { return isnan(x) ? NAN : sign(x); }
float value(int e) {
  int j = e % ${n}; int t = e / ${n}; int r = t % ${rows}; int q = t / ${rows};
  int c = J;
  int p = int(elem1(q));
  if (r == ${n}) {
    int idx = j == c ? p : (j == p ? c : j);
    return ${first ? "float(idx)" : `elem0(q * ${rows * n} + ${n * n} + idx)`};
  }
  if (r == ${n + 1}) {
    float s = ${first ? "1.0" : `elem0(q * ${rows * n} + ${(n + 1) * n} + j)`};
    if (p != c) s = -s;
    ${
      last
        ? `for (int i = 0; i < ${n - 1}; i++) s *= sgn(src(q, i, i));
    s *= sgn(src(q, p, c));`
        : ""
    }
    return s;
  }
  if (r < c) return src(q, r, j);
  int rs = r == c ? p : (r == p ? c : r);
  float v = src(q, rs, j);
  if (r == c || j < c) return v;
  float piv = src(q, p, c);
  if (piv == 0.0) return v;
  if (j == c) return v / piv;
  float l = src(q, rs, c) / piv;
  return l == 0.0 ? v : v - l * src(q, p, j);
}
${mainWith(
  size,
  n % 4 === 0
    ? // a texel of four elements of one matrix row
      `{ int j = e % ${n}; int t2 = e / ${n}; int r = t2 % ${rows}; int q = t2 / ${rows};
    int c = J;
    if (r < ${n}) {
      if (r < c) { outColor = srcTexel(q, r, j); return; }
      int p = int(elem1(q));
      int rs = r == c ? p : (r == p ? c : r);
      vec4 v = srcTexel(q, rs, j);
      float piv = src(q, p, c);
      if (r == c || j + 3 < c || piv == 0.0) { outColor = v; return; }
      float l = src(q, rs, c) / piv;
      vec4 u = l == 0.0 ? v : v - l * srcTexel(q, p, j);
      vec4 jj = vec4(float(j), float(j + 1), float(j + 2), float(j + 3));
      vec4 o = mix(v, u, greaterThan(jj, vec4(float(c))));
      outColor = mix(o, v / piv, equal(jj, vec4(float(c))));
      return;
    } }`
    : ""
)}`
  // step c changes rows c.. of each matrix, the permutation and the sign
  return iterate(device, a, n, rows * n, batch, (c) => [c * n, rows * n], (cur, c, into) => {
    const first = c === 0, last = c === n - 1
    const piv = device.run(`luPivot:${first}:${batch}:${n}`, [cur], batch, () => pivotBody(first), { J: c })
    try {
      const key = `luStep:${first}:${last}:${batch}:${n}`
      if (into === undefined) return device.run(key, [cur, piv], size, () => elimBody(first, last), { J: c })
      device.runInto(key, [cur, piv], into.target, into.from, into.to, () => elimBody(first, last), { J: c })
      return into.target
    } finally {
      device.dispose(piv)
    }
  })
}
