/**
 * The WebGPU backend in headless Chromium (SwiftShader's adapter; the page
 * is served from 127.0.0.1, a secure context): the conformance suite
 * (compared with the CPU backend in the same page) with every kernel as a
 * shader. (With the default options most of the suite's small tensors would
 * be computed by the CPU's kernels on the host; that path and its uploads
 * are tested in webgpu-lifecycle.test.ts and by the install test's page.)
 * A missing adapter fails the suite (its Layer fails to build).
 */
import { WebGPUBackend } from "@diffect/backend-webgpu"
import { conformanceSuite } from "../conformance/suite.js"

conformanceSuite("webgpu, shaders only", WebGPUBackend.layer({ cpuThreshold: 0 }))
