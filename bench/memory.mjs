// Peak memory of long programs, each in a fresh process (run `npm run build` first):
//   node bench/memory.mjs [euler|imports|stages|all] [--steps 16000]
// euler: the gradient through a JavaScript loop of T Euler steps of
//   x ← x + dt·(tanh(W x) − x), n = 64, loss mean(x_T²), with respect to W;
// imports: what importing effect and diffect costs before any work (the
//   peak RSS of a process that imports them; then RSS and heap used after
//   each import, collected, and the same for jax-js).
//
//   node bench/memory.mjs stages [--libs diffect-jit,diffect-jit-t1,jax-js-jit] [--calls 45] [--rounds 3]
// stages: where the memory of the benchmark's MLP child goes (bench/child.mjs
//   runs the same adapter), one fresh process per library and round, the
//   libraries alternating: process.memoryUsage() after each stage (bare Node,
//   the adapter's imports, the inputs and the prepared function, the first
//   call), the largest values seen after any of `--calls` calls, and what is
//   still live after a full collection (`--expose-gc`); medians over rounds.
//   A library named `<adapter>+bundle` (say diffect-jit+bundle) runs the same
//   adapter bundled by esbuild into one file with everything it imports
//   (effect, diffect; jax-js ships as one file already), as an application
//   bundler would ship it: Node's loader keeps a cost per ES module, which an
//   unbundled effect (65 modules for effect/Effect) pays and a bundle does not.
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { wasmFlags } from "./wasm-flags.mjs"

/** The adapter a `<adapter>+bundle` library bundles, or undefined for a plain one. */
const bundled = (lib) => (lib.endsWith("+bundle") ? lib.slice(0, -"+bundle".length) : undefined)

const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : dflt
}
const optionValues = new Set(["--steps", "--libs", "--calls", "--rounds"].map((o) => opt(o.slice(2), undefined)))
const which = argv.find((a) => !a.startsWith("--") && !optionValues.has(a)) ?? "all"
const steps = Number(opt("steps", 16000))

if (process.env.DIFFECT_MEMORY_STAGES) {
  const lib = process.env.DIFFECT_MEMORY_STAGES
  const calls = Number(process.env.CALLS)
  const MB = (b) => b / 2 ** 20
  const sample = () => {
    const m = process.memoryUsage()
    return { rss: MB(m.rss), heapUsed: MB(m.heapUsed), heapTotal: MB(m.heapTotal), external: MB(m.external), arrayBuffers: MB(m.arrayBuffers) }
  }
  const stages = [["bare Node", sample()]]
  const { inputs } = await import("./common.mjs")
  const adapter = (await import(bundled(lib) !== undefined ? `./.bundles/${bundled(lib)}.mjs` : `./libs/${lib}.mjs`)).default
  await adapter.init()
  stages.push(["imports", sample()])
  const run = await adapter.prepare("mlp", inputs("mlp"))
  stages.push(["inputs, prepared", sample()])
  await run()
  stages.push(["first call", sample()])
  const most = sample()
  for (let i = 0; i < calls; i++) {
    await run()
    for (const [k, v] of Object.entries(sample())) most[k] = Math.max(most[k], v)
  }
  stages.push([`most over ${calls} calls`, most])
  // a collection frees array buffers' memory after it returns: collect, wait, collect again
  global.gc()
  await new Promise((resolve) => setTimeout(resolve, 100))
  global.gc()
  stages.push(["live after a full GC", sample()])
  process.send({ lib, stages, maxRssMB: process.resourceUsage().maxRSS / 1024 })
  process.exit(0)
}

if (process.env.DIFFECT_MEMORY_IMPORTS) {
  // RSS and V8 heap used after each import, a full collection before each reading
  const specs = process.env.DIFFECT_MEMORY_IMPORTS.split(",")
  const read = async () => {
    global.gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
    global.gc()
    const m = process.memoryUsage()
    return [m.rss / 2 ** 20, m.heapUsed / 2 ** 20]
  }
  let [rss, heap] = await read()
  const parts = [`bare Node ${rss.toFixed(1)} MB RSS / ${heap.toFixed(1)} MB heap used`]
  for (const spec of specs) {
    await import(spec)
    const [r, h] = await read()
    parts.push(`${spec} +${(r - rss).toFixed(1)} / +${(h - heap).toFixed(1)}`)
    ;[rss, heap] = [r, h]
  }
  process.send(parts.join(", "))
  process.exit(0)
}

const importSteps = (specs) =>
  new Promise((resolve) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, DIFFECT_MEMORY_IMPORTS: specs.join(",") },
      execArgv: ["--expose-gc", ...wasmFlags],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    child.on("message", resolve)
    child.on("exit", (code) => code !== 0 && resolve(`exit ${code}`))
  })

