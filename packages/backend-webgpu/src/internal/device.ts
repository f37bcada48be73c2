/**
 * The device layer: storage buffers (pooled by size, released
 * deterministically), compute pipelines compiled once per shader and
 * cached, dispatches recorded into one open compute pass and submitted in
 * batches, and the asynchronous read (copy to a staging buffer, `mapAsync`).
 *
 * Elements are 32-bit words: float32 as `f32`, int32 as `i32` (exact), bool
 * as `f32` 0 and 1. Small tensors may stay on the host (`Handle.host`) until
 * a shader reads them; empty tensors never touch the GPU.
 *
 * Ordering: a buffer given back is not reused before the commands recorded
 * so far are submitted (it waits in `released`), so `queue.writeBuffer`
 * into a pooled buffer never races a dispatch that reads its old contents.
 */
import { BackendError, type DType as D, Variable } from "@diffect/core"

type DType = D.DType
type HostArray = D.HostArray

/** The storage type of a dtype in WGSL. */
export const storageType = (dtype: DType): "f32" | "i32" => (dtype === "int32" ? "i32" : "f32")

/** A GPU buffer with the number of handles that share it. */
/** What `WebGPUBackendShape.memory()` reports. */
export interface Memory {
  /** GPU buffers held by live handles (tensor values, results not yet read). */
  readonly liveBuffers: number
  /** Their sizes in bytes (buffers are allocated in power-of-two sizes). */
  readonly liveBytes: number
  /**
   * Buffers given back and kept for reuse: at most 256 of each size and
   * 256 MiB in all (beyond that they are destroyed), so a long run's pool
   * stays bounded however far the garbage collector lags behind (buffers of
   * dropped tensors come back when it finalizes them).
   */
  readonly pooledBuffers: number
  readonly pooledBytes: number
}

class Storage {
  refs = 1
  constructor(
    readonly buffer: GPUBuffer,
    /** What it holds, for the message of a device loss: `float32[1024]`. */
    readonly label: string
  ) {}
}

/** A tensor's buffer: on the GPU (`storage`), on the host (`host`), or both (a host value uploaded once). */
export class Handle {
  storage: Storage | undefined
  disposed = false
  constructor(
    readonly n: number,
    readonly dtype: DType,
    public host: HostArray | undefined,
    storage?: Storage
  ) {
    this.storage = storage
  }
}

/** What a lost device took: said in every failure after the loss. */
export interface Loss {
  readonly reason: string
  readonly message: string
  /** The buffers that were on the device: dtype and element count of each (`float32[1024]`). */
  readonly buffers: ReadonlyArray<string>
  /** The Variables whose committed values were only on the device: label and leaves (`weights (float32[5000])`). */
  readonly variables: ReadonlyArray<string>
}

const WORKGROUP = 64
const MAX_GROUPS = 65535
/** Dispatches recorded before the batch is submitted. */
const BATCH = 32
/** Bytes the pool keeps at most; buffers given back beyond that are destroyed. */
const POOL_BYTES = 256 * 1024 * 1024
/**
 * Buffers of one size the pool keeps at most. Without it the pool of a long
 * run grows to the largest backlog of finalized garbage ever seen (10,000
 * small training steps: 5,981 buffers of 256 bytes), as a buffer is made
 * whenever the pool is empty and every one comes back later.
 */
const POOL_PER_SIZE = 256

/** Buffer sizes are rounded up to a power of two (at least 256 bytes), so pooled buffers fit many tensors. */
const bucket = (bytes: number): number => Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(bytes, 4))))

export const fail = (message: string): never => {
  throw new BackendError({ message: `webgpu backend: ${message}` })
}

/** A kernel's launch: a shader (built once per key), its inputs, its output size and dtype, and how many workgroups. */
export interface Launch {
  readonly key: string
  readonly code: () => string
  readonly inputs: ReadonlyArray<Handle>
  readonly n: number
  readonly dtype: DType
  /** Workgroups in x, y, z (default: one invocation per output element, 64 per workgroup). */
  readonly groups?: readonly [number, number, number]
}

export class Device {
  private readonly pipelines = new Map<string, GPUComputePipeline>()
  private readonly pool = new Map<number, GPUBuffer[]>()
  private pooledBytes = 0
  /** Buffers given back since the last submit (reusable after it). */
  private released: GPUBuffer[] = []
  private readonly staging = new Map<number, GPUBuffer[]>()
  private live = new Set<Storage>()
  private encoder: GPUCommandEncoder | undefined
  private pass: GPUComputePassEncoder | undefined
  private recorded = 0
  lost: Loss | undefined
  /** The first validation error the device reported (a defect: shown on the next operation). */
  private error: string | undefined
  destroyed = false

  constructor(
    readonly gpu: GPUDevice,
    /** Matmul without workgroup memory (see matmul.ts): on a CPU-emulated adapter (SwiftShader). */
    readonly directMatmul = false
  ) {
    gpu.onuncapturederror = (ev) => {
      this.error ??= (ev as GPUUncapturedErrorEvent).error.message
    }
  }

