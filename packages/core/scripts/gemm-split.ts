// How well the float32 GEMM kernel alone scales from one thread to two on
// this machine, with none of the backend's work around it (no copies into
// linear memory, no packing, no job control block): the calling thread
// and one node:worker_threads worker instantiate the same WebAssembly module
// on one shared memory and claim row blocks of C = A · B with an atomic
// counter, as the worker pool does (wasm.ts's gemmRows and kBlock for two
// threads). Solo: the whole product in one gemmF32 call on
// the calling thread. Both are run alternately, 31 times per shape; prints
// the medians and their ratio: the most a split product can gain here.
//   node --experimental-wasm-relaxed-simd --import tsx packages/core/scripts/gemm-split.ts
import { Worker } from "node:worker_threads"
import { gemmRows, kBlock } from "../src/internal/cpu/wasm.js"
import { wasmSharedBase64, wasmSharedRelaxedBase64 } from "../src/internal/cpu/wasm-module.js"

const bytesOf = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
const relaxed = WebAssembly.validate(bytesOf(wasmSharedRelaxedBase64))
const module = new WebAssembly.Module(bytesOf(relaxed ? wasmSharedRelaxedBase64 : wasmSharedBase64))
const memory = new WebAssembly.Memory({ initial: 1, maximum: 8192, shared: true } as WebAssembly.MemoryDescriptor)
type Gemm = (a: number, ars: number, acs: number, b: number, c: number, mp: number, np: number, k: number, kc: number, nc: number) => void
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as { heapBase: () => number; gemmF32: Gemm }
const ctl = new Int32Array(new SharedArrayBuffer(64))

// [m, k, n, A transposed]: the MLP step's two large products (784-256-10, batch 128) and square ones
const shapes: ReadonlyArray<readonly [number, number, number, boolean]> = [
  [128, 784, 256, false],
  [784, 128, 256, true],
  [256, 256, 256, false],
  [512, 512, 512, false]
]
const base = (ex.heapBase() + 15) & ~15
const most = Math.max(...shapes.map(([m, k, n]) => m * k + k * n + m * n))
memory.grow(Math.ceil((base + 4 * most) / 65536))
const F = new Float32Array(memory.buffer)
for (let i = base >> 2; i < (base >> 2) + most; i++) F[i] = Math.random() - 0.5

// one product's blocks of rows, claimed with the counter at ctl[0]; the same text on both threads
const claimText = `(ex, ctl, p) => {
  let ran = 0
  for (;;) {
    const c = Atomics.add(ctl, 0, 1)
    if (c >= p.blocks) return ran
    const i0 = c * p.rows
    ex.gemmF32(p.a + i0 * p.ars, p.ars, p.acs, p.b, p.c + 4 * i0 * p.n, Math.min(p.rows, p.m - i0), p.n, p.k, p.kc, 64)
    ran++
  }
}`
interface Job { a: number; ars: number; acs: number; b: number; c: number; m: number; k: number; n: number; kc: number; rows: number; blocks: number }
const claim = (0, eval)(claimText) as (e: typeof ex, ctl: Int32Array, p: Job) => number
const worker = new Worker(
  `const { parentPort, workerData } = require("node:worker_threads")
   const ex = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports
   const ctl = new Int32Array(workerData.ctl)
   const claim = ${claimText}
   parentPort.on("message", (p) => { Atomics.add(ctl, 1, 1); while (Atomics.load(ctl, 2) === 0); parentPort.postMessage(claim(ex, ctl, p)) })`,
  { eval: true, workerData: { module, memory, ctl: ctl.buffer } }
)
const median = (xs: ReadonlyArray<number>) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!

const split = async (p: Job): Promise<number> => {
  Atomics.store(ctl, 0, 0)
  Atomics.store(ctl, 1, 0)
  Atomics.store(ctl, 2, 0)
  const done = new Promise((r) => worker.once("message", r))
  worker.postMessage(p)
  // both threads start together (the message's latency is not the kernel's)
  while (Atomics.load(ctl, 1) === 0);
  const t0 = performance.now()
  Atomics.store(ctl, 2, 1)
  claim(ex, ctl, p)
  await done
  return performance.now() - t0
}
const solo = (p: Job): number => {
  const t0 = performance.now()
  ex.gemmF32(p.a, p.ars, p.acs, p.b, p.c, p.m, p.n, p.k, p.kc, 64)
  return performance.now() - t0
}

console.log(`GEMM kernel alone, 1 thread against 2 (${relaxed ? "relaxed SIMD" : "SIMD"}), medians of 31 alternated runs:`)
console.log("| m × k × n | 1 thread | 2 threads | speed-up |\n|---|---|---|---|")
for (const [m, k, n, transposed] of shapes) {
  const a = base, b = a + 4 * m * k, c = b + 4 * k * n
  const kc = kBlock(k)
  // the backend's blocks of rows for two threads (every shape here is large enough to be split)
  const rows = gemmRows(m, k, n, 2)
  const p: Job = { a, ars: transposed ? 4 : 4 * k, acs: transposed ? 4 * m : 4, b, c, m, k, n, kc, rows, blocks: Math.ceil(m / rows) }
  for (let i = 0; i < 5; i++) solo(p), await split(p)
  const one: number[] = [], two: number[] = []
  for (let i = 0; i < 31; i++) {
    one.push(solo(p))
    two.push(await split(p))
  }
  const [t1, t2] = [median(one), median(two)]
  console.log(`| ${m} × ${k} × ${n}${transposed ? " (Aᵀ)" : ""} | ${t1.toFixed(3)} ms | ${t2.toFixed(3)} ms | ${(t1 / t2).toFixed(2)}× |`)
}
await worker.terminate()
