/**
 * Internals shared with @diffect/transforms and the backends. Not a stable API.
 * @internal
 * @module
 */
export * from "./bind.js"
export * from "./evaluate.js"
export { describeValue } from "./guard.js"
export * from "./interpret.js"
export * from "./primitives.js"
export * from "./program.js"
export * from "./read.js"
export * from "./settle.js"
export * from "./shape.js"
export * from "./tensor.js"
export { scalar, resultDType, broadcastTo as broadcastToShape } from "./ops.js"
export { zerosOf } from "./rules/jvp.js"
export { batchRules, withBatch, type BatchArg } from "./rules/batch.js"
export { jvpRules } from "./rules/jvp.js"
export { vjpRules } from "./rules/vjp.js"
export { abstractRules } from "./bind.js"
export * as cpu from "./cpu/structure.js"
export { notPositiveDefinite } from "./cpu/linalg.js"
export { loopNode, loopOut, type LoopParams, type ScanParams } from "./loop.js"
export { closeProgram, freshInput } from "./loop-rules.js"
/** The CPU kernels' switches and split thresholds, for bench/ (the bundled package has one copy of each module: set them through here). */
export { setWasmEnabled, setParallelThresholds } from "./cpu/wasm.js"
export { setFusedThreshold } from "./cpu/fused-threads.js"
export { setReduceThreshold } from "./cpu/reduce.js"
