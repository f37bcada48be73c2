// How time and memory grow with the number of steps for the control-flow
// row (the rate network x ← x + dt·(tanh(W x) − x), n = 64, loss mean(x_T²),
// value and gradient with respect to W), each (T, variant) in a fresh process
// (run `npm run build` first):
//   node bench/scan.mjs [--steps 1000,10000,100000] [--variants scan,checkpoint,plain-js]
// scan: `scan(body, ...)`, one residual set per step kept for the backward pass;
// checkpoint: `scan(checkpoint(body), ...)`, only the carries kept, the rest recomputed;
// plain-js: the hand-written BPTT of bench/libs/plain-js.mjs (its residuals in one buffer).
// Prints, for each: the time of the second call per step (the first traces),
// and the peak RSS of the process.
import { fork } from "node:child_process"
import os from "node:os"
import { fileURLToPath } from "node:url"
import { wasmFlags } from "./wasm-flags.mjs"

const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : dflt
}

if (process.env.DIFFECT_SCAN_CHILD) {
  const variant = process.env.DIFFECT_SCAN_CHILD, steps = Number(process.env.STEPS)
  const { BPTT, inputs } = await import("./common.mjs")
  const I = { ...inputs("bptt"), steps }
  let call
  if (variant === "plain-js") {
    const lib = (await import("./libs/plain-js.mjs")).default
    call = await lib.prepare("bptt", I)
  } else {
    const Effect = await import("effect/Effect")
    const { Tensor } = await import("@diffect/core")
    const T = await import("@diffect/transforms")
    const { bpttLoss } = await import("./libs/diffect.mjs")
    const vg = T.valueAndGrad(bpttLoss(T, I, { checkpoint: variant === "checkpoint" }))
    const W = Tensor.make(I.w, { shape: [BPTT.n, BPTT.n] })
    call = () => Effect.runPromise(Effect.flatMap(vg(W), ([value, grad]) => Effect.all([Tensor.data(value), Tensor.data(grad)])))
  }
  const t0 = performance.now()
  await call()
  const first = performance.now() - t0
  const t1 = performance.now()
  const [loss] = await call()
  const second = performance.now() - t1
  process.send({ variant, steps, first, second, loss: loss[0], maxRssMB: process.resourceUsage().maxRSS / 1024 })
  process.exit(0)
}

const runChild = (variant, steps) =>
  new Promise((resolve) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, DIFFECT_SCAN_CHILD: variant, STEPS: String(steps) },
      execArgv: [...new Set([...process.execArgv, ...wasmFlags])],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    child.on("message", resolve)
    child.on("exit", (code) => code !== 0 && resolve({ variant, steps, error: `exit ${code}` }))
  })

const stepsList = opt("steps", "1000,10000,100000").split(",").map(Number)
const variants = opt("variants", "scan,checkpoint,plain-js").split(",")
console.log(`${os.cpus()[0]?.model ?? "CPU"}, ${os.cpus().length} cores, Node ${process.version}, load ${os.loadavg()[0].toFixed(1)}`)
console.log("| variant | T | first call (trace + run) | second call | µs/step | peak RSS (MB) |")
console.log("|---|---|---|---|---|---|")
for (const variant of variants)
  for (const steps of stepsList) {
    const r = await runChild(variant, steps)
    if (r.error) console.log(`| ${variant} | ${steps} | ${r.error} | | | |`)
    else console.log(`| ${variant} | ${steps} | ${r.first.toFixed(0)} ms | ${r.second.toFixed(0)} ms | ${((r.second * 1000) / steps).toFixed(1)} | ${r.maxRssMB.toFixed(0)} |`)
  }
