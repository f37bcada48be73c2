/**
 * The WebGL2 device: textures (pooled, reference counted), programs
 * (compiled once, cached by key), one framebuffer, and the draw call that
 * runs a kernel. Every entry point checks for context loss first and throws
 * `BackendError`, which the evaluator turns into a typed failure.
 */
import { BackendError, type DType } from "@diffect/core"
import { fragmentSource, vertexShader } from "./glsl.js"
import { type Layout, layoutOf } from "./layout.js"

/** A texture with the number of handles that share it. */
interface Texture {
  readonly tex: WebGLTexture
  readonly width: number
  readonly height: number
  /** RGBA32I (int32 values, exact) rather than RGBA32F. */
  readonly int: boolean
  refs: number
}

/**
 * A buffer handle as the evaluator sees it. Each kernel returns a new
 * handle; several handles may share one texture (reshape), which is
 * released when the last of them is disposed. Disposing twice is harmless.
 */
export class Handle {
  disposed = false
  constructor(
    readonly layout: Layout,
    /** Absent for empty tensors, and for small ones kept on the host until a shader needs them. */
    public texture: Texture | undefined,
    /** The values of a small tensor computed or uploaded on the host (its dtype's typed array). */
    readonly host?: HostArray | undefined,
    /** Whether the values are int32, stored exactly in an RGBA32I texture (else RGBA32F). */
    readonly int: boolean = host instanceof Int32Array
  ) {}
}

type HostArray = DType.HostArray

interface Program {
  readonly program: WebGLProgram
  readonly samplers: ReadonlyArray<WebGLUniformLocation | null>
  /** Locations of the `int` uniforms a body declares (looked up once). */
  readonly uniforms: Map<string, WebGLUniformLocation | null>
}

/** Values of `uniform int` declarations of a body, by name (a step index that would otherwise compile one program per step). */
export type Uniforms = Readonly<Record<string, number>>

const POOL_BYTES = 256 * 1024 * 1024
const POOL_PER_SIZE = 32
/** Programs kept (least recently used ones are deleted beyond this). */
const MAX_PROGRAMS = 1024

export class Device {
  lost = false
  closed = false
  private readonly programs = new Map<string, Program>()
  private readonly pool = new Map<string, Texture[]>()
  private pooledBytes = 0
  private readonly live = new Set<Texture>()
  private readonly fbo: WebGLFramebuffer
  private readonly vao: WebGLVertexArrayObject
  private readonly vs: WebGLShader
  private readonly dummy: WebGLTexture
  private readonly dummyInt: WebGLTexture
  readonly maxSize: number
  readonly maxDrawBuffers: number
  /**
   * Whether the kernel running now gives int32: its draws write RGBA32I
   * textures (set by the kernel table around each kernel).
   */
  outInt = false

  constructor(
    readonly gl: WebGL2RenderingContext,
    readonly maxWidth: number
  ) {
    this.maxSize = gl.getParameter(gl.MAX_TEXTURE_SIZE) as number
    this.maxDrawBuffers = Math.min(gl.getParameter(gl.MAX_DRAW_BUFFERS) as number, gl.getParameter(gl.MAX_COLOR_ATTACHMENTS) as number)
    this.fbo = gl.createFramebuffer()!
    this.vao = gl.createVertexArray()!
    this.vs = this.compile(gl.VERTEX_SHADER, vertexShader)
    this.dummy = this.createTexture(1, 1, false)
    this.dummyInt = this.createTexture(1, 1, true)
    gl.disable(gl.DEPTH_TEST)
    gl.disable(gl.BLEND)
    gl.disable(gl.SCISSOR_TEST)
  }

  /** Throws `BackendError` when the context is lost or the backend released. */
  check(what: string): void {
    if (this.closed) throw new BackendError({ message: `webgl backend: ${what} after the backend's scope was closed` })
    if (this.lost || this.gl.isContextLost()) {
      this.lost = true
      throw new BackendError({ message: `webgl backend: the WebGL context was lost (during ${what})` })
    }
  }

