/**
 * JAX parity on the WebGPU backend: the same fixture (test/fixtures/jax.json,
 * JAX in float64) recomputed in float32, within float32 tolerance. Its
 * complex cases must be refused with a BackendError naming complex64.
 */
import { WebGPUBackend } from "@diffect/backend-webgpu"
import fixture from "../fixtures/jax.json"
import { FLOAT32, type Fixture, jaxParitySuite, validate } from "../parity/jaxSuite.js"

jaxParitySuite({
  loaded: validate(fixture as unknown as Fixture, "test/fixtures/jax.json", true),
  path: "test/fixtures/jax.json",
  // every kernel as a shader: the fixture tensors are small, and would otherwise be computed on the host
  layer: WebGPUBackend.layer({ cpuThreshold: 0 }),
  dtype: "float32",
  tolerance: FLOAT32,
  title: " on WebGPU, float32"
})
