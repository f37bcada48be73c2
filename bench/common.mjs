// Shared by the harness and every child: the workloads, their deterministic
// float32 inputs, float64 references, and the result check.

/** mulberry32: a small deterministic PRNG (same numbers in every process). */
const rng = (seed) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** n float32 values uniform in [lo, hi). */
export const uniform = (seed, n, lo = -1, hi = 1) => {
  const r = rng(seed)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r()
  return out
}

export const MLP = { batch: 128, inp: 784, hidden: 256, out: 10 }
export const ELEM_N = 1_000_000
export const OPS_CHAIN = 1000
/** The conv2d layer of a small CNN: x [N, C, H, W], kernel [O, C, K, K], SAME, stride 1 (PyTorch layout). */
export const CONV = { n: 32, c: 3, h: 32, w: 32, o: 16, k: 3 }
export const LINALG_N = 256
/** The rate network of the control-flow rows: x ← x + dt·(tanh(W x) − x), loss mean(x_T²), gradient with respect to W. */
export const BPTT = { n: 64, steps: 1000, dt: 0.1, gain: 1.5 }
/** Gather: rows of a table [rows, cols] taken by int32 indices (with repeats); its gradient is a scatter-add. */
export const GATHER = { rows: 100_000, cols: 64, ids: 10_000 }
export const SORT_N = 1_000_000

/**
 * The workloads, in table order. `kind`: how the row is reported ("time",
 * "gflops" adds GFLOP/s, "perop" reports µs per op).
 */
export const workloads = [
  { id: "matmul64", label: "matmul 64×64 (GFLOP/s)", kind: "gflops", flops: 2 * 64 ** 3 },
  { id: "matmul256", label: "matmul 256×256 (GFLOP/s)", kind: "gflops", flops: 2 * 256 ** 3 },
  { id: "matmul512", label: "matmul 512×512 (GFLOP/s)", kind: "gflops", flops: 2 * 512 ** 3 },
  { id: "mlp", label: "MLP 784-256-10 b128 value+grad", kind: "time" },
  { id: "hess32", label: "hessian sum(tanh(Ax)²) n=32", kind: "time" },
  { id: "hess128", label: "hessian sum(tanh(Ax)²) n=128", kind: "time" },
  { id: "jacrev128", label: "jacrev tanh(Ax) n=128", kind: "time" },
  { id: "jacfwd128", label: "jacfwd tanh(Ax) n=128", kind: "time" },
  { id: "elem", label: "sin·cos+exp(−x²), 10⁶", kind: "time" },
  { id: "elemGrad", label: "grad of sum of it, 10⁶", kind: "time" },
  { id: "opChain", label: `1-element op chain (µs/op, ${OPS_CHAIN} adds)`, kind: "perop", ops: OPS_CHAIN },
  { id: "jitReplay", label: `jitted 2x+1 of a 1-element tensor, replayed (µs/call, ${OPS_CHAIN} calls)`, kind: "perop", ops: OPS_CHAIN },
  { id: "conv2d", label: "conv2d b32 3→16 32×32 3×3 SAME", kind: "time" },
  { id: "conv2dGrad", label: "  its input and kernel gradients", kind: "time" },
  { id: "solve256", label: "solve 256×256 (LU, one right-hand side)", kind: "time" },
  { id: "cholesky256", label: "cholesky 256×256", kind: "time" },
  { id: "bptt", label: `rate network n=${BPTT.n}, T=${BPTT.steps}: value+grad through time (µs/step)`, kind: "perop", ops: BPTT.steps },
  { id: "gather", label: "take 10⁴ rows of a 10⁵×64 table", kind: "time" },
  { id: "gatherGrad", label: "  its gradient (scatter-add into the table)", kind: "time" },
  { id: "sort", label: "sort 10⁶ float32", kind: "time" },
  { id: "argsort", label: "argsort 10⁶ float32", kind: "time", exact: true },
  { id: "opBuild", label: "  diffect: graph building only (µs/op)", kind: "perop", ops: OPS_CHAIN, only: "diffect" },
  { id: "effectRead", label: "  diffect: Effect.runSync(Tensor.data) of a const (µs/call)", kind: "perop", ops: OPS_CHAIN, only: "diffect" }
]

