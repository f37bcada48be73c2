// API reference: `npm run docs` writes docs/api (gitignored).
import { readFileSync } from "node:fs"

// The backends' kernel tables are mapped types over the primitives
// ({ [P in Prim]: Kernel<P> }), which typedoc expands into one undocumented
// property per primitive; their documentation is the table's and Kernel's.
const source = readFileSync(new URL("./packages/core/src/internal/primitives.ts", import.meta.url), "utf8")
const list = /export const prims: ReadonlyArray<Prim> = \[([^\]]*)\]/.exec(source)
if (list === null) throw new Error("typedoc.config.mjs: could not find the list of primitives in packages/core/src/internal/primitives.ts")
const prims = [...list[1].matchAll(/"(\w+)"/g)].map((m) => m[1])
const tables = ["@diffect/core.BackendShape", "@diffect/backend-webgl.WebGLBackend.WebGLBackendShape", "@diffect/backend-webgpu.WebGPUBackend.WebGPUBackendShape"].flatMap((owner) =>
  ["kernels", "viewKernels"].map((table) => `${owner}.${table}`)
)

/** @type {Partial<import("typedoc").TypeDocOptions>} */
export default {
  name: "diffect",
  entryPoints: [
    "packages/core/src/index.ts",
    "packages/core/src/Codec.ts",
    "packages/transforms/src/index.ts",
    "packages/transforms/src/testing/index.ts",
    "packages/transforms/src/interop/fp-ts.ts",
    "packages/backend-webgl/src/index.ts",
    "packages/backend-webgpu/src/index.ts",
    "packages/nn/src/index.ts"
  ],
  tsconfig: "tsconfig.docs.json",
  out: "docs/api",
  readme: "README.md",
  excludeInternal: true,
  excludePrivate: true,
  disableSources: true,
  validation: { notExported: true, invalidLink: true, notDocumented: true },
  intentionallyNotDocumented: tables.flatMap((t) => prims.map((p) => `${t}.__type.${p}`))
}
