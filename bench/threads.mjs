// Thread scaling of the CPU backend, in one process: every workload runs on
// CpuBackend.layerWith({ threads: 1 }) and on { threads: T } alternately
// (1, T, 1, T, …), so both see the same machine load; prints the medians and
// their ratio, and the machine's load average before and after. The CPU
// time per call (all threads of the process, spinning included) says how
// much the threads add in work: on a loaded machine, where wall time cannot
// scale, it still shows the split costing little.
//
// `--sweep` also measures the thresholds below which a kernel stays on one
// thread (GEMM_PAR_MIN, UNARY_PAR_MIN in packages/core/src/internal/cpu/wasm.ts,
// FUSED_PAR_MIN in fused-threads.ts, REDUCE_PAR_MIN in reduce.ts): with the
// thresholds at 0 (always split) against one thread, for products, sin,
// a fused loop and a sum of growing size; a size is worth splitting where
// the ratio is above 1. It ends by printing the thresholds it would choose
// (the smallest size from which every larger one is ≥ 1.1× faster split)
// next to the current ones.
//
//   node bench/threads.mjs [--threads 2] [--reps 15] [--sweep] [--only matmul512,mlp]
import os from "node:os"
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { CpuBackend, Tensor } from "@diffect/core"
import * as T from "@diffect/transforms"
import { inputs } from "./common.mjs"
import { relaxedHere } from "./wasm-flags.mjs"
import { elemChain, mlpProblem } from "./libs/diffect.mjs"

const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : dflt
}
const threads = Number(opt("threads", 2))
const reps = Number(opt("reps", 15))
const only = opt("only", undefined)?.split(",")

const scope = Effect.runSync(Scope.make())
const contextOf = (n) => Effect.runSync(Layer.buildWithScope(CpuBackend.layerWith({ threads: n }), scope))
const ctx1 = contextOf(1), ctxT = contextOf(threads)
const f32 = (data, shape) => Tensor.make(data, { shape })
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]

/** CPU time (user + system, all threads of the process) of each timed call, by context. */
const cpu = new Map()
/** Times `make()` (an Effect) on both contexts alternately; returns the medians in ms. */
const compare = async (make) => {
  cpu.set(ctx1, []).set(ctxT, [])
  const once = async (ctx) => {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await Effect.runPromise(Effect.provide(make(), ctx))
    const ms = performance.now() - t0
    const c = process.cpuUsage(c0)
    cpu.get(ctx).push((c.user + c.system) / 1000)
    return ms
  }
  for (let i = 0; i < 3; i++) await once(ctx1), await once(ctxT) // warm-up (and the workers start)
  await new Promise((r) => setTimeout(r, 100))
  cpu.set(ctx1, []).set(ctxT, [])
  const t1 = [], tT = []
  for (let r = 0; r < reps; r++) {
    t1.push(await once(ctx1))
    tT.push(await once(ctxT))
  }
  return [median(t1), median(tT)]
}

const workloads = {
  matmul64: () => matmul(64),
  matmul128: () => matmul(128),
  matmul256: () => matmul(256),
  matmul512: () => matmul(512),
  // the MLP step's two large products (784-256-10, batch 128), jitted as in mlpJit: x·W1 and xᵀ·δ
  mlpXW: () => {
    const I = inputs("mlp")
    const x = f32(I.x, [I.batch, I.inp]), w = f32(I.w1, [I.inp, I.hidden])
    const f = T.jit((x, w) => Tensor.matmul(x, w))
    return () => Effect.flatMap(f(x, w), Tensor.data)
  },
  mlpXtD: () => {
    const I = inputs("mlp")
    const x = f32(I.x, [I.batch, I.inp]), d = f32(Float32Array.from({ length: I.batch * I.hidden }, (_, i) => Math.sin(i)), [I.batch, I.hidden])
    const f = T.jit((x, d) => Tensor.matmul(Tensor.transpose(x), d))
    return () => Effect.flatMap(f(x, d), Tensor.data)
  },
  mlp: () => {
    const I = inputs("mlp")
    const { x, onehot, vars, loss } = mlpProblem(I)
    const vg = T.valueAndGrad(loss, { gradVars: vars })
    return () => Effect.flatMap(vg(x, onehot), ([value, grads]) => Effect.all([value, ...grads].map(Tensor.data)))
  },
  mlpJit: () => {
    const I = inputs("mlp")
    const { x, onehot, vars, loss } = mlpProblem(I)
    const vg = T.jit(T.valueAndGrad(loss, { gradVars: vars }))
    return () => Effect.flatMap(vg(x, onehot), ([value, grads]) => Effect.all([value, ...grads].map(Tensor.data)))
  },
  sum1M: () => {
    const x = f32(inputs("elemGrad").x, [1_000_000])
    return () => Tensor.data(Tensor.sum(x))
  },
  biasGrad: () => {
    // a bias gradient's reduction: the leading axis of [4096, 256]
    const x = f32(Float32Array.from({ length: 4096 * 256 }, (_, i) => Math.sin(i)), [4096, 256])
    return () => Tensor.data(Tensor.sum(x, { axis: 0 }))
  },
  elemGrad: () => {
    const x = f32(inputs("elemGrad").x, [1_000_000])
    const g = T.grad((x) => Tensor.sum(elemChain(x)))
    return () => Effect.flatMap(g(x), Tensor.data)
  },
  elemGradJit: () => {
    const x = f32(inputs("elemGrad").x, [1_000_000])
    const g = T.jit(T.grad((x) => Tensor.sum(elemChain(x))))
    return () => Effect.flatMap(g(x), Tensor.data)
  }
}
const matmul = (n) => {
  const a = f32(Float32Array.from({ length: n * n }, (_, i) => Math.sin(i)), [n, n])
  const b = f32(Float32Array.from({ length: n * n }, (_, i) => Math.cos(i)), [n, n])
  return () => Tensor.data(Tensor.matmul(a, b))
}

