/**
 * @diffect/core: tensors, dtypes, pytrees, primitives and their rules, the
 * Backend service with the CPU backend, and state Variables. The JSON
 * codecs and checkpoints are the subpath `@diffect/core/Codec` (they are
 * built on effect/Schema, which a program that does not save or restore
 * then does not load).
 * @module @diffect/core
 */
export * as Tensor from "./Tensor.js"
export * as Variable from "./Variable.js"
export * as TrainVar from "./TrainVar.js"
export * as Pytree from "./Pytree.js"
export * as DType from "./DType.js"
export * as CpuBackend from "./CpuBackend.js"
export * as Errors from "./Errors.js"
export * as Random from "./Random.js"
export * as Linalg from "./Linalg.js"
export { Backend, type BackendShape, type Kernel, type KernelArg, prims, type Prim, type PrimParams } from "./Backend.js"
export {
  ArgnumsError,
  AuxError,
  BackendError,
  ConcretizationError,
  ControlFlowError,
  DTypeError,
  type DiffectError,
  GradVarsError,
  LinalgError,
  NonScalarOutputError,
  OptionsError,
  ShapeError,
  StateError,
  type TensorError
} from "./Errors.js"
export * as Internal from "./internal/index.js"
