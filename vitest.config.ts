import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"
// does this Node validate relaxed SIMD without a flag?
import { relaxedSimdValidates as relaxedByDefault } from "./packages/core/scripts/relaxed-simd-probe.mjs"

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}/src/index.ts`, import.meta.url))
const srcOf = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url))

/** The WebAssembly kernels' tests, run a second time on the relaxed-SIMD build (Node 20 needs the flag; later Nodes have it on). */
const wasmKernelTests = ["packages/core/test/cpu-matmul.test.ts", "packages/core/test/cpu-threads.test.ts", "packages/core/test/cpu-conv.test.ts", "packages/core/test/cpu-wasm-build.test.ts"]

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
    testTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "node",
          include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
          exclude: ["**/node_modules/**", "test/browser/**"],
          typecheck: { enabled: true, include: ["test/**/*.test-d.ts"], tsconfig: "./tsconfig.test.json" }
        }
      },
      {
        extends: true,
        test: {
          name: "relaxed-simd",
          include: wasmKernelTests,
          env: { DIFFECT_EXPECT_RELAXED_SIMD: "1" },
          ...(relaxedByDefault ? {} : { execArgv: ["--experimental-wasm-relaxed-simd"] })
        }
      }
    ]
  }
})
