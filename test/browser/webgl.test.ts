/**
 * The WebGL2 backend in headless Chromium: the conformance suite (compared
 * with the CPU backend in the same page) with the default options (small
 * tensors computed on the host), with every kernel as a shader, and with
 * every kernel as a shader on rows of 8 texels so that most tensors span
 * many texture rows.
 */
import { WebGLBackend } from "@diffect/backend-webgl"
import { conformanceSuite } from "../conformance/suite.js"

conformanceSuite("webgl", WebGLBackend.layer())
conformanceSuite("webgl, shaders only", WebGLBackend.layer({ cpuThreshold: 0 }))
conformanceSuite("webgl, shaders only, rows of 8 texels", WebGLBackend.layer({ maxTextureWidth: 8, cpuThreshold: 0 }))
