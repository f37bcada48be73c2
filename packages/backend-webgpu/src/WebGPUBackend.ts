/// <reference types="@webgpu/types" preserve="true" />
/**
 * The WebGPU backend as a Layer: tensors live in storage buffers (float32 as
 * f32, int32 as exact i32, bool as f32 0 and 1), each primitive is a WGSL
 * compute shader compiled once per shape and cached, elementwise groups are
 * fused into one shader, matmul is tiled in workgroup memory. Buffers come
 * from a pool and go back to it as soon as an evaluation no longer needs
 * them; all of them are destroyed when the Layer's scope closes.
 *
 * WebGPU reads buffers only asynchronously (`mapAsync`), so reading values
 * (`Tensor.data`, `toArray`, `item`) awaits the GPU without blocking the
 * page, and stays an Effect. Provide it instead of `CpuBackend.layer` to run
 * a program on the GPU.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tensor } from "@diffect/core"
 * import { WebGPUBackend } from "@diffect/backend-webgpu"
 * const program = Tensor.toArray(Tensor.matmul(Tensor.eye(3), Tensor.arange(9).pipe(Tensor.reshape([3, 3]))))
 * Effect.runPromise(program.pipe(Effect.provide(WebGPUBackend.layer())))
 * ```
 * @module
 */
import { Backend, BackendError, type BackendShape, type DType as D } from "@diffect/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Device, fail, Handle, type Memory } from "./internal/device.js"

export type { Memory } from "./internal/device.js"
import { asHost, makeFusion, makeKernels } from "./internal/kernels.js"

type DType = D.DType

/** How to get a GPU device. */
export interface Options {
  /** A device to use (the layer does not destroy it on release; it releases only its own buffers). */
  readonly device?: GPUDevice | undefined
  /** The WebGPU entry point (default `navigator.gpu`); `null` stands for a browser without WebGPU. */
  readonly gpu?: GPU | null | undefined
  /** Passed to `requestAdapter` (default `{ powerPreference: "high-performance" }`). */
  readonly adapter?: GPURequestAdapterOptions | undefined
  /**
   * Tensors of at most this many elements whose inputs are all on the host
   * (small uploads, results of such computations) are computed with the CPU
   * backend's kernels instead of a dispatch, which costs far more than the
   * arithmetic at this size (default 1024; 0 runs everything as shaders).
   */
  readonly cpuThreshold?: number | undefined
  /**
   * The matmul kernel: `"tiled"` (64 × 64 tiles staged in workgroup memory)
   * or `"direct"` (4 × 4 register blocks read straight from the buffers, no
   * barriers). Default: `"direct"` on a CPU-emulated adapter (SwiftShader,
   * where workgroup memory is ordinary memory and barriers are costly),
   * `"tiled"` elsewhere.
   */
  readonly matmul?: "tiled" | "direct" | undefined
}

/** The backend value with its device and its release, for use without a Layer. */
export interface WebGPUBackendShape extends BackendShape {
  /** The GPU device. */
  readonly device: GPUDevice
  /**
   * The GPU memory this backend holds now: buffers held by live handles and
   * their bytes, and buffers pooled for reuse. Buffers of tensors that are
   * dropped are released when the garbage collector finalizes them.
   */
  readonly memory: () => Memory
  /** Destroys every buffer (called when the layer's scope closes); destroys the device too when the layer made it. */
  readonly release: () => void
}

const supported = (dtype: DType): boolean => dtype === "float32" || dtype === "int32" || dtype === "bool"

const unsupported = (dtype: DType): never =>
  fail(`dtype ${dtype} is not supported (float32, int32 and bool are); use the CPU backend (CpuBackend.layer) for ${dtype}`)

