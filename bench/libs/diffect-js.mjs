// diffect with its WebAssembly kernels turned off: the pure-JavaScript CPU
// kernels (not in the default table; `--libs diffect-js,tfjs-cpu`).
import base from "./diffect.mjs"
import { setWasmEnabled } from "../../packages/core/dist/internal/cpu/wasm.js"

export default {
  ...base,
  name: "diffect-js",
  async init() {
    setWasmEnabled(false)
    await base.init()
  }
}
