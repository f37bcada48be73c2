import { makeJax } from "./jax.mjs"
export default makeJax(false)
