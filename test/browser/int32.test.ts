/**
 * int32 on the GPU is exact (RGBA32I textures): with every kernel a shader
 * (`cpuThreshold: 0`), a Random stream equals the CPU's bit for bit, and
 * int32 values beyond 2²⁴ survive movement, indexing, wrapping arithmetic,
 * comparisons, scans and casts.
 */
import { CpuBackend, Random, Tensor } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import { vmap } from "@diffect/transforms"
import { Effect, type Layer, ManagedRuntime } from "effect"
import { afterAll, describe, expect, it } from "vitest"

type T = Tensor.Tensor
const read = (ts: ReadonlyArray<T>) => Effect.forEach(ts, (t) => Effect.map(Tensor.data(t), (d) => Array.from(d as ArrayLike<number>)))

/** Keys, splits, foldIn and every sampler, many draws deep, and the keys themselves. */
const randomStream = Effect.gen(function* () {
  const key = yield* Random.key(1797259609)
  const out: T[] = []
  for (let step = 0; step < 6; step++) {
    const [k1, k2] = yield* Random.split(key)
    out.push(yield* Random.bits(k1!, [5]))
    out.push(yield* Random.uniform(k2!, [3]))
    out.push(yield* Random.normal(k1!, [2, 2]))
    out.push(yield* Random.randint(k2!, [4], -1000000000, 2000000000))
    const f = yield* Random.foldIn(key, step)
    out.push(yield* Random.bits(f, [3]))
  }
  out.push(yield* Random.permutation(key, 9))
  const batched = (yield* vmap((k: T) => Tensor.add(k, 0))(Tensor.make(Int32Array.of(1797259609, -1715843330, 2147483647, -2147483648), { shape: [2, 2], dtype: "int32" }))) as T
  out.push(batched)
  return yield* read(out)
})

const big = () => Tensor.make(Int32Array.of(1797259609, -1715843330, 2147483647, -2147483648, 16777217, -16777219, 123456789, 7), { dtype: "int32" })
const intOps = Effect.suspend(() => {
  const x = big()
  const m = Tensor.reshape(x, [2, 4])
  return read([
    Tensor.transpose(m),
    Tensor.slice(m, [0, 1], [2, 3]),
    Tensor.concat([m, m], 1),
    Tensor.broadcastTo(Tensor.slice(m, [0, 0], [1, 4]), [3, 4]),
    Tensor.pad(m, [[1, 0], [0, 1]]),
    Tensor.flip(x),
    Tensor.take(x, Tensor.make(Int32Array.of(3, 0, -1, 9), { dtype: "int32" })),
    Tensor.takeAlongAxis(m, Tensor.argsort(m), 1),
    Tensor.sort(x),
    Tensor.add(x, x),
    Tensor.sub(x, 1),
    Tensor.mul(x, 3),
    Tensor.neg(x),
    Tensor.abs(x),
    Tensor.maximum(x, Tensor.flip(x)),
    Tensor.greater(x, 16777216),
    Tensor.equal(x, Tensor.add(x, 1)),
    Tensor.where(Tensor.greater(x, 0), x, Tensor.flip(x)),
    Tensor.cumsum(x),
    Tensor.indexAdd(x, Tensor.make(Int32Array.of(0, 0, 7), { dtype: "int32" }), Tensor.make(Int32Array.of(1, 1, 1), { dtype: "int32" })),
    Tensor.cast(Tensor.make([3e9, -3e9, NaN, 16777216, -2.5]), "int32"),
    Tensor.cast(x, "float32"),
    Tensor.cast(Tensor.greater(x, 0), "int32")
  ])
})

describe("int32 is exact on the GPU", () => {
  const runtimes: Array<ManagedRuntime.ManagedRuntime<never, unknown>> = []
  const on = <A>(layer: Layer.Layer<never, unknown>, eff: Effect.Effect<A, unknown>) => {
    const rt = ManagedRuntime.make(layer)
    runtimes.push(rt)
    return rt.runPromise(eff)
  }
  afterAll(async () => {
    for (const rt of runtimes) await rt.dispose()
  })
  for (const [name, layer] of [
    ["shaders only", WebGLBackend.layer({ cpuThreshold: 0 })],
    ["shaders only, rows of 8 texels", WebGLBackend.layer({ cpuThreshold: 0, maxTextureWidth: 8 })]
  ] as const) {
    it(`the Random stream equals the CPU's bit for bit (${name})`, async () => {
      const gpu = await on(layer, randomStream)
      const cpu = await on(CpuBackend.layer, randomStream)
      expect(gpu).toEqual(cpu)
    })
    it(`int32 values beyond 2²⁴ survive every kernel (${name})`, async () => {
      const gpu = await on(layer, intOps)
      const cpu = await on(CpuBackend.layer, intOps)
      expect(gpu).toEqual(cpu)
      expect(gpu[0]).toEqual([1797259609, 16777217, -1715843330, -16777219, 2147483647, 123456789, -2147483648, 7])
    })
  }
})