  layout(n: number): Layout {
    const l = layoutOf(n, this.maxWidth, this.maxSize)
    if (l === undefined) throw new BackendError({ message: `webgl backend: a tensor of ${n} elements does not fit in a ${this.maxSize}x${this.maxSize} texture` })
    return l
  }

  /** Textures in use by live handles. */
  liveCount(): number {
    return this.live.size
  }

  private createTexture(width: number, height: number, int: boolean): WebGLTexture {
    const gl = this.gl
    const tex = gl.createTexture()
    if (tex === null) throw new BackendError({ message: `webgl backend: could not create a ${width}x${height} texture` })
    gl.bindTexture(gl.TEXTURE_2D, tex)
    gl.texStorage2D(gl.TEXTURE_2D, 1, int ? gl.RGBA32I : gl.RGBA32F, width, height)
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST)
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST)
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE)
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE)
    return tex
  }

  /** A new handle owning a texture for `n` elements (from the pool when possible), int32 when `int`. */
  alloc(n: number, int = false): Handle {
    const layout = this.layout(n)
    return new Handle(layout, n === 0 ? undefined : this.texture(layout, int), undefined, int)
  }

  /** A handle on host values (no texture until a shader reads it). */
  hostHandle(values: HostArray): Handle {
    return new Handle(this.layout(values.length), undefined, values)
  }

  /** The texture of a handle, uploading its host values first if it has none yet. */
  textureOf(h: Handle): WebGLTexture {
    if (h.texture === undefined && h.host !== undefined && h.layout.n > 0) {
      h.texture = this.texture(h.layout, h.int)
      this.write(h.texture, h.layout, h.host)
    }
    return h.texture?.tex ?? (h.int ? this.dummyInt : this.dummy)
  }

  private texture(layout: Layout, int: boolean): Texture {
    const key = `${layout.width}x${layout.height}${int ? "i" : "f"}`
    const pooled = this.pool.get(key)?.pop()
    let texture: Texture
    if (pooled !== undefined) {
      this.pooledBytes -= layout.width * layout.height * 16
      texture = pooled
      texture.refs = 1
    } else texture = { tex: this.createTexture(layout.width, layout.height, int), width: layout.width, height: layout.height, int, refs: 1 }
    this.live.add(texture)
    return texture
  }

  /** A new handle on the same texture (a reshape: same elements, same layout). */
  share(h: Handle): Handle {
    if (h.texture !== undefined) h.texture.refs++
    return new Handle(h.layout, h.texture, h.host, h.int)
  }

  dispose(h: Handle): void {
    if (h.disposed) return
    h.disposed = true
    const t = h.texture
    if (t === undefined || this.closed) return
    if (--t.refs > 0) return
    this.live.delete(t)
    if (this.lost) return
    const key = `${t.width}x${t.height}${t.int ? "i" : "f"}`
    const bytes = t.width * t.height * 16
    const list = this.pool.get(key) ?? []
    if (list.length < POOL_PER_SIZE && this.pooledBytes + bytes <= POOL_BYTES) {
      list.push(t)
      this.pool.set(key, list)
      this.pooledBytes += bytes
    } else this.gl.deleteTexture(t.tex)
  }

  /** A new texture holding `values` (int32 exactly when they are an Int32Array). */
  upload(values: ArrayLike<number>): Handle {
    const h = this.alloc(values.length, values instanceof Int32Array)
    if (h.texture !== undefined) this.write(h.texture, h.layout, values)
    return h
  }

  private write(t: Texture, layout: Layout, values: ArrayLike<number>): void {
    const gl = this.gl
    const { width, height } = layout
    const rows = Math.ceil(layout.texels / width)
    if (t.int) {
      const ints = new Int32Array(rows * width * 4)
      ints.set(values)
      gl.bindTexture(gl.TEXTURE_2D, t.tex)
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, width, Math.min(rows, height), gl.RGBA_INTEGER, gl.INT, ints)
      return
    }
    let data: Float32Array
    if (values instanceof Float32Array && values.length === rows * width * 4) data = values
    else {
      data = new Float32Array(rows * width * 4)
      data.set(values)
    }
    gl.bindTexture(gl.TEXTURE_2D, t.tex)
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, width, Math.min(rows, height), gl.RGBA, gl.FLOAT, data)
  }

  /** The first `n` elements of a handle's texture (an Int32Array for an int32 one). */
  download(h: Handle): Float32Array | Int32Array {
    const { n, width, texels } = h.layout
    const t = h.texture
    if (t === undefined || n === 0) return h.int ? new Int32Array(0) : new Float32Array(0)
    if (h.disposed) throw new Error("internal: download of a disposed webgl buffer")
    const gl = this.gl
    const rows = Math.ceil(texels / width)
    const out = t.int ? new Int32Array(rows * width * 4) : new Float32Array(rows * width * 4)
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.fbo)
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, t.tex, 0)
    if (t.int) gl.readPixels(0, 0, width, rows, gl.RGBA_INTEGER, gl.INT, out)
    else gl.readPixels(0, 0, width, rows, gl.RGBA, gl.FLOAT, out)
    return out.length === n ? out : out.subarray(0, n)
  }

  private compile(type: number, source: string): WebGLShader {
    const gl = this.gl
    const sh = gl.createShader(type)!
    gl.shaderSource(sh, source)
    gl.compileShader(sh)
    if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS) && !gl.isContextLost()) {
      const log = gl.getShaderInfoLog(sh)
      gl.deleteShader(sh)
      throw new BackendError({ message: `webgl backend: shader compilation failed: ${log}\n${source}` })
    }
    return sh
  }

  private program(key: string, inputs: ReadonlyArray<Handle>, out: Layout, outputs: number, outInt: boolean, body: () => string): Program {
    const fullKey = `${key}|${inputs.map((h) => `${h.layout.width}${h.int ? "i" : ""}`).join(",")}|${out.width}|${outputs}|${outInt ? "i" : "f"}`
    const cached = this.programs.get(fullKey)
    if (cached) {
      // most recently used last
      this.programs.delete(fullKey)
      this.programs.set(fullKey, cached)
      return cached
    }
    const gl = this.gl
    const fs = this.compile(gl.FRAGMENT_SHADER, fragmentSource(inputs.map((h) => ({ layout: h.layout, int: h.int })), out, outputs, outInt, body()))
    const program = gl.createProgram()!
    gl.attachShader(program, this.vs)
    gl.attachShader(program, fs)
    gl.linkProgram(program)
    gl.deleteShader(fs)
    if (!gl.getProgramParameter(program, gl.LINK_STATUS) && !gl.isContextLost())
      throw new BackendError({ message: `webgl backend: program link failed: ${gl.getProgramInfoLog(program)}` })
    const samplers = inputs.map((_, k) => gl.getUniformLocation(program, `A${k}`))
    const p = { program, samplers, uniforms: new Map<string, WebGLUniformLocation | null>() }
    this.programs.set(fullKey, p)
    if (this.programs.size > MAX_PROGRAMS) {
      const [oldest, q] = this.programs.entries().next().value as [string, Program]
      this.programs.delete(oldest)
      gl.deleteProgram(q.program)
    }
    return p
  }

  /**
   * Runs the fragment shader `body` (cached under `key`) over a new output of
   * `n` elements, with `inputs` bound as `A0..Ak`.
   */
  run(key: string, inputs: ReadonlyArray<Handle>, n: number, body: () => string, uniforms?: Uniforms): Handle {
    return this.runMany(key, inputs, n, 1, body, uniforms)[0]!
  }

  /**
   * As `run` with `count` outputs of `n` elements each, written together
   * (multiple render targets `outColor0..`). `uniforms` sets the body's
   * `uniform int` values for this draw (the program is shared by all values).
   */
  runMany(key: string, inputs: ReadonlyArray<Handle>, n: number, count: number, body: () => string, uniforms?: Uniforms): Handle[] {
    const outs: Handle[] = []
    try {
      for (let r = 0; r < count; r++) outs.push(this.alloc(n, this.outInt))
      if (n === 0) return outs
      const layout = outs[0]!.layout
      this.draw(key, inputs, outs, body, uniforms, 0, Math.ceil(layout.texels / layout.width))
      return outs
    } catch (e) {
      for (const o of outs) this.dispose(o)
      throw e
    }
  }

  /**
   * As `run`, drawing into the existing texture of `target` (which no input
   * may share) only the texture rows that hold elements `from` to `to - 1`;
   * its other rows keep their values. For algorithms that ping-pong two
   * textures and change a shrinking part of them per step.
   */
  runInto(key: string, inputs: ReadonlyArray<Handle>, target: Handle, from: number, to: number, body: () => string, uniforms?: Uniforms): void {
    const { width, texels } = target.layout
    if (target.texture === undefined || to <= from) return
    if (inputs.some((h) => h.texture === target.texture)) throw new Error("internal: runInto reads the texture it writes")
    const y0 = Math.floor((from >> 2) / width)
    const y1 = Math.min(Math.ceil(texels / width), Math.floor(((to - 1) >> 2) / width) + 1)
    this.draw(key, inputs, [target], body, uniforms, y0, y1)
  }

  private draw(key: string, inputs: ReadonlyArray<Handle>, outs: ReadonlyArray<Handle>, body: () => string, uniforms: Uniforms | undefined, y0: number, y1: number): void {
    const gl = this.gl
    const count = outs.length
    const layout = outs[0]!.layout
    const p = this.program(key, inputs, layout, count, this.outInt, body)
    const { program, samplers } = p
    gl.useProgram(program)
    if (uniforms !== undefined)
      for (const name in uniforms) {
        let loc = p.uniforms.get(name)
        if (loc === undefined) {
          loc = gl.getUniformLocation(program, name)
          p.uniforms.set(name, loc)
        }
        gl.uniform1i(loc, uniforms[name]!)
      }
    inputs.forEach((h, k) => {
      gl.activeTexture(gl.TEXTURE0 + k)
      gl.bindTexture(gl.TEXTURE_2D, this.textureOf(h))
      gl.uniform1i(samplers[k] ?? null, k)
    })
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.fbo)
    outs.forEach((o, r) => gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0 + r, gl.TEXTURE_2D, o.texture!.tex, 0))
    if (count > 1) gl.drawBuffers(outs.map((_, r) => gl.COLOR_ATTACHMENT0 + r))
    gl.viewport(0, y0, layout.width, y1 - y0)
    gl.bindVertexArray(this.vao)
    gl.drawArrays(gl.TRIANGLES, 0, 3)
    if (count > 1) {
      // back to one attachment for the next draw or read
      for (let r = 1; r < count; r++) gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0 + r, gl.TEXTURE_2D, null, 0)
      gl.drawBuffers([gl.COLOR_ATTACHMENT0])
    }
    gl.activeTexture(gl.TEXTURE0)
  }

  /** Deletes every GL object (the layer's release). */
  destroy(): void {
    if (this.closed) return
    this.closed = true
    if (this.lost || this.gl.isContextLost()) return
    const gl = this.gl
    for (const list of this.pool.values()) for (const t of list) gl.deleteTexture(t.tex)
    this.pool.clear()
    for (const t of this.live) gl.deleteTexture(t.tex)
    this.live.clear()
    for (const p of this.programs.values()) gl.deleteProgram(p.program)
    this.programs.clear()
    gl.deleteShader(this.vs)
    gl.deleteTexture(this.dummy)
    gl.deleteTexture(this.dummyInt)
    gl.deleteFramebuffer(this.fbo)
    gl.deleteVertexArray(this.vao)
  }
}
