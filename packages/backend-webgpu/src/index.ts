/// <reference types="@webgpu/types" preserve="true" />
/**
 * @diffect/backend-webgpu: the WebGPU backend, provided as a Layer.
 *
 * @example
 * ```ts
 * import { WebGPUBackend } from "@diffect/backend-webgpu"
 * program.pipe(Effect.provide(WebGPUBackend.layer()))
 * ```
 * @module @diffect/backend-webgpu
 */
export * as WebGPUBackend from "./WebGPUBackend.js"
