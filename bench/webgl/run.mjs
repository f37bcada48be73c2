// `npm run bench:webgl`: diffect's WebGL backend against tfjs-backend-webgl in
// the same headless Chromium page (Debian /usr/bin/chromium or CHROMIUM_PATH,
// SwiftShader WebGL2 here; a GPU where there is one). Bundles page.mjs with
// esbuild, runs each workload alternately per library, checks results
// against float64 references and prints medians and ratios (tfjs time /
// diffect time: above 1 means diffect is faster).
//
//   node bench/webgl/run.mjs [--only matmul256,mlp] [--min-ms 1500] [--mtw 512] [--cpu-threshold 0] [--gpu]
// (--mtw, --cpu-threshold: diffect's maxTextureWidth and cpuThreshold options)
import { build } from "esbuild"
import { chromium } from "playwright"
import { fileURLToPath } from "node:url"

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : dflt
}
const ids = opt("only", "matmul64,matmul256,matmul512,mlp,elem,elemGrad,hess32,jacrev128,jacfwd128,opChain").split(",")
const minMs = Number(opt("min-ms", 1500))

const bundle = await build({
  entryPoints: [here("./page.mjs")],
  bundle: true,
  format: "esm",
  platform: "browser",
  write: false,
  minify: true,
  logLevel: "error",
  define: { "process.env.NODE_ENV": '"production"' },
  alias: {
    "@diffect/core": here("../../packages/core/dist/index.js"),
    "@diffect/transforms": here("../../packages/transforms/dist/index.js"),
    "@diffect/backend-webgl": here("../../packages/backend-webgl/dist/index.js")
  }
})

const args = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
  ...(argv.includes("--gpu") ? ["--enable-gpu", "--ignore-gpu-blocklist", "--use-angle=default"] : ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"])
]
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args, headless: true })
try {
  const page = await browser.newPage()
  page.on("pageerror", (e) => console.error("page error:", e))
  await page.setContent("<!doctype html><html><body></body></html>")
  await page.addScriptTag({ content: bundle.outputFiles[0].text, type: "module" })
  await page.waitForFunction(() => typeof window.runBench === "function")
  const { renderer, rows } = await page.evaluate((o) => window.runBench(o), { ids, minMs, mtw: opt("mtw", undefined) ? Number(opt("mtw")) : undefined, cpuThreshold: opt("cpu-threshold", undefined) ? Number(opt("cpu-threshold")) : undefined })
  console.log(`WebGL renderer: ${renderer}`)
  const fmt = (r) => (r === undefined ? "—" : r.error ? "ERROR" : `${r.median.toFixed(2)} ms${r.ok ? "" : " FAIL"}`)
  const header = ["workload", "diffect-webgl", "tfjs-webgl", "ratio (tfjs/diffect)", "diffect GFLOP/s", "first call diffect / tfjs"]
  const lines = rows.map((row) => {
    const d = row.results["diffect-webgl"], t = row.results["tfjs-webgl"]
    const ratio = d?.median && t?.median ? (t.median / d.median).toFixed(2) : "—"
    const gflops = row.flops && d?.median ? (row.flops / d.median / 1e6).toFixed(2) : ""
    const first = `${d?.first?.toFixed(0) ?? "—"} / ${t?.first?.toFixed(0) ?? "—"} ms`
    return [row.label, fmt(d), fmt(t), ratio, gflops, first]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)))
  const show = (cells) => "| " + cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ") + " |"
  console.log(show(header))
  console.log(show(widths.map((w) => "-".repeat(w))))
  for (const l of lines) console.log(show(l))
  let failed = false
  for (const row of rows)
    for (const [lib, r] of Object.entries(row.results)) {
      if (r.error) console.error(`${row.id} ${lib}: ${r.error}`)
      else if (!r.ok) console.error(`${row.id} ${lib}: wrong result (${r.why})`)
      if (lib === "diffect-webgl" && (r.error || !r.ok)) failed = true
    }
  process.exitCode = failed ? 1 : 0
} finally {
  await browser.close()
}
