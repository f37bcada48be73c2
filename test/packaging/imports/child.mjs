// `node --import tsx child.mjs LOG [--built] SPECIFIER...`: imports each
// specifier (the workspace packages from their sources, or with --built from
// their built packages) with hooks.mjs recording every module loaded into LOG.
import { register } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"

const [log, ...rest] = process.argv.slice(2)
// --built: the packages as users import them (their package.json exports: the bundles in dist/bundle/)
const built = rest[0] === "--built"
const specifiers = built ? rest.slice(1) : rest
const root = new URL("../../../", import.meta.url)
const src = (p) => pathToFileURL(fileURLToPath(new URL(`packages/${p}`, root))).href
const sources = {
  "@diffect/core": src("core/src/index.ts"),
  "@diffect/core/Codec": src("core/src/Codec.ts"),
  "@diffect/transforms": src("transforms/src/index.ts")
}
register(new URL("./hooks.mjs", import.meta.url), { data: { log, sources: built ? {} : sources } })
for (const s of specifiers) await import(s)