  /** Throws a BackendError when the device is lost or released. */
  check(op: string): void {
    if (this.lost !== undefined) fail(`${op}: ${this.lossMessage()}`)
    if (this.destroyed) fail(`${op}: the backend was released (its Layer's scope closed)`)
    if (this.error !== undefined) {
      const e = this.error
      this.error = undefined
      fail(`${op}: the device reported an error: ${e}`)
    }
  }

  lossMessage(): string {
    const l = this.lost!
    const list = (xs: ReadonlyArray<string>) => `${xs.slice(0, 12).join(", ")}${xs.length > 12 ? `, ... (${xs.length - 12} more)` : ""}`
    const what =
      l.buffers.length === 0 ? "no tensor values were on it" : `${l.buffers.length} tensor buffers on it are gone (${list(l.buffers)})`
    const vars =
      l.variables.length === 0
        ? "no Variable's value was only on it"
        : `the values of ${l.variables.length === 1 ? "Variable" : `${l.variables.length} Variables`} ${list(l.variables)} were only on it and are lost`
    return `the GPU device was lost (${l.reason}${l.message ? `: ${l.message}` : ""}); ${what}; ${vars}. Tensors whose values were computed on the GPU lost them (small values kept on the host survive); restore the Variables named here from a checkpoint (Codec) and provide a new WebGPUBackend.layer()`
  }

  /** Records the loss: what was on the device, for the failures that follow. */
  markLost(reason: string, message: string): void {
    if (this.lost !== undefined) return
    const buffers = [...this.live].map((s) => s.label)
    const gone = this.live
    const variables = Variable.holding((h) => h instanceof Handle && h.host === undefined && h.storage !== undefined && gone.has(h.storage))
    this.lost = { reason, message, buffers, variables }
    this.live = new Set()
    this.pool.clear()
    this.pooledBytes = 0
    this.released = []
    this.staging.clear()
    this.encoder = undefined
    this.pass = undefined
  }

  /** Live (not pooled) GPU buffers. */
  liveCount(): number {
    return this.live.size
  }

  /** The GPU memory held: live buffers (held by handles) and pooled ones (given back, kept for reuse), with their sizes in bytes. */
  memory(): Memory {
    // what is recorded is submitted first, so the buffers given back since (a finalizer's burst) are pooled or destroyed as the caps say
    if (this.lost === undefined && !this.destroyed) this.submit()
    let liveBytes = 0
    for (const s of this.live) liveBytes += s.buffer.size
    let pooledBuffers = this.released.length
    let pooledBytes = this.pooledBytes
    for (const list of this.pool.values()) pooledBuffers += list.length
    for (const b of this.released) pooledBytes += b.size
    return { liveBuffers: this.live.size, liveBytes, pooledBuffers, pooledBytes }
  }