/** Builds the backend on a device. */
export const fromDevice = (gpu: GPUDevice, options: Options = {}, owned = false): WebGPUBackendShape => {
  const info = (gpu as GPUDevice & { readonly adapterInfo?: GPUAdapterInfo }).adapterInfo
  const emulated = info?.architecture === "swiftshader" || info?.vendor === "swiftshader"
  const device = new Device(gpu, (options.matmul ?? (emulated ? "direct" : "tiled")) === "direct")
  void gpu.lost.then((info) => device.markLost(info.reason ?? "unknown", info.message ?? ""))
  const cpuThreshold = options.cpuThreshold ?? 1024
  const { kernels, viewKernels } = makeKernels(device, cpuThreshold)
  return {
    name: "webgpu",
    device: gpu,
    supports: supported,
    upload: (host, aval) => {
      device.check("upload")
      if (!supported(aval.dtype)) unsupported(aval.dtype)
      // small tensors stay on the host until a shader reads them
      return host.length <= cpuThreshold ? device.hostHandle(asHost(host, aval.dtype), aval.dtype) : device.upload(host, aval.dtype)
    },
    download: (handle, aval) => {
      const h = handle as Handle
      if (h.host !== undefined) return asHost(h.host, aval.dtype).slice()
      device.check("download")
      return fail(
        `a ${aval.dtype} tensor of shape [${aval.shape.join(", ")}] is on the GPU, which is read only asynchronously (Tensor.data, toArray and item do so)`
      )
    },
    downloadAsync: async (handle, aval) => {
      const h = handle as Handle
      // values kept on the host are read without the device (they survive its loss)
      if (h.host !== undefined) return asHost(h.host, aval.dtype).slice()
      device.check("download")
      if (!supported(aval.dtype)) unsupported(aval.dtype)
      return asHost(await device.read(handle as Handle), aval.dtype)
    },
    share: (handle) => device.share(handle as Handle),
    dispose: (handle) => {
      if (handle instanceof Handle) device.dispose(handle)
    },
    kernels,
    viewKernels,
    fusion: makeFusion(device, cpuThreshold),
    liveBuffers: () => device.liveCount(),
    memory: () => device.memory(),
    release: () => {
      device.destroy()
      if (owned && device.lost === undefined) gpu.destroy()
    }
  }
}

/** Requests an adapter and a device; fails with BackendError when WebGPU or an adapter is missing. */
const requestDevice = async (options: Options): Promise<{ device: GPUDevice; owned: boolean }> => {
  if (options.device !== undefined) return { device: options.device, owned: false }
  const gpu = options.gpu !== undefined ? options.gpu : typeof navigator === "undefined" ? undefined : navigator.gpu
  if (gpu === undefined || gpu === null)
    return fail(
      "WebGPU is not available (no navigator.gpu: it needs a browser with WebGPU, on a secure context such as https or http://127.0.0.1); use WebGLBackend.layer() or CpuBackend.layer instead"
    )
  const adapter = await gpu.requestAdapter(options.adapter ?? { powerPreference: "high-performance" })
  if (adapter === null) return fail("WebGPU is available but no GPU adapter was found (requestAdapter returned null); use WebGLBackend.layer() or CpuBackend.layer instead")
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBuffersPerShaderStage: Math.min(10, adapter.limits.maxStorageBuffersPerShaderStage),
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize
    }
  })
  return { device, owned: true }
}

/**
 * The WebGPU backend for the Layer's scope: fails with `BackendError` when
 * WebGPU (or a GPU adapter) is unavailable; every buffer is destroyed when
 * the scope closes.
 */
export const make = (options: Options = {}) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const { device, owned } = await requestDevice(options)
        return fromDevice(device, options, owned)
      },
      catch: (e) => (e instanceof BackendError ? e : new BackendError({ message: `webgpu backend: could not start: ${String(e)}` }))
    }),
    (backend) => Effect.sync(() => backend.release())
  )

/** A Layer providing the WebGPU {@link Backend}. */
export const layer = (options: Options = {}): Layer.Layer<never, BackendError> => Layer.effect(Backend, make(options))
