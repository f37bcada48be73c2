/**
 * The `random` primitive as a WGSL kernel: Threefry-2x32 (20 rounds) in u32
 * arithmetic, the same words as the core's definition of Random, and from
 * them the same numbers as the CPU backend's kernel:
 *
 * - `hash`, `bits`, `bernoulli`, `randint` and `permutation` are integer
 *   arithmetic and give the CPU's numbers exactly: bernoulli compares the
 *   24-bit word with `ceil(p · 2^24)` (the same test as `unit24(w) < p`),
 *   randint's rejection on 53-bit values compares and reduces them as two
 *   u32 words, permutation runs Fisher–Yates (one invocation per draw).
 * - `uniform` (float32) computes `minval + u · width` with each product
 *   exact in f32 (u's 24 bits and width's float32 head split in halves of
 *   12 bits) and error-free sums, rounded once: the CPU's bits whenever the
 *   bounds' float64 sum is resolved by that (bounds such as [0, 1),
 *   [-1, 2), [0.1, 0.7), [0, 0.3) in the tests); where the CPU's value lies
 *   within float64 rounding of a float32 midpoint (bounds like [1, 1.1)) it
 *   may round the other way: one float32 ulp, never outside [minval, maxval).
 * - `normal` runs Box–Muller in f32 on the same words: `1 − u1` is formed
 *   exactly from the integer, its logarithm by `log1p` near 1, and the
 *   angle's quadrant from the integer bits (`2π u2` is never rounded), so
 *   the numbers agree with the CPU's float64 ones to a few float32 ulps;
 *   they are not bit-identical (the CPU rounds float64 once at the end).
 *
 * Every element is independent of the others (its words are found from its
 * index), so one invocation computes one element (one draw for permutation).
 */
import type { DType as D, Internal } from "@diffect/core"
import { type Device, grid, type Handle } from "./device.js"
import { mathLib, uses } from "./wgsl.js"

type DType = D.DType
type RandomParams = Internal.RandomParams

const ROT = [13, 15, 26, 6, 17, 29, 16, 24] as const
const PARITY = 0x1bd11bda

/** Threefry-2x32-20 unrolled: `tf(k0, k1, x0, x1)` gives the two words. */
const threefryWgsl = (): string => {
  const lines: string[] = []
  for (let group = 0; group < 5; group++) {
    const base = (group & 1) * 4
    for (let r = 0; r < 4; r++) {
      const rot = ROT[base + r]!
      lines.push(`a = a + b; b = (b << ${rot}u) | (b >> ${32 - rot}u); b = b ^ a;`)
    }
    const s = group + 1
    lines.push(`a = a + ks[${s % 3}]; b = b + ks[${(s + 1) % 3}] + ${s}u;`)
  }
  return `fn tf(k0: u32, k1: u32, x0: u32, x1: u32) -> vec2<u32> {
  let ks = array<u32, 3>(k0, k1, k0 ^ k1 ^ ${PARITY}u);
  var a = x0 + k0;
  var b = x1 + k1;
  ${lines.join("\n  ")}
  return vec2<u32>(a, b);
}
// word i of a key's stream: the hashes of counters (0, 0), (0, 1), ...
fn word(k0: u32, k1: u32, i: u32) -> u32 { let w = tf(k0, k1, 0u, i >> 1u); return select(w.x, w.y, (i & 1u) == 1u); }
// (2r + bit) mod span, for r < span (no overflow of u32)
fn dbl(r: u32, bit: u32, span: u32) -> u32 {
  var x = select(r + r, r - (span - r), r >= span - r);
  if (bit == 1u) { x = select(x + 1u, 0u, x == span - 1u); }
  return x;
}
// (hi · 2^32 + lo) mod span
fn mod64(hi: u32, lo: u32, span: u32) -> u32 {
  var r = hi % span;
  for (var j = 31; j >= 0; j = j - 1) { r = dbl(r, (lo >> u32(j)) & 1u, span); }
  return r;
}
// an unbiased integer in [0, span) for the counter (attempt, index): rejection on 53-bit values (as the core's below)
fn below(k0: u32, k1: u32, index: u32, span: u32) -> u32 {
  let rem = mod64(2097152u, 0u, span); // 2^53 mod span
  let lh = select(2097152u, 2097151u, rem > 0u);
  let ll = 0u - rem;
  for (var attempt = 0u; attempt < 64u; attempt = attempt + 1u) {
    let w = tf(k0, k1, attempt, index);
    let vh = w.x >> 11u;
    if (vh < lh || (vh == lh && w.y < ll)) { return mod64(vh, w.y, span); }
  }
  return 0u;
}`
}

