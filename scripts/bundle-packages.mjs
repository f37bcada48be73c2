// Bundles each workspace package's compiled modules (dist/, from tsc) into
// dist/bundle/: one ES module per entry point of its package.json `exports`,
// with the code the entries share in chunks, every other package (effect,
// the other @diffect packages, fp-ts) left as an import. `npm run build`
// runs it after tsc.
//
// Why: Node's loader keeps a cost per ES module (its source, its compiled
// code, its bindings). Importing @diffect/transforms loaded 88 modules of
// diffect's own (about 6.5 MB of RSS and 60-80 ms on the bench machine);
// from the bundles it loads 6 (about 3 MB and 35 ms). The declarations stay
// tsc's, one per module; the bundles' source maps lead back to src/.
//
// An export's entry is found from its "types" path (tsc writes the module
// next to its declaration): { "types": "./dist/testing/index.d.ts",
// "import": "./dist/bundle/testing.js" } bundles dist/testing/index.js into
// dist/bundle/testing.js.
import { build } from "esbuild"
import { readFileSync, rmSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const workspace = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))

for (const dir of workspace.workspaces) {
  const pkgDir = join(root, dir)
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"))
  const out = join(pkgDir, "dist", "bundle")
  const entryPoints = {}
  for (const [key, conditions] of Object.entries(pkg.exports ?? {})) {
    const target = conditions.import
    const types = conditions.types
    if (typeof target !== "string" || !target.startsWith("./dist/bundle/") || typeof types !== "string" || !types.endsWith(".d.ts"))
      throw new Error(`${pkg.name}: exports["${key}"] should be { types: "./dist/….d.ts", import: "./dist/bundle/….js" }`)
    entryPoints[target.slice("./dist/bundle/".length, -".js".length)] = join(pkgDir, types.slice(0, -".d.ts".length) + ".js")
  }
  rmSync(out, { recursive: true, force: true })
  await build({
    entryPoints,
    outdir: out,
    bundle: true,
    splitting: true,
    format: "esm",
    // the packages run in Node and in browsers: nothing platform-specific is added
    platform: "neutral",
    target: "es2022",
    packages: "external",
    external: ["node:*"],
    sourcemap: true,
    sourcesContent: false,
    chunkNames: "chunk-[hash]",
    logLevel: "warning"
  })
  console.log(`${pkg.name}: ${Object.keys(entryPoints).length} entries bundled into ${relative(root, out)}`)
}
