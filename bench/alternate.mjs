// Two (or more) libraries on one workload in ONE process, alternating call by
// call (A B A B ...), so that both see the same machine load; prints the
// 10th, 25th and 50th percentiles of each and the ratios to the first
// library (above 1: the first is faster). Run `npm run build` first.
//   node bench/alternate.mjs <workload> <lib> <lib> [...] [--reps 300]
//   node bench/alternate.mjs mlp diffect-jit-t1 jax-js-jit
// On a loaded machine the lower percentiles are the closest to the unloaded
// times; the side-by-side table of run.mjs (one process per library) is the
// reference figure.
import { inputs } from "./common.mjs"

const argv = process.argv.slice(2)
const at = argv.indexOf("--reps")
const reps = at >= 0 ? Number(argv[at + 1]) : 300
const [id, ...libs] = argv.filter((a, i) => !a.startsWith("--") && (at < 0 || i !== at + 1))
if (id === undefined || libs.length < 2) {
  console.error("usage: node bench/alternate.mjs <workload> <lib> <lib> [...] [--reps 300]")
  process.exit(2)
}
const runs = []
for (const lib of libs) {
  const adapter = (await import(`./libs/${lib}.mjs`)).default
  await adapter.init()
  const run = await adapter.prepare(id, inputs(id))
  if (!run) throw new Error(`${lib} has no workload ${id}`)
  for (let i = 0; i < 20; i++) await run()
  runs.push(run)
}
const times = libs.map(() => [])
for (let r = 0; r < reps; r++)
  for (let k = 0; k < runs.length; k++) {
    const t0 = performance.now()
    await runs[k]()
    times[k].push(performance.now() - t0)
  }
const q = (a, p) => [...a].sort((x, y) => x - y)[Math.floor(a.length * p)]
console.log(`${id}, ${reps} calls each, alternating`)
for (const p of [0.1, 0.25, 0.5])
  console.log(
    `p${String(p * 100).padStart(2)}: ` +
      libs.map((l, k) => `${l} ${q(times[k], p).toFixed(3)} ms` + (k > 0 ? ` (${(q(times[k], p) / q(times[0], p)).toFixed(2)}×)` : "")).join("  ")
  )
