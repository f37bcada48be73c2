/**
 * The WebGL2 backend as a Layer: tensors live in RGBA32F textures (float32,
 * and bool as 0 and 1) or RGBA32I ones (int32, exact: a Random key's words
 * survive every kernel that moves or adds them), each primitive is a fragment
 * shader compiled once per shape and cached. Provide it instead of
 * `CpuBackend.layer` to run a program on the GPU.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tensor } from "@diffect/core"
 * import { WebGLBackend } from "@diffect/backend-webgl"
 * const program = Tensor.toArray(Tensor.matmul(Tensor.eye(3), Tensor.arange(9).pipe(Tensor.reshape([3, 3]))))
 * Effect.runPromise(program.pipe(Effect.provide(WebGLBackend.layer())))
 * ```
 * @module
 */
import { Backend, BackendError, type BackendShape, type DType as D } from "@diffect/core"

type DType = D.DType
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Device, Handle } from "./internal/device.js"
import { makeFusion } from "./internal/kernels/fusion.js"
import { makeKernels } from "./internal/kernels/index.js"
import { rowWidth } from "./internal/layout.js"

/** How to get a WebGL2 context. */
export interface Options {
  /** A WebGL2 context to use (the layer does not lose it on release). */
  readonly context?: WebGL2RenderingContext | undefined
  /** A canvas to create the context on (default: a new `OffscreenCanvas`). */
  readonly canvas?: HTMLCanvasElement | OffscreenCanvas | undefined
  /**
   * The longest texture row, in texels of four elements (default 4096, and
   * at most the device's MAX_TEXTURE_SIZE). Tests use small values to
   * exercise tensors that span many rows.
   */
  readonly maxTextureWidth?: number | undefined
  /**
   * Tensors of at most this many elements whose inputs are all on the host
   * (small uploads, results of such computations) are computed with the CPU
   * backend's kernels instead of a draw call, which costs far more than the
   * arithmetic at this size (default 1024; 0 runs everything as shaders).
   */
  readonly cpuThreshold?: number | undefined
  /**
   * Run `cholesky`, `triangularSolve` and `lu` on the host (the CPU
   * backend's float64 kernels on operands read back from their textures,
   * rounded to float32 once) instead of as float32 shaders (default false).
   * More exact for ill-conditioned matrices, at the cost of a GPU → host →
   * GPU round trip per call. `qr`, `eigh` and `svd` always run on the host.
   */
  readonly linalgOnHost?: boolean | undefined
}

/** The backend value with its release, for use without a Layer. */
export interface WebGLBackendShape extends BackendShape {
  readonly context: WebGL2RenderingContext
  /** Deletes every texture and program (called when the layer's scope closes). */
  readonly release: () => void
}

const hostType: Partial<Record<DType, Function>> = { float32: Float32Array, int32: Int32Array, bool: Uint8Array }

const supported = (dtype: DType): boolean => dtype === "float32" || dtype === "int32" || dtype === "bool"

const contextAttributes: WebGLContextAttributes = {
  alpha: true,
  antialias: false,
  depth: false,
  stencil: false,
  premultipliedAlpha: false,
  preserveDrawingBuffer: false,
  powerPreference: "high-performance"
}

const fail = (message: string): never => {
  throw new BackendError({ message: `webgl backend: ${message}` })
}

const getContext = (options: Options): { gl: WebGL2RenderingContext; owned: boolean } => {
  if (options.context !== undefined) return { gl: options.context, owned: false }
  let canvas = options.canvas
  if (canvas === undefined) {
    if (typeof OffscreenCanvas === "undefined")
      return fail("WebGL2 is not available: this environment has no OffscreenCanvas (pass a canvas or a WebGL2RenderingContext)")
    canvas = new OffscreenCanvas(1, 1)
  }
  const gl = (canvas as OffscreenCanvas).getContext("webgl2", contextAttributes) as WebGL2RenderingContext | null
  if (gl === null) return fail("WebGL2 is not available (getContext(\"webgl2\") returned null)")
  return { gl, owned: options.canvas === undefined }
}

/**
 * Creates the backend synchronously; throws `BackendError` when WebGL2 or
 * float render targets are missing. Prefer {@link layer}, which releases it.
 */
export const unsafeMake = (options: Options = {}): WebGLBackendShape => {
  const { gl, owned } = getContext(options)
  if (gl.isContextLost()) fail("the WebGL2 context is lost")
  if (gl.getExtension("EXT_color_buffer_float") === null)
    fail("WebGL2 is available but EXT_color_buffer_float is not (float32 render targets are required)")
  const device = new Device(gl, rowWidth(options.maxTextureWidth, gl.getParameter(gl.MAX_TEXTURE_SIZE) as number))
  const canvas = gl.canvas as (HTMLCanvasElement | OffscreenCanvas) & Partial<EventTarget>
  const onLost = () => {
    device.lost = true
  }
  canvas.addEventListener?.("webglcontextlost", onLost)
  const cpuThreshold = options.cpuThreshold ?? 1024
  const kernels = makeKernels(device, cpuThreshold, options.linalgOnHost === true)
  return {
    name: "webgl",
    context: gl,
    supports: supported,
    upload: (host, aval) => {
      device.check("upload")
      if (!supported(aval.dtype)) fail(`dtype ${aval.dtype} is not supported`)
      // small tensors stay on the host until a shader reads them
      return host.length <= cpuThreshold ? device.hostHandle(host) : device.upload(host)
    },
    download: (handle, aval) => {
      device.check("download")
      const h = handle as Handle
      const values = h.host ?? device.download(h)
      if (h.host !== undefined && h.host.constructor === hostType[aval.dtype]) return h.host.slice()
      switch (aval.dtype) {
        case "float32":
          return values instanceof Float32Array && values.length === values.buffer.byteLength / 4 ? values : Float32Array.from(values)
        case "int32":
          // saturating (a float32 texel cannot hold 2³¹ − 1 exactly)
          return Int32Array.from(values, (v) => (v !== v ? 0 : v >= 2147483647 ? 2147483647 : v <= -2147483648 ? -2147483648 : Math.round(v)))
        case "bool":
          return Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0))
        default:
          return fail(`dtype ${aval.dtype} is not supported`)
      }
    },
    dispose: (handle) => {
      if (handle instanceof Handle) device.dispose(handle)
    },
    kernels,
    fusion: makeFusion(device, cpuThreshold),
    liveBuffers: () => device.liveCount(),
    release: () => {
      canvas.removeEventListener?.("webglcontextlost", onLost)
      const wasLost = device.lost || gl.isContextLost()
      device.destroy()
      if (owned && !wasLost) gl.getExtension("WEBGL_lose_context")?.loseContext()
    }
  }
}

/**
 * The WebGL2 backend for the Layer's scope: fails with `BackendError` when
 * WebGL2 (with float render targets) is unavailable; every texture and
 * program is deleted when the scope closes.
 */
export const make = (options: Options = {}) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => unsafeMake(options),
      catch: (e) => (e instanceof BackendError ? e : new BackendError({ message: `webgl backend: could not start: ${String(e)}` }))
    }),
    (backend) => Effect.sync(() => backend.release())
  )

/** A Layer providing the WebGL2 {@link Backend}. */
export const layer = (options: Options = {}): Layer.Layer<never, BackendError> => Layer.effect(Backend, make(options))
