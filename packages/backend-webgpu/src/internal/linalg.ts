/**
 * Dense linear algebra as WGSL kernels: the CPU backend's algorithms (the
 * same recurrences, pivoting and packed layouts as the core's CPU
 * kernels) in f32, so that they run synchronously on the GPU, also
 * inside loop bodies.
 *
 * - cholesky: the row-oriented Cholesky–Banachiewicz recurrence, one
 *   invocation per matrix of the batch. A matrix that is not
 *   positive-definite comes out as NaN. Where the kernel may answer
 *   asynchronously (not inside a loop body, see `Internal.mayAnswerAsync`)
 *   the factors are checked by reading back one element of each, and such
 *   a matrix is a LinalgError as on the CPU (`choleskyChecked`); inside a
 *   loop body, which needs a synchronous answer, it stays NaN.
 * - triangularSolve: substitution on each column of the right-hand side,
 *   one invocation per (matrix, column).
 * - lu: Doolittle elimination with partial pivoting (the largest magnitude,
 *   NaN first, as the CPU), one invocation per matrix, packed as
 *   `[LU (n × n), perm (n), sign (n)]`.
 */
import { type DType as D, Internal } from "@diffect/core"
import { type Device, grid, type Handle } from "./device.js"
import { bindings, mathLib, uses } from "./wgsl.js"

type DType = D.DType
type Shape = ReadonlyArray<number>

const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1)
const batchOf = (shape: Shape): number => sizeOf(shape.slice(0, -2))

/** One invocation per item (`count` of them): `body` runs with `t` its index. */
const perItem = (inputs: ReadonlyArray<DType>, out: DType, count: number, body: string): string => `${mathLib}
${bindings(inputs, out)}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${uses(inputs.length)}
  let t = i32((wid.y * nw.x + wid.x) * 64u + li);
  if (t >= ${count}) { return; }
  ${body}
}`

export const cholesky = (device: Device, a: Handle, shape: Shape, out: DType): Handle => {
  const n = shape[shape.length - 1]!
  const batch = batchOf(shape)
  const nn = n * n
  return device.run({
    key: `cholesky:${a.dtype}:${out}:${batch}:${n}`,
    code: () =>
      perItem([a.dtype], out, batch, `let base = t * ${nn};
  for (var e = 0; e < ${nn}; e = e + 1) { O[base + e] = 0.0; }
  for (var i = 0; i < ${n}; i = i + 1) {
    for (var j = 0; j <= i; j = j + 1) {
      var s = x0(base + i * ${n} + j);
      for (var k = 0; k < j; k = k + 1) { s = s - O[base + i * ${n} + k] * O[base + j * ${n} + k]; }
      if (i == j) {
        if (!(s > 0.0) || isnan_(s)) {
          // not positive-definite: the whole matrix is NaN
          for (var e = 0; e < ${nn}; e = e + 1) { O[base + e] = nan(); }
          return;
        }
        O[base + i * ${n} + i] = sqrt(s);
      } else {
        O[base + i * ${n} + j] = s / O[base + j * ${n} + j];
      }
    }
  }`),
    inputs: [a],
    n: batch * nn,
    dtype: out,
    groups: grid(Math.ceil(batch / 64))
  })
}

/**
 * The order (from 0) of the first leading minor of matrix `off` of `src`
 * (n × n, row-major) found not positive by the shader's recurrence in
 * float32, or undefined if this float32 arithmetic finds none (the GPU's
 * rounding may differ in the last bits).
 */
const failingOrder = (src: ArrayLike<number>, off: number, n: number): number | undefined => {
  const f = Math.fround
  const l = new Float32Array(n * n)
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = f(src[off + i * n + j]!)
      for (let k = 0; k < j; k++) s = f(s - f(l[i * n + k]! * l[j * n + k]!))
      if (i === j) {
        if (!(s > 0)) return i
        l[i * n + i] = Math.sqrt(s)
      } else l[i * n + j] = s / l[j * n + j]!
    }
  return undefined
}

/**
 * cholesky with its answer checked (the kernel answers with a Promise: only
 * where the core allows it, outside loop bodies): the first element of each
 * factor is read back, NaN exactly where the matrix is not positive-definite;
 * the first such matrix fails with the CPU's LinalgError, naming the order of
 * its leading minor that is not positive and its place in the batch.
 */