  private acquire(bytes: number): GPUBuffer {
    const size = bucket(bytes)
    const free = this.pool.get(size)
    const b = free?.pop()
    if (b !== undefined) {
      this.pooledBytes -= size
      return b
    }
    return this.gpu.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST })
  }

  private newStorage(elements: number, dtype: DType): Storage {
    const s = new Storage(this.acquire(Math.max(4, elements * 4)), `${dtype}[${elements}]`)
    this.live.add(s)
    return s
  }

  /** A handle to new GPU storage for `n` elements. */
  alloc(n: number, dtype: DType): Handle {
    return new Handle(n, dtype, n === 0 ? emptyHost(dtype) : undefined, n === 0 ? undefined : this.newStorage(n, dtype))
  }

  /** A handle whose values stay on the host until a shader reads them. */
  hostHandle(host: HostArray, dtype: DType): Handle {
    return new Handle(host.length, dtype, host)
  }

  /** Copies host values to new GPU storage. */
  upload(host: HostArray, dtype: DType): Handle {
    const h = new Handle(host.length, dtype, undefined)
    if (host.length === 0) {
      h.host = emptyHost(dtype)
      return h
    }
    h.storage = this.write(host, dtype)
    return h
  }

  private write(host: HostArray, dtype: DType): Storage {
    const s = this.newStorage(host.length, dtype)
    const words = dtype === "int32" ? Int32Array.from(host as ArrayLike<number>) : host instanceof Float32Array ? host : Float32Array.from(host as ArrayLike<number>)
    this.gpu.queue.writeBuffer(s.buffer, 0, words.buffer, words.byteOffset, words.byteLength)
    return s
  }

  /** The GPU buffer of `h`, uploading host values the first time a shader reads them. */
  buffer(h: Handle): GPUBuffer {
    if (h.disposed) fail("internal: a released buffer was read")
    if (h.storage === undefined) h.storage = this.write(h.host!, h.dtype)
    return h.storage.buffer
  }

  /** A second handle to the same values (reshape, stopGradient, shared outputs). */
  share(h: Handle): Handle {
    if (h.storage !== undefined) h.storage.refs++
    return new Handle(h.n, h.dtype, h.host, h.storage)
  }

  /** Gives a handle back; its storage returns to the pool when no other handle shares it. */
  dispose(h: Handle): void {
    if (h.disposed) return
    h.disposed = true
    const s = h.storage
    h.storage = undefined
    h.host = undefined
    if (s === undefined || --s.refs > 0 || this.lost !== undefined) return
    if (!this.live.delete(s)) return
    if (this.destroyed) return s.buffer.destroy()
    this.released.push(s.buffer)
  }

  private pipeline(key: string, code: () => string): GPUComputePipeline {
    let p = this.pipelines.get(key)
    if (p === undefined) {
      const module = this.gpu.createShaderModule({ code: code() })
      p = this.gpu.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } })
      this.pipelines.set(key, p)
    }
    return p
  }

  /** Runs a shader writing a new buffer of `n` elements of `dtype`. */
  run(l: Launch): Handle {
    const out = this.alloc(l.n, l.dtype)
    if (l.n === 0) return out
    this.dispatch(l, out)
    return out
  }

  /** Records one dispatch writing `out` (bindings: the inputs, then the output). */
  dispatch(l: Launch, out: Handle): void {
    const p = this.pipeline(l.key, l.code)
    const entries: GPUBindGroupEntry[] = l.inputs.map((h, i) => ({ binding: i, resource: { buffer: this.buffer(h), size: Math.max(4, h.n * 4) } }))
    entries.push({ binding: l.inputs.length, resource: { buffer: this.buffer(out), size: Math.max(4, out.n * 4) } })
    const bind = this.gpu.createBindGroup({ layout: p.getBindGroupLayout(0), entries })
    const [x, y, z] = l.groups ?? grid(Math.ceil(l.n / WORKGROUP))
    this.encoder ??= this.gpu.createCommandEncoder()
    this.pass ??= this.encoder.beginComputePass()
    this.pass.setPipeline(p)
    this.pass.setBindGroup(0, bind)
    this.pass.dispatchWorkgroups(x, y, z)
    if (++this.recorded >= BATCH) this.submit()
  }

  /** Submits what is recorded; buffers given back before it become reusable. */
  submit(): void {
    this.pass?.end()
    this.pass = undefined
    if (this.encoder !== undefined) this.gpu.queue.submit([this.encoder.finish()])
    this.encoder = undefined
    this.recorded = 0
    for (const b of this.released) {
      const list = this.pool.get(b.size)
      if (this.pooledBytes + b.size > POOL_BYTES || (list?.length ?? 0) >= POOL_PER_SIZE) {
        b.destroy()
        continue
      }
      this.pooledBytes += b.size
      if (list === undefined) this.pool.set(b.size, [b])
      else list.push(b)
    }
    this.released = []
  }

  /** Reads `h` back: its host values, or a copy of its GPU buffer mapped asynchronously. */
  async read(h: Handle): Promise<HostArray> {
    if (h.host !== undefined) return h.host.slice() as HostArray
    const src = this.buffer(h)
    const bytes = Math.max(4, h.n * 4)
    const size = bucket(bytes)
    const stage = this.staging.get(size)?.pop() ?? this.gpu.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
    this.pass?.end()
    this.pass = undefined
    this.encoder ??= this.gpu.createCommandEncoder()
    this.encoder.copyBufferToBuffer(src, 0, stage, 0, bytes)
    this.submit()
    try {
      await stage.mapAsync(GPUMapMode.READ, 0, bytes)
    } catch (e) {
      if (this.lost !== undefined) fail(`reading a buffer: ${this.lossMessage()}`)
      return fail(`reading a buffer failed: ${String(e)}`)
    }
    const range = stage.getMappedRange(0, bytes)
    const values = h.dtype === "int32" ? new Int32Array(range.slice(0, h.n * 4)) : new Float32Array(range.slice(0, h.n * 4))
    stage.unmap()
    if (this.destroyed || this.lost !== undefined) stage.destroy()
    else {
      const list = this.staging.get(size)
      if (list === undefined) this.staging.set(size, [stage])
      else list.push(stage)
    }
    return values
  }

  /** Destroys every buffer (the Layer's scope closed). */
  destroy(): void {
    if (this.destroyed) return
    if (this.lost === undefined) this.submit()
    this.destroyed = true
    for (const s of this.live) s.buffer.destroy()
    this.live.clear()
    for (const list of this.pool.values()) for (const b of list) b.destroy()
    for (const list of this.staging.values()) for (const b of list) b.destroy()
    for (const b of this.released) b.destroy()
    this.pool.clear()
    this.pooledBytes = 0
    this.staging.clear()
    this.released = []
    this.pipelines.clear()
  }
}

/** Workgroup counts for `groups` workgroups (x at most 65535, the rest in y). */
export const grid = (groups: number): [number, number, number] => {
  if (groups <= MAX_GROUPS) return [Math.max(1, groups), 1, 1]
  const y = Math.ceil(groups / MAX_GROUPS)
  return [Math.ceil(groups / y), y, 1]
}

const emptyHost = (dtype: DType): HostArray => (dtype === "int32" ? new Int32Array(0) : dtype === "bool" ? new Uint8Array(0) : new Float32Array(0))
