/**
 * The WebGL2 backend in headless Chromium: the conformance suite (compared
 * with the CPU backend in the same page), with the default layout and with
 * rows of 8 texels so that most tensors span many texture rows.
 */
import { WebGLBackend } from "@diffect/backend-webgl"
import { conformanceSuite } from "../conformance/suite.js"

conformanceSuite("webgl", WebGLBackend.layer())
conformanceSuite("webgl, rows of 8 texels", WebGLBackend.layer({ maxTextureWidth: 8 }))