export const choleskyChecked = async (device: Device, a: Handle, shape: Shape, out: DType): Promise<Handle> => {
  const l = cholesky(device, a, shape, out)
  const n = shape[shape.length - 1]!
  const batch = batchOf(shape)
  if (batch === 0 || n === 0) return l
  let firsts: ArrayLike<number>
  try {
    const first = device.run({
      key: `cholesky-first:${out}:${batch}:${n}`,
      code: () => perItem([out], "float32", batch, `O[t] = x0(t * ${n * n});`),
      inputs: [l],
      n: batch,
      dtype: "float32",
      groups: grid(Math.ceil(batch / 64))
    })
    try {
      firsts = await device.read(first)
    } finally {
      device.dispose(first)
    }
  } catch (e) {
    device.dispose(l)
    throw e
  }
  let bad = -1
  for (let b = 0; b < batch && bad < 0; b++) if (Number.isNaN(firsts[b]!)) bad = b
  if (bad < 0) return l
  device.dispose(l)
  throw Internal.notPositiveDefinite(out, shape, bad, failingOrder(await device.read(a), bad * n * n, n))
}

export const triangularSolve = (
  device: Device,
  a: Handle,
  b: Handle,
  aShape: Shape,
  bShape: Shape,
  p: { readonly lower: boolean; readonly transpose: boolean; readonly unitDiagonal: boolean },
  out: DType
): Handle => {
  const n = aShape[aShape.length - 1]!
  const k = bShape[bShape.length - 1]!
  const batch = batchOf(aShape)
  // op(A) is lower triangular (solved top-down) when A is lower and not transposed, or upper and transposed
  const forward = p.lower !== p.transpose
  const coef = p.transpose ? `x0(ab + j * ${n} + i)` : `x0(ab + i * ${n} + j)`
  const count = batch * k
  return device.run({
    key: `trisolve:${a.dtype}:${b.dtype}:${out}:${batch}:${n}:${k}:${p.lower}:${p.transpose}:${p.unitDiagonal}`,
    code: () =>
      perItem([a.dtype, b.dtype], out, count, `let m = t / ${k};
  let col = t % ${k};
  let ab = m * ${n * n};
  let xb = m * ${n * k} + col;
  for (var r = 0; r < ${n}; r = r + 1) { O[xb + r * ${k}] = x1(xb + r * ${k}); }
  for (var step = 0; step < ${n}; step = step + 1) {
    let i = ${forward ? "step" : `${n - 1} - step`};
    var v = O[xb + i * ${k}];
    for (var j = ${forward ? "0" : "i + 1"}; j < ${forward ? "i" : n}; j = j + 1) {
      let c = ${coef};
      if (c != 0.0) { v = v - c * O[xb + j * ${k}]; }
    }
    ${p.unitDiagonal ? "" : `v = div_(v, x0(ab + i * ${n} + i));`}
    O[xb + i * ${k}] = v;
  }`),
    inputs: [a, b],
    n: batch * n * k,
    dtype: out,
    groups: grid(Math.ceil(count / 64))
  })
}

export const lu = (device: Device, a: Handle, shape: Shape, out: DType): Handle => {
  const n = shape[shape.length - 1]!
  const batch = batchOf(shape)
  const size = (n + 2) * n
  const at = (i: string, j: string) => `O[base + (${i}) * ${n} + ${j}]`
  return device.run({
    key: `lu:${a.dtype}:${out}:${batch}:${n}`,
    code: () =>
      perItem([a.dtype], out, batch, `let base = t * ${size};
  let src = t * ${n * n};
  for (var e = 0; e < ${n * n}; e = e + 1) { O[base + e] = x0(src + e); }
  for (var j = 0; j < ${n}; j = j + 1) { O[base + ${n * n} + j] = f32(j); }
  var sign = 1.0;
  for (var c = 0; c < ${n}; c = c + 1) {
    var p = c;
    var best = abs(${at("c", "c")});
    for (var i = c + 1; i < ${n}; i = i + 1) {
      let v = abs(${at("i", "c")});
      if ((!isnan_(v) && !isnan_(best) && v > best) || (isnan_(v) && !isnan_(best))) { best = v; p = i; }
    }
    if (p != c) {
      for (var j = 0; j < ${n}; j = j + 1) { let s = ${at("c", "j")}; ${at("c", "j")} = ${at("p", "j")}; ${at("p", "j")} = s; }
      let q = O[base + ${n * n} + c]; O[base + ${n * n} + c] = O[base + ${n * n} + p]; O[base + ${n * n} + p] = q;
      sign = -sign;
    }
    let pivot = ${at("c", "c")};
    if (pivot == 0.0) { continue; }
    for (var i = c + 1; i < ${n}; i = i + 1) {
      let l = ${at("i", "c")} / pivot;
      ${at("i", "c")} = l;
      if (l == 0.0) { continue; }
      for (var j = c + 1; j < ${n}; j = j + 1) { ${at("i", "j")} = ${at("i", "j")} - l * ${at("c", "j")}; }
    }
  }
  for (var i = 0; i < ${n}; i = i + 1) { sign = sign * sign_(${at("i", "i")}); }
  for (var j = 0; j < ${n}; j = j + 1) { O[base + ${n * n + n} + j] = sign; }`),
    inputs: [a],
    n: batch * size,
    dtype: out,
    groups: grid(Math.ceil(batch / 64))
  })
}
