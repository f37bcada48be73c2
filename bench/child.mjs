// One library in its own process: `node bench/child.mjs <lib> <mode> [ids...]`.
// mode "main": for each workload id, warm up, then time at least MIN_REPS
// repetitions (each one builds the computation from the prepared inputs and
// reads every result back to the host); sends the times and the last outputs
// to the parent, which checks them. mode "first": times only the first MLP
// value+grad call of a fresh process.
import { performance } from "node:perf_hooks"
import { inputs, workloads } from "./common.mjs"

const [lib, mode, ...ids] = process.argv.slice(2)
const MIN_REPS = Number(process.env.BENCH_MIN_REPS ?? 10)
const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 400)
const MAX_REPS = 200

const send = (msg) => new Promise((resolve) => process.send(msg, resolve))

const timeOnce = async (run) => {
  const t0 = performance.now()
  let out = run()
  if (out && typeof out.then === "function") out = await out
  return [performance.now() - t0, out]
}

const main = async () => {
  const adapter = (await import(`./libs/${lib}.mjs`)).default
  await adapter.init()
  if (mode === "first") {
    const run = await adapter.prepare("mlp", inputs("mlp"))
    if (!run) return send({ id: "firstCall", unsupported: true })
    const [ms, out] = await timeOnce(run)
    return send({ id: "firstCall", times: [ms], outs: out })
  }
  for (const id of ids.length > 0 ? ids : workloads.map((w) => w.id)) {
    let run
    try {
      run = await adapter.prepare(id, inputs(id))
    } catch (e) {
      await send({ id, error: `prepare: ${e?.stack ?? e}` })
      continue
    }
    if (!run) {
      await send({ id, unsupported: true })
      continue
    }
    try {
      // warm-up: at least 2 calls and 100 ms
      const w0 = performance.now()
      for (let i = 0; i < 2 || performance.now() - w0 < 100; i++) await timeOnce(run)
      const times = []
      let out
      const t0 = performance.now()
      while (times.length < MIN_REPS || (performance.now() - t0 < MIN_MS && times.length < MAX_REPS)) {
        const [ms, o] = await timeOnce(run)
        times.push(ms)
        out = o
      }
      // an adapter that computes in another layout converts its last outputs back here, untimed
      await send({ id, times, outs: run.post ? run.post(out) : out })
    } catch (e) {
      await send({ id, error: String(e?.stack ?? e) })
    }
    if (global.gc) global.gc()
  }
  await send({ id: "memory", maxRssMB: process.resourceUsage().maxRSS / 1024 })
}

main().then(
  () => process.exit(0),
  async (e) => {
    await send({ id: "fatal", error: String(e?.stack ?? e) })
    process.exit(1)
  }
)
