/**
 * The browser demo (`npm run demo`): a small network learns two interleaved
 * spirals live, on the WebGL backend, or on the CPU where WebGL2 is missing.
 * The page plots the loss curve and the decision boundary as it trains.
 *
 * The model is plain diffect: its parameters are `TrainVar`s, the loss is
 * differentiated with `valueAndGrad(loss, { gradVars: params })`, Adam is an
 * Effect program over Variables. Moving it to the GPU is one Layer:
 * `Effect.provide(WebGLBackend.layer())`, with `catchTag("BackendError")`
 * falling back to `CpuBackend.layer`.
 *
 * Query parameters: `steps` (default 600), `seed` (default 0).
 */
import { Effect } from "effect"
import { Backend, CpuBackend, Random, Tensor, TrainVar, Variable } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import { valueAndGrad } from "@diffect/transforms"

const query = new URLSearchParams(location.search)
const STEPS = Number(query.get("steps") ?? 600)
const SEED = Number(query.get("seed") ?? 0)
const POINTS = 150 // per arm
const HIDDEN = 32
const DRAW_EVERY = 20 // steps between redraws of the boundary
const GRID = 48 // the boundary is evaluated on GRID × GRID points, in one batched call

const $ = (id: string): HTMLElement => document.getElementById(id)!
const show = (id: string, text: string) => Effect.sync(() => void ($(id).textContent = text))

// ------------------------------------------------------------------ data (on the host, seeded)

/** A small seeded generator (mulberry32), so every run sees the same points. */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Two interleaved spirals of 1.5 turns with a little noise: points in [-1, 1]², labels 0 / 1. */
const spirals = (seed: number) => {
  const next = rng(seed)
  const xy: number[] = []
  const labels: number[] = []
  for (const arm of [0, 1])
    for (let i = 0; i < POINTS; i++) {
      const r = 0.1 + (0.9 * i) / (POINTS - 1)
      const a = r * 1.5 * 2 * Math.PI + arm * Math.PI
      xy.push(r * Math.cos(a) + (next() - 0.5) * 0.06, r * Math.sin(a) + (next() - 0.5) * 0.06)
      labels.push(arm)
    }
  return { xy, labels }
}

// ------------------------------------------------------------------ the model

const initParams = (seed: number) =>
  Effect.gen(function* () {
    const key = yield* Random.key(seed)
    const dense = (fanIn: number, fanOut: number, scale: number) =>
      Effect.flatMap(Random.normal(key, [fanIn, fanOut], { stddev: scale / Math.sqrt(fanIn) }), (w) => TrainVar.make(w))
    return {
      w1: yield* dense(2, HIDDEN, 4),
      b1: yield* TrainVar.make(Tensor.zeros([HIDDEN])),
      w2: yield* dense(HIDDEN, HIDDEN, 1),
      b2: yield* TrainVar.make(Tensor.zeros([HIDDEN])),
      w3: yield* dense(HIDDEN, 1, 1),
      b3: yield* TrainVar.make(Tensor.zeros([1]))
    }
  })
type Params = Effect.Success<ReturnType<typeof initParams>>
type Name = keyof Params
const names = (p: Params) => Object.keys(p) as ReadonlyArray<Name>

/** The logit of class 1 for each row of `x`; the parameters are read as state. */
const logits = (p: Params, x: Tensor.Tensor) =>
  Effect.gen(function* () {
    const h1 = Tensor.tanh(Tensor.add(Tensor.matmul(x, yield* Variable.get(p.w1)), yield* Variable.get(p.b1)))
    const h2 = Tensor.tanh(Tensor.add(Tensor.matmul(h1, yield* Variable.get(p.w2)), yield* Variable.get(p.b2)))
    return Tensor.reshape(Tensor.add(Tensor.matmul(h2, yield* Variable.get(p.w3)), yield* Variable.get(p.b3)), [-1])
  })

/** softplus(z) = log(1 + eᶻ), stably. */
const softplus = (z: Tensor.Tensor) => Tensor.add(Tensor.relu(z), Tensor.log1p(Tensor.exp(Tensor.neg(Tensor.abs(z)))))
/** Binary cross-entropy on logits: mean(softplus(z) − y·z). */
const bce = (z: Tensor.Tensor, y: Tensor.Tensor) => Tensor.mean(Tensor.sub(softplus(z), Tensor.mul(y, z)))

