import { makeTfjs } from "./tfjs.mjs"
export default makeTfjs("wasm")