/** The f32 bits of a number (rounded to float32) as a WGSL expression. */
const f32Bits = (x: number): string => {
  const b = new Uint32Array(new Float32Array([x]).buffer)[0]!
  return `bitcast<f32>(${b}u)`
}

/** The largest float32 below x (the CPU kernel's clamp of uniform's top). */
const below32 = (x: number): number => {
  const y = Math.fround(x)
  if (y < x) return y
  if (y === 0) return -(2 ** -149)
  const f = new Float32Array([y])
  const u = new Uint32Array(f.buffer)
  u[0] = y > 0 ? u[0]! - 1 : u[0]! + 1
  return f[0]!
}

/** The smallest float32 at or above x: for a float32 v, `v >= x` exactly when `v >= up32(x)`. */
const up32 = (x: number): number => {
  const y = Math.fround(x)
  if (y >= x) return y
  const f = new Float32Array([y])
  const u = new Uint32Array(f.buffer)
  u[0] = y > 0 ? u[0]! + 1 : y === 0 ? 1 : u[0]! - 1
  return f[0]!
}

/** The float32 x's leading 12 significant bits (x − head12(x) is the other 12, exactly). */
const head12 = (x: number): number => {
  if (x === 0 || !Number.isFinite(x)) return x
  const e = Math.floor(Math.log2(Math.abs(x)))
  const q = 2 ** (e - 11)
  return Math.trunc(x / q) * q
}

/** A float64 as a pair of float32 (hi, lo) with hi + lo ≈ x to about 2^-48 relative. */
const split32 = (x: number): [string, string] => {
  const hi = Math.fround(x)
  const lo = Number.isFinite(hi) ? Math.fround(x - hi) : 0
  return [f32Bits(hi), f32Bits(lo)]
}

/** The WGSL of element `o` of a draw (each draw has `per` elements; the key is words 2d, 2d + 1 of A0). */
const elementCode = (p: RandomParams, per: number): string => {
  const key = `let d = o / ${per}; let i = u32(o % ${per}); let k0 = bitcast<u32>(A0[2 * d]); let k1 = bitcast<u32>(A0[2 * d + 1]);`
  switch (p.kind) {
    case "hash":
      return `fn value(o: i32) -> i32 {
  let d = o / 2; let k0 = bitcast<u32>(A0[2 * d]); let k1 = bitcast<u32>(A0[2 * d + 1]);
  let w = tf(k0, k1, ${p.a >>> 0}u, ${p.b >>> 0}u);
  return bitcast<i32>(select(w.x, w.y, o % 2 == 1));
}`
    case "bits":
      return `fn value(o: i32) -> i32 { ${key} return bitcast<i32>(word(k0, k1, i)); }`
    case "bernoulli": {
      // unit24(w) < a  ⇔  (w >> 8) < ceil(a · 2^24)  (w >> 8 an integer, a · 2^24 exact)
      const t = Number.isNaN(p.a) ? 0 : Math.min(2 ** 24, Math.max(0, Math.ceil(p.a * 2 ** 24)))
      return `fn value(o: i32) -> f32 { ${key} return b2f((word(k0, k1, i) >> 8u) < ${t}u); }`
    }
    case "randint":
      return `fn value(o: i32) -> i32 { ${key} return bitcast<i32>(${p.a >>> 0}u + below(k0, k1, i, ${(p.b - p.a) >>> 0}u)); }`
    case "uniform": {
      // minval + u · width with u = k · 2^-24: the products are split so that each is exact in f32 (k in
      // two 12-bit halves by integer shifts, width's float32 head in two 12-bit halves on the host), then
      // summed with error-free two-sums (no products there, so no contraction can change them), the rest
      // (minval's and width's float32 tails) added to the error terms, and the total rounded once
      const width = p.b - p.a
      const [mh, ml] = split32(p.a)
      const wh = Math.fround(width)
      const wl = Number.isFinite(wh) ? Math.fround(width - wh) : 0
      const whh = head12(wh)
      const whl = Math.fround(wh - whh)
      return `fn twoSum(a: f32, b: f32) -> vec2<f32> { let s = a + b; let bb = s - a; return vec2<f32>(s, (a - (s - bb)) + (b - bb)); }
fn value(o: i32) -> f32 {
  ${key}
  let k = word(k0, k1, i) >> 8u;
  let kh = f32(k >> 12u) * ${f32Bits(2 ** -12)};
  let kl = f32(k & 4095u) * ${f32Bits(2 ** -24)};
  let u = f32(k) * ${f32Bits(2 ** -24)};
  let s1 = twoSum(${mh}, kh * ${f32Bits(whh)});
  let s2 = twoSum(s1.x, kh * ${f32Bits(whl)});
  let s3 = twoSum(s2.x, kl * ${f32Bits(whh)});
  let s4 = twoSum(s3.x, kl * ${f32Bits(whl)});
  let e = ((s1.y + s2.y) + (s3.y + s4.y)) + (${ml} + u * ${f32Bits(wl)});
  let v = s4.x + e;
  return select(v, ${f32Bits(below32(p.b))}, v >= ${f32Bits(up32(p.b))});
}`
    }
    case "normal":
      return `fn value(o: i32) -> f32 {
  ${key}
  let j = i >> 1u;
  let w01 = tf(k0, k1, 0u, 2u * j);
  let w23 = tf(k0, k1, 0u, 2u * j + 1u);
  // u1 = 1 - unit53(w0, w1) = (2^53 - m) / 2^53 with m = hi · 2^26 + lo, formed exactly
  let hi = w01.x >> 5u; let lo = w01.y >> 6u;
  let dh = select(134217728u - hi, 134217727u - hi, lo > 0u);
  let dl = select(0u, 67108864u - lo, lo > 0u);
  var lg: f32;
  if (hi < 67108864u) {
    // m / 2^53 < 1/2: log(1 - x) as log1p(-x)
    lg = log1p_(-((f32(hi) * 67108864.0 + f32(lo)) * ${f32Bits(2 ** -53)}));
  } else {
    lg = log_((f32(dh) * 67108864.0 + f32(dl)) * ${f32Bits(2 ** -53)});
  }
  let r = sqrt_(-2.0 * lg);
  // 2π u2 = (π/2) · 4 u2: the quadrant q and the remainder f of 4 u2 from the integer (u2 = (h2 · 2^26 + l2) / 2^53)
  let h2 = w23.x >> 5u; let l2 = w23.y >> 6u;
  let q = ((h2 >> 24u) + 1u) >> 1u;
  let f = f32(i32(h2) - i32(q << 25u)) * ${f32Bits(2 ** -25)} + f32(l2) * ${f32Bits(2 ** -51)};
  let th = f * ${f32Bits(Math.fround(Math.PI / 2))} + f * ${f32Bits(Math.PI / 2 - Math.fround(Math.PI / 2))};
  let sn = sinPoly(th); let cs = cosPoly(th);
  let qm = q & 3u;
  // cos(qπ/2 + θ), sin(qπ/2 + θ)
  let c = select(select(select(sn, -cs, qm == 2u), -sn, qm == 1u), cs, qm == 0u);
  let s2 = select(select(select(-cs, -sn, qm == 2u), cs, qm == 1u), sn, qm == 0u);
  let z = r * select(c, s2, (i & 1u) == 1u);
  return ${f32Bits(p.a)} + ${f32Bits(p.b)} * z;
}`
    case "permutation":
      return ""
  }
}

