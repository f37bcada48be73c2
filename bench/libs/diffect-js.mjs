// diffect with its WebAssembly kernels turned off: the pure-JavaScript CPU
// kernels (not in the default table; `--libs diffect-js,tfjs-cpu`).
import base from "./diffect.mjs"
import { Internal } from "@diffect/core"

export default {
  ...base,
  name: "diffect-js",
  async init() {
    Internal.setWasmEnabled(false)
    await base.init()
  }
}
