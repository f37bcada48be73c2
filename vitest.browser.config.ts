import { fileURLToPath } from "node:url"
import { playwright } from "@vitest/browser-playwright"
import { defineConfig } from "vitest/config"

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}/src/index.ts`, import.meta.url))

/** Chromium flags that give WebGL2 through SwiftShader in a container. */
export const chromiumArgs = [
  "--no-sandbox",
  "--use-angle=swiftshader",
  "--enable-unsafe-swiftshader",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
  // lets leak tests collect garbage (FinalizationRegistry releases) on demand
  "--js-flags=--expose-gc"
]

export default defineConfig({
  resolve: {
    alias: {
      "@diffect/core": src("core"),
      "@diffect/transforms": src("transforms"),
      "@diffect/backend-webgl": src("backend-webgl")
    }
  },
  test: {
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 120_000,
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({
        launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: chromiumArgs }
      }),
      instances: [{ browser: "chromium" }]
    }
  }
})
