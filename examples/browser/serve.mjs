// `npm run demo`: bundles the browser demo (demo.ts, with esbuild, from the
// built packages) into examples/browser/dist/ and serves it on 127.0.0.1
// (PORT, default 5173). Also used by the demo's test: `buildDemo()` and
// `serve(dir, port)`.
import { createServer } from "node:http"
import { copyFileSync, mkdirSync, readFileSync, statSync } from "node:fs"
import { extname, join, normalize } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"

const here = fileURLToPath(new URL(".", import.meta.url))

/** Bundles the demo into `outdir` (index.html and demo.js): a standard esbuild bundle of the packages' dist. */
export const buildDemo = async (outdir = join(here, "dist")) => {
  mkdirSync(outdir, { recursive: true })
  await build({
    entryPoints: [join(here, "demo.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: true,
    outfile: join(outdir, "demo.js"),
    logLevel: "warning"
  })
  copyFileSync(join(here, "index.html"), join(outdir, "index.html"))
  return outdir
}

const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".map": "application/json", ".png": "image/png" }

/** Serves the files of `dir` on 127.0.0.1:`port` (0: any free port); resolves to the server and its URL. */
export const serve = (dir, port = 5173) =>
  new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(/^(\.\.[/\\])+/, "")
      const file = join(dir, path.endsWith("/") ? `${path}index.html` : path)
      try {
        if (!file.startsWith(dir) || !statSync(file).isFile()) throw new Error("not a file")
        res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" })
        res.end(readFileSync(file))
      } catch {
        res.writeHead(404).end("not found")
      }
    })
    server.on("error", reject)
    server.listen(port, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/` }))
  })

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = await buildDemo()
  const { url } = await serve(dir, Number(process.env.PORT ?? 5173))
  console.log(`diffect demo: ${url} (Ctrl-C to stop)`)
}