/** Adam (PyTorch's defaults), its moments and step count in Variables. */
const adam = (params: Params, lr: number, b1 = 0.9, b2 = 0.999, eps = 1e-8) =>
  Effect.gen(function* () {
    const zeros = {} as Record<Name, Tensor.Tensor>
    for (const k of names(params)) zeros[k] = Tensor.zerosLike(yield* Variable.get(params[k]))
    const m = yield* Variable.make(zeros)
    const v = yield* Variable.make(zeros)
    let t = 0
    return <E>(loss: () => Effect.Effect<Tensor.Tensor, E>) =>
      Effect.gen(function* () {
        const [value, grads] = yield* valueAndGrad(loss, { gradVars: params })()
        t += 1
        const size = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t)
        const [mPrev, vPrev] = [yield* Variable.get(m), yield* Variable.get(v)]
        const mNext = {} as Record<Name, Tensor.Tensor>
        const vNext = {} as Record<Name, Tensor.Tensor>
        for (const k of names(params)) {
          mNext[k] = Tensor.add(Tensor.mul(mPrev[k], b1), Tensor.mul(grads[k], 1 - b1))
          vNext[k] = Tensor.add(Tensor.mul(vPrev[k], b2), Tensor.mul(Tensor.square(grads[k]), 1 - b2))
          yield* Variable.update(params[k], (w) => Tensor.sub(w, Tensor.div(Tensor.mul(mNext[k], size), Tensor.add(Tensor.sqrt(vNext[k]), eps))))
        }
        yield* Variable.set(m, mNext)
        yield* Variable.set(v, vNext)
        return value
      })
  })

// ------------------------------------------------------------------ drawing

const toPixel = (u: number, size: number) => ((u + 1.1) / 2.2) * size

const drawBoundary = (canvas: HTMLCanvasElement, probs: ArrayLike<number>, data: { xy: number[]; labels: number[] }) => {
  const g = canvas.getContext("2d")!
  const cell = canvas.width / GRID
  for (let r = 0; r < GRID; r++)
    for (let c = 0; c < GRID; c++) {
      const p = probs[r * GRID + c]! // row 0 is the top (largest y)
      const mix = (a: number, b: number) => Math.round(a + (b - a) * p)
      g.fillStyle = `rgb(${mix(205, 253)}, ${mix(227, 222)}, ${mix(247, 196)})`
      g.fillRect(c * cell, r * cell, cell + 1, cell + 1)
    }
  for (let i = 0; i < data.labels.length; i++) {
    g.beginPath()
    g.arc(toPixel(data.xy[2 * i]!, canvas.width), canvas.height - toPixel(data.xy[2 * i + 1]!, canvas.height), 3, 0, 2 * Math.PI)
    g.fillStyle = data.labels[i] ? "#d9480f" : "#1864ab"
    g.fill()
  }
}

const drawLoss = (canvas: HTMLCanvasElement, losses: ReadonlyArray<number>, steps: number) => {
  const g = canvas.getContext("2d")!
  const [w, h, pad] = [canvas.width, canvas.height, 36]
  g.clearRect(0, 0, w, h)
  const [lo, hi] = [-4, 0.5] // log10 of the loss
  const y = (loss: number) => pad / 2 + ((hi - Math.min(hi, Math.max(lo, Math.log10(loss)))) / (hi - lo)) * (h - pad)
  const x = (i: number) => pad + (i / Math.max(1, steps - 1)) * (w - pad - 8)
  g.strokeStyle = "#e2e6ea"
  g.fillStyle = "#4a5568"
  g.font = "11px system-ui, sans-serif"
  for (let e = lo; e <= 0; e++) {
    g.beginPath()
    g.moveTo(pad, y(10 ** e))
    g.lineTo(w - 8, y(10 ** e))
    g.stroke()
    g.fillText(`1e${e}`, 2, y(10 ** e) + 4)
  }
  g.strokeStyle = "#d9480f"
  g.lineWidth = 1.5
  g.beginPath()
  losses.forEach((l, i) => (i === 0 ? g.moveTo(x(i), y(l)) : g.lineTo(x(i), y(l))))
  g.stroke()
}

