/**
 * How every browser test launches Chromium: Debian's `/usr/bin/chromium`
 * (or `CHROMIUM_PATH`), with the flags that give WebGL2 through SwiftShader
 * in a container, and WebGPU on SwiftShader. Used by vitest.browser.config.ts, the install test and the
 * browser demo's test.
 */
export const chromiumPath: string = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

export const chromiumArgs: ReadonlyArray<string> = [
  "--no-sandbox",
  "--use-angle=swiftshader",
  "--enable-unsafe-swiftshader",
  // WebGPU (on SwiftShader's Vulkan); navigator.gpu needs a secure context: the test page is served from 127.0.0.1
  "--enable-unsafe-webgpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage"
]
