// Side-by-side benchmark: diffect against TensorFlow.js (cpu, wasm) and
// jax-js (wasm, eager and jit). Every library runs in its own child process,
// alternately (A B C … A B C …); each child warms up, then times at least 10
// repetitions per workload. Results are checked here against float64
// references (a fast wrong answer is a FAIL). Prints one table of medians
// and ratios (peer time / diffect time: above 1 means diffect is faster) and
// records it in bench/README.md.
//
//   node bench/run.mjs [--no-relaxed-simd] [--rounds 2] [--first-rounds 10] [--libs diffect,tfjs-cpu]
//                      [--only matmul512,mlp] [--no-readme]
import { fork } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import os from "node:os"
import { fileURLToPath } from "node:url"
import { check, median, workloads } from "./common.mjs"
import { relaxedSimd, wasmFlags } from "./wasm-flags.mjs"

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : dflt
}
const ALL_LIBS = ["diffect", "diffect-t1", "diffect-jit", "diffect-jit-t1", "tfjs-cpu", "tfjs-wasm", "jax-js", "jax-js-jit", "jax-js-workers", "plain-js"]
/** Libraries that take part in some rows only (the hand-written baseline of the control-flow row). */
const LIB_ROWS = { "plain-js": ["bptt"] }
const libs = opt("libs", ALL_LIBS.join(",")).split(",")
const rounds = Number(opt("rounds", 2))
const firstRounds = Number(opt("first-rounds", 10))
const only = opt("only", undefined)?.split(",")
const rows = workloads.filter((w) => !only || only.includes(w.id))
const writeReadme = !argv.includes("--no-readme") && !only && libs.length === ALL_LIBS.length

const runChild = (lib, mode, ids) =>
  new Promise((resolve) => {
    const msgs = []
    const child = fork(here("./child.mjs"), [lib, mode, ...ids], {
      serialization: "advanced",
      stdio: ["ignore", "inherit", "pipe", "ipc"],
      execArgv: ["--expose-gc", ...wasmFlags]
    })
    let stderr = ""
    child.stderr.on("data", (d) => (stderr += d))
    child.on("message", (m) => msgs.push(m))
    child.on("exit", (code) => {
      if (code !== 0) msgs.push({ id: "fatal", error: `exit ${code}: ${stderr.slice(-2000)}` })
      resolve(msgs)
    })
  })

// results[lib][id] = { times: [], fails: [], unsupported, maxErr }
const results = Object.fromEntries(libs.map((l) => [l, {}]))
const slot = (lib, id) => (results[lib][id] ??= { times: [], fails: [], maxErr: 0, unsupported: false })
const record = (lib, m) => {
  if (m.id === "memory") return slot(lib, "memory").times.push(m.maxRssMB)
  if (m.id === "fatal") return slot(lib, "fatal").fails.push(m.error)
  const s = slot(lib, m.id)
  if (m.unsupported) return void (s.unsupported = true)
  if (m.error) return void s.fails.push(m.error.split("\n").slice(0, 3).join(" | "))
  const c = check(m.id === "firstCall" ? "mlp" : m.id, m.outs)
  if (!c.ok) s.fails.push(c.why)
  else s.maxErr = Math.max(s.maxErr, c.err)
  s.times.push(...m.times)
}

const log = (s) => process.stderr.write(s)
const t0 = Date.now()
// One fresh child per (round, workload, library), libraries alternating
// within each workload: no workload runs in a process warmed, or a heap
// grown, by another, and the peak RSS of a child is that of one workload.
for (let r = 0; r < rounds; r++) {
  const s = Date.now()
  log(`round ${r + 1}/${rounds}: `)
  for (const w of rows) {
    for (const lib of libs) {
      if (w.only && !lib.startsWith(w.only)) continue
      if (LIB_ROWS[lib] && !LIB_ROWS[lib].includes(w.id)) continue
      for (const m of await runChild(lib, "main", [w.id])) {
        if (m.id === "memory") slot(lib, `rss:${w.id}`).times.push(m.maxRssMB)
        else record(lib, m)
      }
    }
    log(".")
  }
  log(` ${((Date.now() - s) / 1000).toFixed(0)} s\n`)
}
const wantFirst = !only || only.includes("firstCall")
if (wantFirst && firstRounds > 0) {
  log(`first-call latency: ${firstRounds} fresh processes per library `)
  for (let r = 0; r < firstRounds; r++) {
    for (const lib of libs) for (const m of await runChild(lib, "first", [])) record(lib, m)
    log(".")
  }
  log("\n")
}

