/** What can be checked without a browser: the layer fails typed, and the texture layout. */
import { Tensor } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import { Cause, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { layoutOf, rowWidth } from "../src/internal/layout.js"

describe("WebGLBackend.layer without WebGL2", () => {
  it("fails with BackendError when the layer is built", async () => {
    const exit = await Effect.runPromiseExit(Tensor.data(Tensor.ones([2])).pipe(Effect.provide(WebGLBackend.layer())))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const e = Cause.squash(exit.cause) as { _tag: string; message: string }
      expect(e._tag).toBe("BackendError")
      expect(e.message).toContain("WebGL2 is not available")
    }
  })

  it("fails with BackendError when a canvas gives no webgl2 context", async () => {
    const canvas = { getContext: () => null } as unknown as OffscreenCanvas
    const exit = await Effect.runPromiseExit(Effect.void.pipe(Effect.provide(WebGLBackend.layer({ canvas }))))
    expect(Exit.isFailure(exit) && (Cause.squash(exit.cause) as { _tag: string })._tag).toBe("BackendError")
  })
})

describe("texture layout", () => {
  it("packs four elements per texel in about square textures with power-of-two rows", () => {
    expect(layoutOf(0, 4096, 8192)).toEqual({ n: 0, texels: 0, width: 1, height: 1 })
    expect(layoutOf(1, 4096, 8192)).toEqual({ n: 1, texels: 1, width: 1, height: 1 })
    expect(layoutOf(13, 4096, 8192)).toEqual({ n: 13, texels: 4, width: 2, height: 2 })
    expect(layoutOf(17, 4096, 8192)).toEqual({ n: 17, texels: 5, width: 4, height: 2 })
    expect(layoutOf(65536, 4096, 8192)).toEqual({ n: 65536, texels: 16384, width: 128, height: 128 })
    expect(layoutOf(1_000_000, 4096, 8192)).toEqual({ n: 1_000_000, texels: 250_000, width: 512, height: 489 })
    expect(layoutOf(1_000_000, 256, 8192)).toEqual({ n: 1_000_000, texels: 250_000, width: 256, height: 977 })
    expect(layoutOf(100, 8, 8192)).toEqual({ n: 100, texels: 25, width: 8, height: 4 })
  })

  it("widens rows rather than exceed the device's height, and refuses what cannot fit", () => {
    expect(layoutOf(4 * 8 * 100, 8, 64)).toEqual({ n: 3200, texels: 800, width: 16, height: 50 })
    expect(layoutOf(4 * 64 * 64 + 1, 8, 64)).toBeUndefined()
  })

  it("row widths are powers of two within the device limit", () => {
    expect(rowWidth(undefined, 16384)).toBe(4096)
    expect(rowWidth(1000, 16384)).toBe(512)
    expect(rowWidth(undefined, 2048)).toBe(2048)
  })
})