const fmt = (ms) => (ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`)
console.log(`${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}, WebAssembly relaxed SIMD ${relaxedHere ? "on" : "off (Node 20: node --experimental-wasm-relaxed-simd bench/threads.mjs)"}; load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
console.log(`| workload | 1 thread | ${threads} threads | speed-up | CPU time per call, 1 thread | ${threads} threads |`)
console.log("|---|---|---|---|---|---|")
for (const [id, make] of Object.entries(workloads)) {
  if (only && !only.includes(id)) continue
  const [a, b] = await compare(make())
  const gf = id.startsWith("matmul") ? (n) => ` (${((2 * Number(id.slice(6)) ** 3) / n / 1e6).toFixed(1)} GFLOP/s)` : () => ""
  console.log(`| ${id} | ${fmt(a)}${gf(a)} | ${fmt(b)}${gf(b)} | ${(a / b).toFixed(2)}× | ${fmt(median(cpu.get(ctx1)))} | ${fmt(median(cpu.get(ctxT)))} |`)
}

/**
 * The threshold a sweep chooses: the smallest size from which every larger
 * size measured splits faster than one thread by MARGIN; Infinity when none
 * does (then the kernel would stay on one thread).
 */
const MARGIN = 1.1
const choose = (rows) => {
  let pick = Infinity
  for (let i = rows.length - 1; i >= 0 && rows[i].ratio >= MARGIN; i--) pick = rows[i].size
  return pick
}

if (argv.includes("--sweep")) {
  const { setParallelThresholds, setFusedThreshold, setReduceThreshold } = (await import("@diffect/core")).Internal
  const was = setParallelThresholds({ gemm: 0, unary: 0 })
  const wasFused = setFusedThreshold(0)
  const wasReduce = setReduceThreshold(0)
  const loadBefore = os.loadavg()[0]
  console.log(`\nThresholds (always split on ${threads} threads, against 1 thread):`)
  console.log("| kernel | size | work | 1 thread | split | ratio | CPU time, 1 thread | split |")
  console.log("|---|---|---|---|---|---|---|---|")
  const cpuCells = () => `${fmt(median(cpu.get(ctx1)))} | ${fmt(median(cpu.get(ctxT)))} |`
  const found = { gemm: [], unary: [], fused: [], reduce: [] }
  const row = (key, kernel, size, label, work, t1, tT) => {
    found[key].push({ size, ratio: t1 / tT })
    console.log(`| ${kernel} | ${label} | ${work} | ${fmt(t1)} | ${fmt(tT)} | ${(t1 / tT).toFixed(2)}× | ${cpuCells()}`)
  }
  for (const [m, k, n] of [[32, 64, 64], [64, 64, 64], [64, 128, 128], [128, 128, 128], [128, 256, 128], [128, 256, 256], [256, 256, 256]]) {
    const a = f32(Float32Array.from({ length: m * k }, (_, i) => Math.sin(i)), [m, k])
    const b = f32(Float32Array.from({ length: k * n }, (_, i) => Math.cos(i)), [k, n])
    const [t1, tT] = await compare(() => Tensor.data(Tensor.matmul(a, b)))
    row("gemm", "matmul", m * k * n, `${m}×${k}×${n}`, `${m * k * n} MACs`, t1, tT)
  }
  for (const n of [16384, 32768, 65536, 131072, 262144]) {
    const x = f32(Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3), [n])
    const [t1, tT] = await compare(() => Tensor.data(Tensor.sin(x)))
    row("unary", "sin", n, n, `${n} elements`, t1, tT)
  }
  for (const n of [16384, 32768, 65536, 131072, 262144, 1048576]) {
    const x = f32(Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3), [n])
    const [t1, tT] = await compare(() => Tensor.data(Tensor.add(Tensor.mul(Tensor.tanh(x), x), Tensor.mul(x, 0.5))))
    row("fused", "fused tanh(x)·x + x/2", n, n, `${n} elements`, t1, tT)
  }
  for (const n of [16384, 32768, 65536, 131072, 262144, 524288, 1048576]) {
    const x = f32(Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3), [n])
    const [t1, tT] = await compare(() => Tensor.data(Tensor.sum(x)))
    row("reduce", "sum", n, n, `${n} elements`, t1, tT)
  }
  setParallelThresholds(was)
  setFusedThreshold(wasFused)
  setReduceThreshold(wasReduce)
  const loadAfter = os.loadavg()[0]
  const show = (t) => (t === Infinity ? "Infinity (no size measured splits faster)" : String(t))
  console.log(`\nThresholds this sweep would choose (the smallest size from which every larger one splits ≥ ${MARGIN}× faster), load ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}:`)
  console.log(`  GEMM_PAR_MIN    (wasm.ts, multiply-adds):  ${show(choose(found.gemm))}   now ${was.gemm}`)
  console.log(`  UNARY_PAR_MIN   (wasm.ts, elements):       ${show(choose(found.unary))}   now ${was.unary}`)
  console.log(`  FUSED_PAR_MIN   (fused-threads.ts):        ${show(choose(found.fused))}   now ${wasFused}`)
  console.log(`  REDUCE_PAR_MIN  (reduce.ts, elements):     ${show(choose(found.reduce))}   now ${wasReduce}`)
  if (Math.max(loadBefore, loadAfter) >= os.cpus().length - 0.5)
    console.log(`  (the load average is near or above the ${os.cpus().length} cores: the other threads share cores with other processes, so these are not the idle machine's thresholds)`)
}
console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
await Effect.runPromise(Scope.close(scope, Effect.void))
