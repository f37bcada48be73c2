/**
 * @diffect/backend-webgl: the WebGL2 backend, provided as a Layer.
 *
 * @example
 * ```ts
 * import { WebGLBackend } from "@diffect/backend-webgl"
 * program.pipe(Effect.provide(WebGLBackend.layer()))
 * ```
 * @module @diffect/backend-webgl
 */
export * as WebGLBackend from "./WebGLBackend.js"