/** The GPU's name, for the backend line (where the browser tells it). */
const gpuName = (): string => {
  try {
    const gl = document.createElement("canvas").getContext("webgl2")
    const info = gl?.getExtension("WEBGL_debug_renderer_info")
    return gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : ""
  } catch {
    return ""
  }
}

// ------------------------------------------------------------------ the program

const data = spirals(SEED)
const held = spirals(SEED + 1) // held-out points of the same spirals, other noise
const train = Effect.gen(function* () {
  const backend = (yield* Backend).name
  yield* show("backend", backend === "webgl" ? `WebGL2${gpuName() ? ` (${gpuName()})` : ""}` : "CPU (no WebGL2 here)")
  const x = Tensor.make(Float32Array.from(data.xy), { shape: [data.labels.length, 2] })
  const y = Tensor.make(Float32Array.from(data.labels))
  const cx = Tensor.linspace(-1.1, 1.1, GRID)
  const cy = Tensor.linspace(1.1, -1.1, GRID) // rows top to bottom
  const grid = Tensor.concat(
    [
      Tensor.reshape(Tensor.broadcastTo(Tensor.expandDims(cx, 0), [GRID, GRID]), [-1, 1]),
      Tensor.reshape(Tensor.broadcastTo(Tensor.expandDims(cy, 1), [GRID, GRID]), [-1, 1])
    ],
    1
  )
  const params = yield* initParams(SEED)
  const step = yield* adam(params, 0.02)
  const loss = () => Effect.map(logits(params, x), (z) => bce(z, y))
  const losses: number[] = []
  const started = performance.now()
  const redraw = Effect.gen(function* () {
    const probs = yield* Tensor.data(Tensor.sigmoid(yield* logits(params, grid)))
    drawBoundary($("boundary") as HTMLCanvasElement, probs, data)
    drawLoss($("loss") as HTMLCanvasElement, losses, STEPS)
  })
  for (let i = 0; i < STEPS; i++) {
    losses.push(yield* Tensor.item(yield* step(loss)))
    if (i % DRAW_EVERY === 0 || i === STEPS - 1) {
      yield* redraw
      yield* show("step", `${i + 1} / ${STEPS}`)
      yield* show("loss-value", losses[i]!.toFixed(4))
      yield* show("time", `${((performance.now() - started) / (i + 1)).toFixed(1)} ms/step`)
      yield* Effect.sleep(0) // let the page paint
    }
  }
  const accuracy = (points: { xy: number[]; labels: number[] }) =>
    Effect.gen(function* () {
      const z = yield* logits(params, Tensor.make(Float32Array.from(points.xy), { shape: [points.labels.length, 2] }))
      const right = Tensor.equal(Tensor.cast(Tensor.greater(z, 0), "float32"), Tensor.make(Float32Array.from(points.labels)))
      return yield* Tensor.item(Tensor.mean(Tensor.cast(right, "float32")))
    })
  const acc = yield* accuracy(data)
  const testAcc = yield* accuracy(held)
  yield* show("accuracy", `${(acc * 100).toFixed(1)}%`)
  yield* show("test-accuracy", `${(testAcc * 100).toFixed(1)}%`)
  yield* show("time", `${STEPS} steps in ${((performance.now() - started) / 1000).toFixed(1)} s (${((performance.now() - started) / STEPS).toFixed(1)} ms/step)`)
  return { backend, accuracy: acc, testAccuracy: testAcc }
})

const program = train.pipe(
  Effect.provide(WebGLBackend.layer()),
  Effect.catchTag("BackendError", () => train.pipe(Effect.provide(CpuBackend.layer)))
)

Effect.runPromise(program).then(
  () => {
    $("status").textContent = "done"
    $("status").dataset.state = "done"
  },
  (e: unknown) => {
    $("status").textContent = `failed: ${String(e)}`
    $("status").dataset.state = "failed"
  }
)
