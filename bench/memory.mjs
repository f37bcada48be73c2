// Peak memory of long programs, each in a fresh process (run `npm run build` first):
//   node bench/memory.mjs [euler|imports|all] [--steps 16000]
// euler: the gradient through a JavaScript loop of T Euler steps of
//   x ← x + dt·(tanh(W x) − x), n = 64, loss mean(x_T²), with respect to W;
// imports: what importing effect and diffect costs before any work.
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"

const argv = process.argv.slice(2)
const which = argv.find((a) => !a.startsWith("--") && !/^\d+$/.test(a)) ?? "all"
const stepsAt = argv.indexOf("--steps")
const steps = stepsAt >= 0 ? Number(argv[stepsAt + 1]) : 16000

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
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    child.on("message", resolve)
    child.on("exit", (code) => code !== 0 && resolve({ kind, detail: `exit ${code}`, maxRssMB: NaN, ms: NaN }))
  })

for (const kind of which === "all" ? ["imports", "euler"] : [which]) {
  const r = await runChild(kind)
  console.log(`${r.kind}: peak RSS ${r.maxRssMB.toFixed(0)} MB, ${(r.ms / 1000).toFixed(2)} s${r.detail ? ` (${r.detail})` : ""}`)
}
