// `node --import tsx child.mjs LOG SPECIFIER...`: imports each specifier
// (the workspace packages from their sources) with hooks.mjs recording
// every module loaded into LOG.
import { register } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"

const [log, ...specifiers] = process.argv.slice(2)
const root = new URL("../../../", import.meta.url)
const src = (p) => pathToFileURL(fileURLToPath(new URL(`packages/${p}`, root))).href
const sources = {
  "@diffect/core": src("core/src/index.ts"),
  "@diffect/core/Codec": src("core/src/Codec.ts"),
  "@diffect/transforms": src("transforms/src/index.ts")
}
register(new URL("./hooks.mjs", import.meta.url), { data: { log, sources } })
for (const s of specifiers) await import(s)