// ------------------------------------------------------------------ table

/** The workloads whose child's peak RSS is reported. */
const memRows = ["mlp", "elemGrad", "matmul512"]
const fmtTime = (ms) => (ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`)
const allRows = [
  ...rows,
  ...(wantFirst && firstRounds > 0 ? [{ id: "firstCall", label: "first call: MLP value+grad, fresh process", kind: "time" }] : []),
  ...rows.filter((w) => memRows.includes(w.id)).map((w) => ({ id: `rss:${w.id}`, label: `peak RSS of a process running: ${w.label.replace(/ \(.*\)$/, "")} (MB)`, kind: "mem" }))
]
const cellOf = (w, lib) => {
  const s = results[lib][w.id]
  if (!s || s.unsupported || (s.times.length === 0 && s.fails.length === 0)) return { text: "n/a" }
  if (s.fails.length > 0) return { text: "FAIL", fail: s.fails[0] }
  const m = median(s.times)
  if (w.kind === "mem") return { text: `${m.toFixed(0)}`, value: m }
  if (w.kind === "perop") return { text: `${((m * 1000) / w.ops).toFixed(2)} µs`, value: m }
  if (w.kind === "gflops") return { text: `${fmtTime(m)} (${(w.flops / m / 1e6).toFixed(2)})`, value: m }
  return { text: fmtTime(m), value: m }
}
// the baseline column: diffect (or diffect-js, its pure-JavaScript kernels)
const baseLib = libs.find((l) => l.startsWith("diffect"))
const peers = libs.filter((l) => l !== baseLib)
const header = ["workload", ...(baseLib ? [baseLib] : []), ...peers.map((p) => `${p} (ratio)`)]
const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`]
const failures = []
for (const w of allRows) {
  const d = baseLib ? cellOf(w, baseLib) : undefined
  if (d?.fail) failures.push(`${baseLib} ${w.id}: ${d.fail}`)
  const cells = [w.label, ...(d ? [d.text] : [])]
  for (const p of peers) {
    const c = cellOf(w, p)
    if (c.fail) failures.push(`${p} ${w.id}: ${c.fail}`)
    const ratio = d?.value !== undefined && c.value !== undefined ? ` (${(c.value / d.value).toFixed(2)}×)` : ""
    cells.push(c.text + ratio)
  }
  lines.push(`| ${cells.join(" | ")} |`)
}
// compiled against compiled: diffect's jit against jax-js's jit, same run
if (libs.includes("diffect-jit") && libs.includes("jax-js-jit")) {
  lines.push("", "| workload (both compiled) | diffect-jit | jax-js-jit (ratio) |", "|---|---|---|")
  for (const w of allRows) {
    const d = cellOf(w, "diffect-jit"), j = cellOf(w, "jax-js-jit")
    if (d.value === undefined || j.value === undefined) continue
    lines.push(`| ${w.label} | ${d.text} | ${j.text} (${(j.value / d.value).toFixed(2)}×) |`)
  }
}
const table = lines.join("\n")
const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}, WebAssembly relaxed SIMD ${relaxedSimd ? "on" : "off"}`
const command = `node bench/run.mjs ${argv.join(" ")}`.trim()
const summary = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}.`,
  `Command: \`npm run bench\` (\`npm run build && ${command}\`), ${rounds} alternating rounds, ${(Date.now() - t0) / 1000 | 0} s.`,
  "",
  table,
  "",
  "Times are medians over all timed repetitions of all rounds (matmul: GFLOP/s in parentheses).",
  "Ratios are peer time / diffect time: above 1 means diffect is faster. n/a: the library has no such API",
  "(tfjs has no jacobian/hessian), or the row does not apply (a jitted op chain is one kernel).",
  ...(failures.length > 0 ? ["", "Failures:", ...failures.map((f) => `- ${f}`)] : [])
].join("\n")
console.log(summary)

if (writeReadme) {
  const path = here("./README.md")
  const readme = readFileSync(path, "utf8")
  const start = "<!-- results:start -->", end = "<!-- results:end -->"
  const a = readme.indexOf(start), b = readme.indexOf(end)
  if (a >= 0 && b > a) {
    writeFileSync(path, readme.slice(0, a + start.length) + "\n" + summary + "\n" + readme.slice(b))
    log("bench/README.md updated\n")
  }
}
for (const s of Object.values(results).flatMap((r) => Object.values(r))) if (s.fails.length && process.env.BENCH_VERBOSE) log(s.fails.join("\n") + "\n")