/** The `random` kernel: `key` holds `[...batch, 2]` int32 words, one draw per key; `n` output elements. */
export const randomKernel = (device: Device, key: Handle, p: RandomParams, n: number, out: DType): Handle => {
  const draws = key.n / 2
  const per = p.kind === "hash" ? 2 : p.shape.reduce((a, b) => a * b, 1)
  const outType = out === "int32" ? "i32" : "f32"
  const head = `${mathLib}
@group(0) @binding(0) var<storage, read> A0: array<i32>;
@group(0) @binding(1) var<storage, read_write> O: array<${outType}>;
${threefryWgsl()}`
  const keyOf = `random:${JSON.stringify(p)}:${out}:${n}`
  if (p.kind === "permutation") {
    // Fisher–Yates, one invocation per draw (position j swaps with a uniform index in [0, j])
    return device.run({
      key: keyOf,
      code: () => `${head}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${uses(1)}
  let d = i32((wid.y * nw.x + wid.x) * 64u + li);
  if (d >= ${draws}) { return; }
  let k0 = bitcast<u32>(A0[2 * d]); let k1 = bitcast<u32>(A0[2 * d + 1]);
  let base = d * ${per};
  for (var i = 0; i < ${per}; i = i + 1) { O[base + i] = i; }
  for (var j = ${per - 1}; j > 0; j = j - 1) {
    let r = i32(below(k0, k1, u32(j), u32(j + 1)));
    let t = O[base + j];
    O[base + j] = O[base + r];
    O[base + r] = t;
  }
}`,
      inputs: [key],
      n,
      dtype: out,
      groups: grid(Math.ceil(draws / 64))
    })
  }
  return device.run({
    key: keyOf,
    code: () => `${head}
${elementCode(p, per)}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${uses(1)}
  let o = i32((wid.y * nw.x + wid.x) * 64u + li);
  if (o >= ${n}) { return; }
  O[o] = value(o);
}`,
    inputs: [key],
    n,
    dtype: out
  })
}
