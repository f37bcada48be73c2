import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}/src/index.ts`, import.meta.url))
const srcOf = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: {
      // subpath entries first: an alias also matches "<key>/..." imports
      "@diffect/transforms/testing": srcOf("transforms/src/testing/index.ts"),
      "@diffect/transforms/fp-ts": srcOf("transforms/src/interop/fp-ts.ts"),
      "@diffect/core/Codec": srcOf("core/src/Codec.ts"),
      "@diffect/core": src("core"),
      "@diffect/transforms": src("transforms"),
      "@diffect/backend-webgl": src("backend-webgl"),
      "@diffect/backend-webgpu": src("backend-webgpu"),
      "@diffect/nn": src("nn")
    }
  },
  test: {
    include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
    exclude: ["**/node_modules/**", "test/browser/**"],
    testTimeout: 60_000,
    typecheck: { enabled: true, include: ["test/**/*.test-d.ts"], tsconfig: "./tsconfig.test.json" }
  }
})
