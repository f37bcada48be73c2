import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}/src/index.ts`, import.meta.url))
const srcOf = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url))

/** The smallest module using relaxed SIMD (f32x4.relaxed_madd): does this Node validate it without a flag? */
const z16 = new Array(16).fill(0)
const relaxedProbe = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0, 0x0a, 0x3d, 1, 0x3b, 0, 0xfd, 0x0c, ...z16, 0xfd, 0x0c, ...z16, 0xfd, 0x0c, ...z16, 0xfd, 0x85, 2, 0x0b])
const relaxedByDefault = WebAssembly.validate(relaxedProbe)
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
