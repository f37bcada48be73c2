/**
 * The scalar consts that ops share (the 0.5 of every `mul(x, 0.5)`) are read
 * by every backend a program runs on. Each backend keeps its own buffer of
 * such a const: an evaluation on one backend never reads a buffer that
 * another backend gave back, nor one released when another backend's Layer
 * closed. Here two CPU backend layers whose buffers behave as a GPU's
 * (boxes that are invalid once given back, all given back when the layer's
 * scope closes), one of them closed while the other is still evaluating.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { describe, expect, it } from "vitest"
import { Backend, BackendError, type BackendShape, CpuBackend, Tensor } from "@diffect/core"

interface Box {
  v: unknown
  released: boolean
}

/**
 * A CPU backend layer (its own worker pool) with device-like buffers; its
 * `exp` kernel waits for `gate` once `started` is called, so a test can run
 * something else in the middle of an evaluation.
 */
const deviceLike = (hold?: { readonly started: () => void; readonly gate: Promise<void> }) =>
  Layer.effect(
    Backend,
    Effect.gen(function* () {
      const cpu = yield* Backend
      const live = new Set<Box>()
      const box = (v: unknown): Box => {
        const b = { v, released: false }
        live.add(b)
        return b
      }
      const unbox = (h: unknown): unknown => {
        const b = h as Box
        if (b.released) throw new BackendError({ message: "device-like backend: a released buffer was read" })
        return b.v
      }
      const kernels = Object.fromEntries(
        Object.entries(cpu.kernels).map(([k, kernel]) => [
          k,
          (args: ReadonlyArray<{ handle: unknown }>, p: never, out: never) => {
            const run = () => box((kernel as (a: unknown, p: never, o: never) => unknown)(args.map((a) => ({ ...a, handle: unbox(a.handle) })), p, out))
            if (k === "exp" && hold !== undefined) {
              hold.started()
              return hold.gate.then(run)
            }
            return run()
          }
        ])
      ) as unknown as BackendShape["kernels"]
      const release = (h: unknown) => {
        const b = h as Box
        b.released = true
        live.delete(b)
      }
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const b of live) b.released = true
          live.clear()
        })
      )
      const backend: BackendShape = {
        name: "device-like",
        supports: cpu.supports,
        upload: (host) => box(host.slice()),
        download: (h, aval) => cpu.download(unbox(h), aval),
        share: (h) => box(unbox(h)),
        dispose: release,
        kernels,
        liveBuffers: () => live.size
      }
      return backend
    })
  ).pipe(Layer.provide(CpuBackend.layerWith({ threads: 1 })))

describe("shared scalar consts on several backends", () => {
  it("a cached scalar stays right on one backend while another reads it and closes", async () => {
    let started!: () => void
    const running = new Promise<void>((r) => (started = r))
    let open!: () => void
    const gate = new Promise<void>((r) => (open = r))
    const a = ManagedRuntime.make(deviceLike({ started, gate }))
    const b = ManagedRuntime.make(deviceLike())
    try {
      const x = Tensor.make([0, 1, 2])
      // the evaluation on `a` has its operands (the shared 0.3125 among them) and waits in exp
      const onA = a.runPromise(Tensor.toArray(Tensor.mul(Tensor.exp(x), 0.3125)))
      await running
      // meanwhile `b` reads the same cached scalar, then its layer closes (every buffer it holds is released)
      expect(await b.runPromise(Tensor.toArray(Tensor.mul(Tensor.make([1, 2]), 0.3125)))).toEqual([0.3125, 0.625])
      await b.dispose()
      open()
      const got = (await onA) as number[]
      ;[0, 1, 2].forEach((v, i) => expect(got[i]).toBeCloseTo(Math.exp(v) * 0.3125, 5))
      // and later evaluations on `a` still read it right
      expect(await a.runPromise(Tensor.toArray(Tensor.mul(Tensor.make([4, -8]), 0.3125)))).toEqual([1.25, -2.5])
    } finally {
      open()
      await a.dispose()
      await b.dispose()
    }
  })

  it("backends taking turns on a cached scalar each read it right", async () => {
    const a = ManagedRuntime.make(deviceLike())
    const b = ManagedRuntime.make(deviceLike())
    try {
      for (let i = 0; i < 3; i++) {
        expect(await a.runPromise(Tensor.toArray(Tensor.sub(Tensor.make([i]), 0.71875)))).toEqual([i - 0.71875])
        expect(await b.runPromise(Tensor.toArray(Tensor.sub(Tensor.make([2 * i]), 0.71875)))).toEqual([2 * i - 0.71875])
      }
      await b.dispose()
      expect(await a.runPromise(Tensor.toArray(Tensor.sub(Tensor.make([10]), 0.71875)))).toEqual([10 - 0.71875])
    } finally {
      await a.dispose()
      await b.dispose()
    }
  })
})