if (which === "stages") {
  const libs = opt("libs", "diffect-jit,diffect-jit-t1,jax-js-jit").split(",")
  const calls = Number(opt("calls", 45)), rounds = Number(opt("rounds", 3))
  const runStages = (lib) =>
    new Promise((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), [], {
        env: { ...process.env, DIFFECT_MEMORY_STAGES: lib, CALLS: String(calls) },
        execArgv: ["--expose-gc", ...wasmFlags],
        stdio: ["ignore", "inherit", "inherit", "ipc"]
      })
      child.on("message", resolve)
      child.on("exit", (code) => code !== 0 && reject(new Error(`${lib}: exit ${code}`)))
    })
  for (const name of libs.map(bundled).filter((n) => n !== undefined)) {
    const { build } = await import("esbuild")
    await build({
      entryPoints: [fileURLToPath(new URL(`./libs/${name}.mjs`, import.meta.url))],
      outfile: fileURLToPath(new URL(`./.bundles/${name}.mjs`, import.meta.url)),
      bundle: true,
      format: "esm",
      platform: "node",
      logLevel: "warning"
    })
  }
  const got = Object.fromEntries(libs.map((l) => [l, []]))
  for (let r = 0; r < rounds; r++) for (const lib of libs) got[lib].push(await runStages(lib))
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b)
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  }
  const keys = ["rss", "heapUsed", "heapTotal", "external", "arrayBuffers"]
  const lines = [`| stage | ${libs.map((l) => `${l}: ${keys.join(" / ")}`).join(" | ")} |`, `|---|${libs.map(() => "---").join("|")}|`]
  for (let s = 0; s < got[libs[0]][0].stages.length; s++) {
    const cells = libs.map((l) => keys.map((k) => median(got[l].map((g) => g.stages[s][1][k])).toFixed(1)).join(" / "))
    lines.push(`| ${got[libs[0]][0].stages[s][0]} | ${cells.join(" | ")} |`)
  }
  lines.push(`| peak RSS (maxRSS) | ${libs.map((l) => median(got[l].map((g) => g.maxRssMB)).toFixed(1)).join(" | ")} |`)
  console.log(`MB, medians of ${rounds} processes per library (alternating), ${calls} calls after the first:\n${lines.join("\n")}`)
  process.exit(0)
}

if (process.env.DIFFECT_MEMORY_CHILD) {
  const kind = process.env.DIFFECT_MEMORY_CHILD
  const t0 = performance.now()
  const { Effect } = await import("effect/Effect").then((Effect) => ({ Effect }))
  const { Tensor, Variable } = await import("@diffect/core")
  const { grad } = await import("@diffect/transforms")
  let detail = ""
  if (kind === "euler") {
    const n = 64, dt = 0.01, T = Number(process.env.STEPS)
    const w0 = new Float32Array(n * n)
    for (let i = 0; i < n * n; i++) w0[i] = (((Math.sin(i * 12.9898) * 43758.5453) % 1) - 0.5) * 0.6
    const W = await Effect.runPromise(Variable.make(Tensor.make(w0, { shape: [n, n] })))
    const x0 = Tensor.mul(Tensor.ones([n, 1]), 0.5)
    const loss = () =>
      Effect.map(Variable.get(W), (w) => {
        let x = x0
        for (let t = 0; t < T; t++) x = Tensor.add(x, Tensor.mul(Tensor.sub(Tensor.tanh(Tensor.matmul(w, x)), x), dt))
        return Tensor.mean(Tensor.square(x))
      })
    const g = await Effect.runPromise(Effect.flatMap(grad(loss, { gradVars: W })(), Tensor.data))
    detail = `T = ${T}, |dW|₁ = ${g.reduce((a, b) => a + Math.abs(b), 0).toExponential(3)}`
  }
  process.send({ kind, detail, maxRssMB: process.resourceUsage().maxRSS / 1024, ms: performance.now() - t0 })
  process.exit(0)
}

const runChild = (kind) =>
  new Promise((resolve) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, DIFFECT_MEMORY_CHILD: kind, STEPS: String(steps) },
      execArgv: [...new Set([...process.execArgv, ...wasmFlags])],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    child.on("message", resolve)
    child.on("exit", (code) => code !== 0 && resolve({ kind, detail: `exit ${code}`, maxRssMB: NaN, ms: NaN }))
  })

for (const kind of which === "all" ? ["imports", "euler"] : [which]) {
  const r = await runChild(kind)
  console.log(`${r.kind}: peak RSS ${r.maxRssMB.toFixed(0)} MB, ${(r.ms / 1000).toFixed(2)} s${r.detail ? ` (${r.detail})` : ""}`)
  if (kind === "imports") {
    console.log(`  import by import, collected: ${await importSteps(["effect/Effect", "@diffect/core", "@diffect/transforms"])}`)
    console.log(`  jax-js, collected: ${await importSteps(["@jax-js/jax"])}`)
  }
}