const memo = new Map()
const cached = (key, f) => {
  if (!memo.has(key)) memo.set(key, f())
  return memo.get(key)
}

/** The float32 inputs of a workload (the same in every process). */
export const inputs = (id) =>
  cached(`in:${id}`, () => {
    if (id.startsWith("matmul")) {
      const n = Number(id.slice(6))
      return { n, a: uniform(11 + n, n * n), b: uniform(13 + n, n * n) }
    }
    if (id === "mlp" || id === "firstCall") {
      const { batch, inp, hidden, out } = MLP
      const labels = new Int32Array(batch)
      const r = rng(7)
      for (let i = 0; i < batch; i++) labels[i] = Math.floor(r() * out)
      const onehot = new Float32Array(batch * out)
      for (let i = 0; i < batch; i++) onehot[i * out + labels[i]] = 1
      const g1 = Math.sqrt(6 / (inp + hidden))
      const g2 = Math.sqrt(6 / (hidden + out))
      return {
        ...MLP,
        x: uniform(1, batch * inp, 0, 1),
        onehot,
        w1: uniform(2, inp * hidden, -g1, g1),
        b1: uniform(3, hidden, -0.1, 0.1),
        w2: uniform(4, hidden * out, -g2, g2),
        b2: uniform(5, out, -0.1, 0.1)
      }
    }
    if (id.startsWith("hess") || id.startsWith("jac")) {
      const n = Number(id.replace(/\D+/g, ""))
      const s = 1 / Math.sqrt(n)
      return { n, a: uniform(21 + n, n * n, -2 * s, 2 * s), x: uniform(23 + n, n, -1, 1) }
    }
    if (id === "elem" || id === "elemGrad") return { n: ELEM_N, x: uniform(31, ELEM_N, -3, 3) }
    if (id === "opChain" || id === "opBuild" || id === "effectRead" || id === "jitReplay") return { n: OPS_CHAIN, x: Float32Array.of(0.5) }
    if (id === "conv2d" || id === "conv2dGrad") {
      const { n, c, h, w, o, k } = CONV
      return { ...CONV, x: uniform(41, n * c * h * w), kernel: uniform(42, o * c * k * k, -0.5, 0.5), ct: uniform(43, n * o * h * w) }
    }
    if (id === "solve256") {
      const n = LINALG_N
      const a = uniform(51, n * n)
      for (let i = 0; i < n; i++) a[i * n + i] += 16 // well conditioned
      return { n, a, b: uniform(52, n) }
    }
    if (id === "cholesky256") {
      const n = LINALG_N
      const m = uniform(53, n * n)
      const a = new Float32Array(n * n)
      for (let i = 0; i < n; i++)
        for (let j = 0; j <= i; j++) {
          let s = i === j ? 1 : 0
          for (let p = 0; p < n; p++) s += (m[i * n + p] * m[j * n + p]) / n
          a[i * n + j] = s
          a[j * n + i] = s
        }
      return { n, a }
    }
    if (id === "bptt") {
      const { n, gain } = BPTT
      const a = (gain * Math.sqrt(3)) / Math.sqrt(n) // uniform(−a, a) has standard deviation gain/√n
      return { ...BPTT, w: uniform(61, n * n, -a, a), x0: uniform(62, n, -1, 1) }
    }
    if (id === "gather" || id === "gatherGrad") {
      const { rows, cols, ids } = GATHER
      const r = rng(61)
      const idx = new Int32Array(ids)
      for (let i = 0; i < ids; i++) idx[i] = Math.floor(r() * rows)
      return { ...GATHER, table: uniform(62, rows * cols), idx, ct: uniform(63, ids * cols) }
    }
    if (id === "sort" || id === "argsort") {
      // distinct values (a shuffled grid in [-1, 1)), so the sorting permutation is unique
      const n = SORT_N, r = rng(71)
      const x = new Float32Array(n)
      for (let i = 0; i < n; i++) x[i] = -1 + (2 * i + 1) / n
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1))
        const t = x[i]
        x[i] = x[j]
        x[j] = t
      }
      return { n, x }
    }
    throw new Error(`no inputs for ${id}`)
  })

