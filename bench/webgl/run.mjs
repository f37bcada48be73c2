// `npm run bench:webgl`: diffect's WebGL backend against tfjs-backend-webgl in
// the same headless Chromium page (Debian /usr/bin/chromium or CHROMIUM_PATH,
// SwiftShader WebGL2 here; a GPU where there is one). Bundles page.mjs with
// esbuild, runs each workload alternately per library, checks results
// against float64 references and prints medians and ratios (tfjs time /
// diffect time: above 1 means diffect is faster).
//
// `npm run bench:webgpu` (--webgpu): diffect's WebGPU backend against
// tfjs-backend-webgpu and jax-js's webgpu device (page-webgpu.mjs, served
// from 127.0.0.1 since navigator.gpu needs a secure context; the adapter is
// SwiftShader's here, a CPU emulation of a GPU). --train-steps N also runs a
// training loop of N steps on diffect and prints its live GPU buffers after
// every 1,000 steps (they must stay flat).
//
//   node bench/webgl/run.mjs [--only matmul256,mlp] [--min-ms 1500] [--mtw 512] [--cpu-threshold 0] [--gpu]
//   node bench/webgl/run.mjs --webgpu [--only matmul256,matmul512,mlp,elemGrad] [--train-steps 10000]
//   node bench/webgl/run.mjs --linalg [--only cholesky64,cholesky256,solve64,solve256,choleskyBatch]
// (--mtw, --cpu-threshold: diffect's maxTextureWidth and cpuThreshold options;
// --linalg: the WebGL backend's linear-algebra shaders against its host path,
// linalgOnHost, alternately in one page: linalg.mjs)
import { build } from "esbuild"
import { chromium } from "playwright"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : dflt
}
const webgpu = argv.includes("--webgpu")
const linalg = !webgpu && argv.includes("--linalg")
const ids = opt(
  "only",
  webgpu
    ? "matmul256,matmul512,mlp,elemGrad"
    : linalg
      ? "cholesky64,cholesky256,solve64,solve256,choleskyBatch"
      : "matmul64,matmul256,matmul512,mlp,elem,elemGrad,hess32,jacrev128,jacfwd128,opChain"
).split(",")
const libNames = webgpu ? ["diffect-webgpu", "tfjs-webgpu", "jax-js-webgpu"] : linalg ? ["diffect-webgl", "diffect-webgl-host"] : ["diffect-webgl", "tfjs-webgl"]
const minMs = Number(opt("min-ms", 1500))

const bundle = await build({
  entryPoints: [here(webgpu ? "./page-webgpu.mjs" : "./page.mjs")],
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
    "@diffect/backend-webgl": here("../../packages/backend-webgl/dist/index.js"),
    "@diffect/backend-webgpu": here("../../packages/backend-webgpu/dist/index.js")
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
  ...(argv.includes("--gpu") ? ["--enable-gpu", "--ignore-gpu-blocklist", "--use-angle=default"] : ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]),
  ...(webgpu ? ["--enable-unsafe-webgpu", "--js-flags=--expose-gc"] : [])
]
// WebGPU needs a secure context: the page and its script are served from 127.0.0.1
const server = webgpu
  ? createServer((req, res) => {
      if (req.url === "/bench.js") {
        res.setHeader("content-type", "text/javascript")
        res.end(bundle.outputFiles[0].text)
      } else {
        res.setHeader("content-type", "text/html")
        res.end('<!doctype html><html><body><script type="module" src="/bench.js"></script></body></html>')
      }
    })
  : undefined
if (server) await new Promise((r) => server.listen(0, "127.0.0.1", r))
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args, headless: true })
try {
  const page = await browser.newPage()
  page.on("pageerror", (e) => console.error("page error:", e))
  if (server) await page.goto(`http://127.0.0.1:${server.address().port}/`)
  else {
    await page.setContent("<!doctype html><html><body></body></html>")
    await page.addScriptTag({ content: bundle.outputFiles[0].text, type: "module" })
  }
  await page.waitForFunction(() => typeof window.runBench === "function")
  const { renderer, rows, training } = await page.evaluate((o) => window.runBench(o), {
    ids,
    minMs,
    mtw: opt("mtw", undefined) ? Number(opt("mtw")) : undefined,
    cpuThreshold: opt("cpu-threshold", undefined) ? Number(opt("cpu-threshold")) : undefined,
    trainSteps: Number(opt("train-steps", 0)),
    linalg
  })
  console.log(`${webgpu ? "WebGPU adapter" : "WebGL renderer"}: ${renderer}`)
  const fmt = (r) => (r === undefined ? "—" : r.error ? "ERROR" : `${r.median.toFixed(2)} ms${r.ok ? "" : " FAIL"}`)
  const [mine, ...peers] = libNames
  const header = ["workload", ...libNames, ...peers.map((p) => `ratio ${p}/diffect`), "diffect GFLOP/s", `first call ${libNames.join(" / ")}`]
  const lines = rows.map((row) => {
    const d = row.results[mine]
    const ratios = peers.map((p) => {
      const t = row.results[p]
      return d?.median && t?.median ? (t.median / d.median).toFixed(2) : "—"
    })
    const gflops = row.flops && d?.median ? (row.flops / d.median / 1e6).toFixed(2) : ""
    const first = `${libNames.map((l) => row.results[l]?.first?.toFixed(0) ?? "—").join(" / ")} ms`
    return [row.label, ...libNames.map((l) => fmt(row.results[l])), ...ratios, gflops, first]
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
      if (lib === mine && (r.error || !r.ok)) failed = true
    }
  if (training) {
    const flat = Math.max(...training.counts) - Math.min(...training.counts) <= 2
    console.log(
      `training loop, ${training.steps} steps (${training.msPerStep.toFixed(2)} ms/step): live GPU buffers after every 1,000: ${training.counts.join(" ")} (${flat ? "flat" : "GROWING"}), final loss ${training.loss}`
    )
    if (!flat) failed = true
  }
  process.exitCode = failed ? 1 : 0
} finally {
  await browser.close()
  server?.close()
}
