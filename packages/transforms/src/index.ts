/**
 * @diffect/transforms: jvp, vjp, vmap, grad, valueAndGrad, vectorGrad,
 * jacrev/jacobian, jacfwd, hessian and stopGradient, as effect transformers
 * that capture state (the return structures are in this package's README).
 * @module @diffect/transforms
 */
export { grad, valueAndGrad, vectorGrad } from "./grad.js"
export { hessian, jacfwd, jacobian, jacrev } from "./jacobian.js"
export { jvp, stopGradient, vjp } from "./forward.js"
export { vmap, type InAxes, type OutAxes, type VmapOptions } from "./vmap.js"
export type * from "./types.js"
export { customJvp, customVjp } from "./custom.js"
export { jit, JIT_CACHE_SIZE, type JitOptions } from "./jit.js"
export { checkpoint, cond, fori, scan, type ScanOptions, whileLoop } from "./control.js"
