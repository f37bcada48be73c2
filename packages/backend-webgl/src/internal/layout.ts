/**
 * Texture layout of a flat buffer.
 *
 * A tensor of `n` elements is stored row-major and flat, four consecutive
 * elements per RGBA32F texel: element `i` lives in texel `i >> 2`, channel
 * `i & 3`, and texel `t` sits at `(t % width, t / width)` of a 2-D texture.
 * The width depends only on the texel count (the power of two at or above
 * its square root, at most the maximum row width), so tensors of the same
 * size always share a layout and textures of the same dimensions can be
 * pooled and reused. Textures are about square rather than long rows:
 * rasterizers spread rows over threads (SwiftShader runs a one-row draw on
 * one thread) and shade 2×2 quads (a one-row draw leaves half idle).
 */

export interface Layout {
  /** Elements stored (the tensor's size). */
  readonly n: number
  /** Texels used: `ceil(n / 4)`. */
  readonly texels: number
  /** Texture width in texels. */
  readonly width: number
  /** Texture height in texels. */
  readonly height: number
}

const nextPow2 = (x: number): number => {
  let p = 1
  while (p < x) p *= 2
  return p
}

/**
 * The layout of `n` elements with rows of at most `maxWidth` texels (wider
 * when that would need more than `maxSize` rows), or undefined when it does
 * not fit in a `maxSize` × `maxSize` texture.
 */
export const layoutOf = (n: number, maxWidth: number, maxSize: number): Layout | undefined => {
  const texels = Math.ceil(n / 4)
  // about square (rows are what a rasterizer spreads over its threads and quads)
  let width = Math.max(1, Math.min(nextPow2(Math.ceil(Math.sqrt(texels))), maxWidth))
  // rows wider than preferred rather than more rows than the device allows
  if (Math.ceil(texels / width) > maxSize) width = nextPow2(Math.ceil(texels / maxSize))
  const height = Math.max(1, Math.ceil(texels / width))
  if (width > maxSize || height > maxSize) return undefined
  return { n, texels, width, height }
}

/** The largest row width to use: a power of two, at most the device's texture size. */
export const rowWidth = (requested: number | undefined, maxTextureSize: number): number => {
  const w = Math.min(requested ?? 4096, maxTextureSize)
  let p = 1
  while (p * 2 <= w) p *= 2
  return p
}
