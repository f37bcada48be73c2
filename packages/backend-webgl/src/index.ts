/**
 * @diffect/backend-webgl: the WebGL2 backend, provided as a Layer.
 *
 * @example
 * ```ts
 * import { WebGLBackend } from "@diffect/backend-webgl"
 * program.pipe(Effect.provide(WebGLBackend.layer()))
 * ```
 * @module
 */
export * as WebGLBackend from "./WebGLBackend.js"
