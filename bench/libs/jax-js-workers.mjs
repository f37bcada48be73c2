// jax-js on its `wasm` device with its Web Worker pool (one worker per core,
// sharing the wasm memory), given workers in Node by web-worker-shim.mjs.
// Without the shim jax-js runs its wasm kernels on one thread in Node.
import "./web-worker-shim.mjs"
const { makeJax } = await import("./jax.mjs")
export default makeJax(false, true)
