// The WebAssembly engine the benchmark children run on. diffect and jax-js
// both use relaxed SIMD's fused multiply-add where the engine validates it;
// Node 22 and later (and browsers) have it on, Node 20 only with
// --experimental-wasm-relaxed-simd. The harnesses pass that flag to their
// children on Node 20, so every library runs on the engine a current Node
// gives; `--no-relaxed-simd` on a harness's command line leaves it off (to
// measure the plain-SIMD build).

import { relaxedSimdValidates } from "../packages/core/scripts/relaxed-simd-probe.mjs"

/** Whether this process validates relaxed SIMD. */
export const relaxedHere = relaxedSimdValidates
const own = process.execArgv.filter((f) => f.startsWith("--experimental-wasm"))
const add = !relaxedHere && !process.argv.includes("--no-relaxed-simd") && Number(process.versions.node.split(".")[0]) < 22
/** The WebAssembly flags for a child process: this process's own, plus relaxed SIMD on Node 20 unless `--no-relaxed-simd`. */
export const wasmFlags = add ? [...own, "--experimental-wasm-relaxed-simd"] : own
/** Whether the children run with relaxed SIMD. */
export const relaxedSimd = relaxedHere || add
