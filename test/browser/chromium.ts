/**
 * How every browser test launches Chromium: Debian's `/usr/bin/chromium`
 * (or `CHROMIUM_PATH`), with the flags that give WebGL2 through SwiftShader
 * in a container. Used by vitest.browser.config.ts, the install test and the
 * browser demo's test.
 */
export const chromiumPath: string = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

export const chromiumArgs: ReadonlyArray<string> = [
  "--no-sandbox",
  "--use-angle=swiftshader",
  "--enable-unsafe-swiftshader",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage"
]
