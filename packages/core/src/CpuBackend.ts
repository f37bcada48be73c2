/**
 * The CPU backend as a Layer: the reference implementation of every
 * primitive on typed arrays (float32, float64, int32, bool, complex64).
 *
 * @example
 * ```ts
 * Effect.runPromise(program.pipe(Effect.provide(CpuBackend.layer)))
 * ```
 * @module
 */
import * as Layer from "effect/Layer"
import { Backend, type BackendShape } from "./Backend.js"
import { cpuBackend } from "./internal/cpu/backend.js"

/** The CPU backend value. */
export const backend: BackendShape = cpuBackend

/** The Layer providing the CPU backend. */
export const layer: Layer.Layer<never> = Layer.succeed(Backend, cpuBackend)
