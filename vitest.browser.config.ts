import { fileURLToPath } from "node:url"
import { playwright } from "@vitest/browser-playwright"
import { defineConfig } from "vitest/config"
import { chromiumArgs, chromiumPath } from "./test/browser/chromium.ts"

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}/src/index.ts`, import.meta.url))

export default defineConfig({
  // cross-origin isolation, so that the pages have SharedArrayBuffer and the CPU backend's worker pool runs (test/browser/threads.test.ts)
  server: { headers: { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" } },
  resolve: {
    alias: {
      "@diffect/core": src("core"),
      "@diffect/transforms": src("transforms"),
      "@diffect/backend-webgl": src("backend-webgl"),
      "@diffect/backend-webgpu": src("backend-webgpu")
    }
  },
  test: {
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 120_000,
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      // a page on 127.0.0.1 is a secure context: navigator.gpu exists there (WebGPU tests)
      api: { host: "127.0.0.1" },
      provider: playwright({
        launchOptions: {
          executablePath: chromiumPath,
          // --expose-gc lets leak tests collect garbage (FinalizationRegistry releases) on demand
          args: [...chromiumArgs, "--js-flags=--expose-gc"]
        }
      }),
      instances: [{ browser: "chromium" }]
    }
  }
})