// ------------------------------------------------------------------ float64 references

const matmul64 = (a, b, m, k, n) => {
  const out = new Float64Array(m * n)
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p]
      if (x === 0) continue
      for (let j = 0; j < n; j++) out[i * n + j] += x * b[p * n + j]
    }
  return out
}
const transpose64 = (a, m, n) => {
  const out = new Float64Array(m * n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = a[i * n + j]
  return out
}

/** The float64 reference outputs (an array of arrays, in the order adapters return them). */
/** x = A⁻¹ b in float64, by Gaussian elimination with partial pivoting (A: n × n, row-major). */
export const solveReference = (aIn, bIn, n) => {
  const a = Float64Array.from(aIn), x = Float64Array.from(bIn)
  for (let col = 0; col < n; col++) {
    let piv = col
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]) > Math.abs(a[piv * n + col])) piv = r
    for (let j = 0; j < n; j++) [a[col * n + j], a[piv * n + j]] = [a[piv * n + j], a[col * n + j]]
    ;[x[col], x[piv]] = [x[piv], x[col]]
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col] / a[col * n + col]
      for (let j = col; j < n; j++) a[r * n + j] -= f * a[col * n + j]
      x[r] -= f * x[col]
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r]
    for (let j = r + 1; j < n; j++) s -= a[r * n + j] * x[j]
    x[r] = s / a[r * n + r]
  }
  return x
}

