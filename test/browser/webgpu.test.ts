/**
 * The WebGPU backend in headless Chromium (SwiftShader's adapter; the page
 * is served from 127.0.0.1, a secure context): the conformance suite
 * (compared with the CPU backend in the same page) with the default options
 * (small tensors computed on the host) and with every kernel as a shader.
 * A missing adapter fails the suite (its Layer fails to build).
 */
import { WebGPUBackend } from "@diffect/backend-webgpu"
import { conformanceSuite } from "../conformance/suite.js"

conformanceSuite("webgpu", WebGPUBackend.layer())
conformanceSuite("webgpu, shaders only", WebGPUBackend.layer({ cpuThreshold: 0 }))
