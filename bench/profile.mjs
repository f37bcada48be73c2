// Where diffect's time goes on one workload: wraps every CPU kernel with a
// timer and reports time per primitive, plus the time outside kernels
// (graph building, interpretation, evaluation bookkeeping, Effect).
//   node bench/profile.mjs [mlp|hess128|jacrev128|jacfwd128|elem|elemGrad|matmul512] [reps]
// PROFILE_JIT=1 profiles the workload wrapped in `jit` (bench/libs/diffect-jit.mjs).
// PROFILE_THREADS=n profiles it on CpuBackend.layerWith({ threads: n }) (default: the default backend).
import { performance } from "node:perf_hooks"
import { Backend, Internal } from "@diffect/core"
import { Context } from "effect"
import { inputs } from "./common.mjs"
import eager, { withThreads as eagerThreads } from "./libs/diffect.mjs"
import jitted, { withThreads as jitThreads } from "./libs/diffect-jit.mjs"
const threads = process.env.PROFILE_THREADS === undefined ? undefined : Number(process.env.PROFILE_THREADS)
const adapter =
  threads === undefined
    ? process.env.PROFILE_JIT ? jitted : eager
    : (process.env.PROFILE_JIT ? jitThreads : eagerThreads)("profiled", threads)

const id = process.argv[2] ?? "mlp"
const reps = Number(process.argv[3] ?? 20)
await adapter.init()
// the backend the adapter runs on: the default CPU backend, or the one of its own thread count
const cpu = Context.get(adapter.context?.() ?? Context.empty(), Backend)
void Internal
const stats = new Map()
const wrap = (table, tag) => {
  if (!table) return
  for (const [name, k] of Object.entries(table)) {
    table[name] = (args, params, out) => {
      const t0 = performance.now()
      const r = k(args, params, out)
      const dt = performance.now() - t0
      const key = `${name}${tag} ${args.map((a) => `[${a.shape}]${a.strides ? `/[${a.strides}]` : ""}`).join(" ")} -> [${out.shape}]`
      const s = stats.get(key) ?? { n: 0, ms: 0 }
      s.n++
      s.ms += dt
      stats.set(key, s)
      return r
    }
  }
}
wrap(cpu.kernels, "")
wrap(cpu.viewKernels, " (view)")
if (cpu.fusion) {
  const fusedRaw = cpu.fusion.kernel
  cpu.fusion = {
    ...cpu.fusion,
    kernel: (program, args, out) => {
      const t0 = performance.now()
      const r = fusedRaw(program, args, out)
      const key = `fused{${program.map((op) => op.prim).join(",")}} ${args.map((a) => `[${a.shape}]${a.strides ? `/[${a.strides}]` : ""}`).join(" ")} -> [${out.shape}]`
      const s = stats.get(key) ?? { n: 0, ms: 0 }
      s.n++
      s.ms += performance.now() - t0
      stats.set(key, s)
      return r
    }
  }
}
const run = await adapter.prepare(id, inputs(id))
for (let i = 0; i < 5; i++) await run()
stats.clear()
const t0 = performance.now()
for (let i = 0; i < reps; i++) await run()
const total = (performance.now() - t0) / reps
let inKernels = 0
const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms)
for (const [, s] of rows) inKernels += s.ms / reps
console.log(`${id}: ${total.toFixed(2)} ms per call, ${inKernels.toFixed(2)} ms in kernels, ${(total - inKernels).toFixed(2)} ms outside`)
for (const [k, s] of rows.slice(0, 30)) console.log(`${(s.ms / reps).toFixed(3).padStart(8)} ms  ${String(s.n / reps).padStart(4)}×  ${k}`)