export const reference = (id) =>
  cached(`ref:${id}`, () => {
    const I = inputs(id)
    if (id.startsWith("matmul")) return [matmul64(I.a, I.b, I.n, I.n, I.n)]
    if (id === "mlp" || id === "firstCall") {
      const { batch: B, inp, hidden: H, out: O } = I
      const pre = matmul64(I.x, I.w1, B, inp, H)
      for (let i = 0; i < B; i++) for (let j = 0; j < H; j++) pre[i * H + j] += I.b1[j]
      const h = pre.map((v) => (v > 0 ? v : 0))
      const z = matmul64(h, I.w2, B, H, O)
      for (let i = 0; i < B; i++) for (let j = 0; j < O; j++) z[i * O + j] += I.b2[j]
      let loss = 0
      const dz = new Float64Array(B * O)
      for (let i = 0; i < B; i++) {
        let mx = -Infinity
        for (let j = 0; j < O; j++) mx = Math.max(mx, z[i * O + j])
        let s = 0
        for (let j = 0; j < O; j++) s += Math.exp(z[i * O + j] - mx)
        const lse = mx + Math.log(s)
        for (let j = 0; j < O; j++) {
          const logp = z[i * O + j] - lse
          loss -= (I.onehot[i * O + j] * logp) / B
          dz[i * O + j] = (Math.exp(logp) - I.onehot[i * O + j]) / B
        }
      }
      const dw2 = matmul64(transpose64(h, B, H), dz, H, B, O)
      const db2 = new Float64Array(O)
      for (let i = 0; i < B; i++) for (let j = 0; j < O; j++) db2[j] += dz[i * O + j]
      const dh = matmul64(dz, transpose64(I.w2, H, O), B, O, H)
      for (let i = 0; i < B * H; i++) if (!(pre[i] > 0)) dh[i] = 0
      const dw1 = matmul64(transpose64(I.x, B, inp), dh, inp, B, H)
      const db1 = new Float64Array(H)
      for (let i = 0; i < B; i++) for (let j = 0; j < H; j++) db1[j] += dh[i * H + j]
      return [Float64Array.of(loss), dw1, db1, dw2, db2]
    }
    if (id.startsWith("hess") || id.startsWith("jac")) {
      const { n, a, x } = I
      const t = matmul64(a, x, n, n, 1).map(Math.tanh)
      if (id.startsWith("jac")) {
        // J[i, j] = (1 - t_i²) A[i, j]
        const J = new Float64Array(n * n)
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) J[i * n + j] = (1 - t[i] ** 2) * a[i * n + j]
        return [J]
      }
      // f = Σ t², H = Aᵀ diag((2 − 6t²)(1 − t²)) A
      const w = t.map((ti) => (2 - 6 * ti * ti) * (1 - ti * ti))
      const H = new Float64Array(n * n)
      for (let k = 0; k < n; k++)
        for (let i = 0; i < n; i++) {
          const aki = a[k * n + i] * w[k]
          for (let j = 0; j < n; j++) H[i * n + j] += aki * a[k * n + j]
        }
      return [H]
    }
    if (id === "elem") return [Float64Array.from(I.x, (x) => Math.sin(x) * Math.cos(x) + Math.exp(-x * x))]
    if (id === "elemGrad") return [Float64Array.from(I.x, (x) => Math.cos(2 * x) - 2 * x * Math.exp(-x * x))]
    if (id === "opChain" || id === "opBuild" || id === "effectRead") return [Float64Array.of(0.5 + OPS_CHAIN)]
    if (id === "jitReplay") return [Float64Array.of(2)]
    if (id === "conv2d" || id === "conv2dGrad") {
      const { n, c, h, w, o, k, x, kernel, ct } = I
      const p = (k - 1) >> 1 // SAME, odd k
      const at = (b, ci, r, q) => (r < 0 || r >= h || q < 0 || q >= w ? 0 : x[((b * c + ci) * h + r) * w + q])
      if (id === "conv2d") {
        const y = new Float64Array(n * o * h * w)
        for (let b = 0; b < n; b++)
          for (let oc = 0; oc < o; oc++)
            for (let r = 0; r < h; r++)
              for (let q = 0; q < w; q++) {
                let s = 0
                for (let ci = 0; ci < c; ci++)
                  for (let u = 0; u < k; u++) for (let v = 0; v < k; v++) s += at(b, ci, r + u - p, q + v - p) * kernel[((oc * c + ci) * k + u) * k + v]
                y[((b * o + oc) * h + r) * w + q] = s
              }
        return [y]
      }
      // loss = Σ ct · conv(x, kernel): dx[b, ci, r', q'] = Σ ct[b, oc, r, q] kernel[oc, ci, u, v] with r' = r + u − p; dkernel likewise
      const dx = new Float64Array(n * c * h * w), dk = new Float64Array(o * c * k * k)
      for (let b = 0; b < n; b++)
        for (let oc = 0; oc < o; oc++)
          for (let r = 0; r < h; r++)
            for (let q = 0; q < w; q++) {
              const g = ct[((b * o + oc) * h + r) * w + q]
              for (let ci = 0; ci < c; ci++)
                for (let u = 0; u < k; u++)
                  for (let v = 0; v < k; v++) {
                    const rr = r + u - p, qq = q + v - p
                    if (rr < 0 || rr >= h || qq < 0 || qq >= w) continue
                    const xi = ((b * c + ci) * h + rr) * w + qq, ki = ((oc * c + ci) * k + u) * k + v
                    dx[xi] += g * kernel[ki]
                    dk[ki] += g * x[xi]
                  }
            }
      return [dx, dk]
    }
    if (id === "solve256") {
      return [solveReference(I.a, I.b, I.n)]
    }
    if (id === "cholesky256") {
      const { n, a } = I
      const l = new Float64Array(n * n)
      for (let i = 0; i < n; i++)
        for (let j = 0; j <= i; j++) {
          let s = a[i * n + j]
          for (let p = 0; p < j; p++) s -= l[i * n + p] * l[j * n + p]
          l[i * n + j] = i === j ? Math.sqrt(s) : s / l[j * n + j]
        }
      return [l]
    }
    if (id === "bptt") {
      // forward in float64 keeping every state, then the adjoint sweep backwards
      const { n, steps, dt, w } = I
      const xs = [Float64Array.from(I.x0)]
      for (let t = 0; t < steps; t++) {
        const x = xs[t], next = new Float64Array(n)
        for (let i = 0; i < n; i++) {
          let s = 0
          for (let j = 0; j < n; j++) s += w[i * n + j] * x[j]
          next[i] = x[i] + dt * (Math.tanh(s) - x[i])
        }
        xs.push(next)
      }
      const xT = xs[steps]
      let loss = 0
      for (let i = 0; i < n; i++) loss += (xT[i] * xT[i]) / n
      let adj = Float64Array.from(xT, (v) => (2 * v) / n)
      const dW = new Float64Array(n * n)
      for (let t = steps - 1; t >= 0; t--) {
        const x = xs[t], back = Float64Array.from(adj, (v) => v * (1 - dt))
        for (let i = 0; i < n; i++) {
          let s = 0
          for (let j = 0; j < n; j++) s += w[i * n + j] * x[j]
          const th = Math.tanh(s), g = adj[i] * dt * (1 - th * th)
          for (let j = 0; j < n; j++) {
            dW[i * n + j] += g * x[j]
            back[j] += g * w[i * n + j]
          }
        }
        adj = back
      }
      return [Float64Array.of(loss), dW]
    }
    if (id === "gather") {
      const { cols, idx, table } = I
      const y = new Float64Array(idx.length * cols)
      for (let i = 0; i < idx.length; i++) for (let j = 0; j < cols; j++) y[i * cols + j] = table[idx[i] * cols + j]
      return [y]
    }
    if (id === "gatherGrad") {
      // d/dtable of Σ ct · take(table, idx): repeated indices accumulate
      const { rows, cols, idx, ct } = I
      const d = new Float64Array(rows * cols)
      for (let i = 0; i < idx.length; i++) for (let j = 0; j < cols; j++) d[idx[i] * cols + j] += ct[i * cols + j]
      return [d]
    }
    if (id === "sort" || id === "argsort") {
      const order = Array.from(I.x.keys()).sort((i, j) => I.x[i] - I.x[j])
      return [id === "sort" ? Float64Array.from(order, (i) => I.x[i]) : Float64Array.from(order)]
    }
    throw new Error(`no reference for ${id}`)
  })

/**
 * Compares outputs with the reference: for each output the largest absolute
 * difference scaled by the largest reference magnitude. Returns
 * `{ ok, err, why }`; float32 results pass within `tol` (0 for the rows
 * marked `exact`: integer results such as argsort's permutation).
 */
export const check = (id, outs, tol = workloads.find((w) => w.id === id)?.exact ? 0 : 1e-3) => {
  const ref = reference(id)
  if (!Array.isArray(outs) || outs.length !== ref.length) return { ok: false, err: Infinity, why: `expected ${ref.length} outputs, got ${outs?.length}` }
  let worst = 0
  for (let k = 0; k < ref.length; k++) {
    const r = ref[k], y = outs[k]
    if (!y || y.length !== r.length) return { ok: false, err: Infinity, why: `output ${k}: expected ${r.length} values, got ${y?.length}` }
    let scale = 0
    for (let i = 0; i < r.length; i++) scale = Math.max(scale, Math.abs(r[i]))
    scale = Math.max(scale, 1e-12)
    for (let i = 0; i < r.length; i++) {
      const e = Math.abs(y[i] - r[i]) / scale
      if (!(e <= tol)) return { ok: false, err: e, why: `output ${k}[${i}] = ${y[i]}, reference ${r[i]}` }
      if (e > worst) worst = e
    }
  }
  return { ok: true, err: worst }
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
