/**
 * Layers, initializers and Module: what each layer computes (against closed
 * forms and PyTorch's definitions), the statistics of the initializers,
 * dropout's mask and training flag, sequential composition, trainVars
 * paths, gradients through layers (checkGrads), and typed failures.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Random, Tensor, TrainVar, Variable } from "@diffect/core"
import { grad } from "@diffect/transforms"
import { checkGrads } from "@diffect/transforms/testing"
import { Init, Layer, Loss, Module } from "@diffect/nn"
import { expectClose, failureOf, run } from "./helpers.js"


describe("linear", () => {
  it("computes x @ w + b with w [in, out], and has params { w, b } (or { w })", async () => {
    const r = await run(
      Effect.gen(function* () {
        const key = yield* Random.key(0)
        const dense = yield* Layer.linear(key, 3, 2)
        yield* Variable.set(dense.params.w, Tensor.make([[1, 0], [0, 1], [1, 1]]))
        yield* Variable.set(dense.params.b!, Tensor.make([0.5, -0.5]))
        const y = yield* Tensor.toArray(yield* dense.apply(Tensor.make([[1, 2, 3]])))
        const noBias = yield* Layer.linear(key, 3, 2, { bias: false })
        return { y, keys: Object.keys(dense.params).sort(), noBiasKeys: Object.keys(noBias.params), shape: dense.params.w.avals[0]!.shape }
      })
    )
    expect(r.y).toEqual([[4.5, 4.5]])
    expect(r.keys).toEqual(["b", "w"])
    expect(r.noBiasKeys).toEqual(["w"])
    expect(r.shape).toEqual([3, 2])
  })

  it("an input of the wrong width is a ShapeError naming the layer", async () => {
    const e = await failureOf(
      Effect.gen(function* () {
        const dense = yield* Layer.linear(yield* Random.key(0), 3, 2)
        return yield* dense.apply(Tensor.zeros([4, 5]))
      })
    )
    expect(e._tag).toBe("ShapeError")
    expect(e.message).toMatch(/Layer\.linear: expected an input whose last axis is 3, got float32\[4, 5\]/)
  })

  it("bad sizes and options are OptionsErrors", async () => {
    const key = await run(Random.key(0))
    for (const [make, message] of [
      [() => Layer.linear(key, 0, 2), /inDim must be a positive integer/],
      [() => Layer.linear(key, 2, 1.5), /outDim must be a positive integer/],
      [() => Layer.linear(key, 2, 2, { bias: 1 } as never), /bias must be a boolean/],
      [() => Layer.layerNorm(4, { eps: -1 }), /eps must be/],
      [() => Layer.embedding(key, 10, 4, { dtype: "int32" } as never), /dtype must be "float32" or "float64"/],
      [() => Layer.dropout(key, 1), /rate must be a number in \[0, 1\)/],
      [() => Layer.dropout(Tensor.zeros([2]) as never, 0.5), /key must be a Random key Variable/],
      [() => Layer.sequential({ params: {} } as never), /argument 0 is not a layer/]
    ] as const) {
      const e = await failureOf((make as () => Effect.Effect<unknown, { _tag: string; message: string }>)())
      expect(e._tag).toBe("OptionsError")
      expect(e.message).toMatch(message)
    }
  })
})

describe("conv2d", () => {
  it("is Tensor.conv of [N, C, H, W] with a [O, C, kh, kw] kernel plus a bias per channel", async () => {
    const r = await run(
      Effect.gen(function* () {
        const conv = yield* Layer.conv2d(yield* Random.key(0), 1, 2, 2)
        yield* Variable.set(conv.params.w, Tensor.make([[[[1, 0], [0, 1]]], [[[0, 1], [1, 0]]]]))
        yield* Variable.set(conv.params.b!, Tensor.make([0, 100]))
        const x = Tensor.reshape(Tensor.arange(0, 9), [1, 1, 3, 3]) // [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
        const same = yield* Layer.conv2d(yield* Random.key(1), 3, 4, [3, 3], { padding: "SAME", strides: 2, bias: false })
        return {
          y: yield* Tensor.toArray(yield* conv.apply(x)),
          shape: (yield* same.apply(Tensor.zeros([2, 3, 8, 8]))).shape,
          params: Object.keys(same.params),
          kernel: same.params.w.avals[0]!.shape
        }
      })
    )
    expect(r.y).toEqual([[[[4, 6], [10, 12]], [[104, 106], [110, 112]]]])
    expect(r.shape).toEqual([2, 4, 4, 4])
    expect(r.params).toEqual(["w"])
    expect(r.kernel).toEqual([4, 3, 3, 3])
  })

  it("gradients through it are right (checkGrads, both modes, order 2); bad channels are ShapeErrors", async () => {
    await run(
      Effect.gen(function* () {
        const conv = yield* Layer.conv2d(yield* Random.key(2), 2, 2, 2, { dtype: "float64", groups: 2 })
        const x = Tensor.reshape(Tensor.linspace(-1, 1, 2 * 2 * 3 * 3, { dtype: "float64" }), [2, 2, 3, 3])
        yield* checkGrads((x: Tensor.Tensor) => Effect.map(conv.apply(x), (y) => Tensor.sum(Tensor.tanh(y))), [x], { order: 2 })
      })
    )
    const e = await failureOf(Effect.flatMap(Effect.flatMap(Random.key(0), (k) => Layer.conv2d(k, 3, 4, 3)), (l) => l.apply(Tensor.zeros([1, 2, 5, 5]))))
    expect(e._tag).toBe("ShapeError")
    expect(e.message).toMatch(/Layer\.conv2d: expected an input \[N, 3, H, W\], got float32\[1, 2, 5, 5\]/)
    const g = await failureOf(Effect.flatMap(Random.key(0), (k) => Layer.conv2d(k, 3, 4, 3, { groups: 2 })))
    expect(g.message).toMatch(/groups 2 must divide inChannels 3/)
  })
})

describe("layerNorm", () => {
  it("normalizes the last axis to mean 0 and variance 1 (biased), then scales and shifts", async () => {
    const [y, shifted] = await run(
      Effect.gen(function* () {
        const norm = yield* Layer.layerNorm(4, { dtype: "float64" })
        const x = Tensor.make([[1, 2, 3, 4], [-2, 0, 0, 2]], { dtype: "float64" })
        const y = yield* Tensor.data(yield* norm.apply(x))
        yield* Variable.set(norm.params.scale!, Tensor.full([4], 2, { dtype: "float64" }))
        yield* Variable.set(norm.params.bias!, Tensor.full([4], 1, { dtype: "float64" }))
        return [y, yield* Tensor.data(yield* norm.apply(x))]
      })
    )
    const s1 = Math.sqrt(1.25 + 1e-5), s2 = Math.sqrt(2 + 1e-5)
    const expected = [-1.5 / s1, -0.5 / s1, 0.5 / s1, 1.5 / s1, -2 / s2, 0, 0, 2 / s2]
    expectClose(y, expected, 1e-12)
    expectClose(shifted, expected.map((v) => 2 * v + 1), 1e-12)
  })
})

describe("embedding", () => {
  it("looks up rows for int32 ids of any shape; the gradient reaches exactly those rows", async () => {
    const r = await run(
      Effect.gen(function* () {
        const embed = yield* Layer.embedding(yield* Random.key(0), 4, 2)
        yield* Variable.set(embed.params.table, Tensor.make([[0, 1], [10, 11], [20, 21], [30, 31]]))
        const ids = Tensor.make([[3, 0], [1, 1]], { dtype: "int32" })
        const out = yield* embed.apply(ids)
        const g = yield* grad(() => Effect.map(embed.apply(ids), Tensor.sum), { gradVars: embed.params.table })()
        return { shape: out.shape, out: yield* Tensor.toArray(out), g: yield* Tensor.toArray(g) }
      })
    )
    expect(r.shape).toEqual([2, 2, 2])
    expect(r.out).toEqual([[[30, 31], [0, 1]], [[10, 11], [10, 11]]])
    expect(r.g).toEqual([[1, 1], [2, 2], [0, 0], [1, 1]])
  })

  it("negative ids count from the end, ids out of range are clamped (as Tensor.take)", async () => {
    const out = await run(
      Effect.gen(function* () {
        const embed = yield* Layer.embedding(yield* Random.key(0), 3, 1)
        yield* Variable.set(embed.params.table, Tensor.make([[0], [10], [20]]))
        return yield* Tensor.toArray(yield* embed.apply(Tensor.make([-1, 7, 0], { dtype: "int32" })))
      })
    )
    expect(out).toEqual([[20], [20], [0]])
  })

  it("float ids are a DTypeError", async () => {
    const e = await failureOf(Effect.flatMap(Effect.flatMap(Random.key(0), (k) => Layer.embedding(k, 4, 2)), (l) => l.apply(Tensor.zeros([2]))))
    expect(e._tag).toBe("DTypeError")
    expect(e.message).toMatch(/Layer\.embedding: ids must be an int32 tensor, got float32\[2\]/)
  })
})

describe("dropout", () => {
  it("is the identity outside training mode, and drops with the rate and rescales in training mode", async () => {
    const r = await run(
      Effect.gen(function* () {
        const key = yield* Random.key(7)
        const drop = yield* Layer.dropout(key, 0.25)
        const x = Tensor.ones([100, 100])
        const off = yield* Tensor.data(yield* drop.apply(x))
        const keyBefore = yield* Tensor.toArray(yield* Variable.get(key))
        const on = yield* Tensor.data(yield* Module.training(drop.apply(x)))
        const on2 = yield* Tensor.data(yield* Module.training(drop.apply(x)))
        const evalInside = yield* Tensor.data(yield* Module.training(Module.evaluation(drop.apply(x))))
        return { off, on, on2, evalInside, keyMoved: JSON.stringify(keyBefore) !== JSON.stringify(yield* Tensor.toArray(yield* Variable.get(key))) }
      })
    )
    expect(r.off.every((v) => v === 1)).toBe(true)
    expect(r.evalInside.every((v) => v === 1)).toBe(true)
    const kept = r.on.filter((v) => v !== 0)
    expect(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true)
    expect(kept.length / r.on.length).toBeGreaterThan(0.72)
    expect(kept.length / r.on.length).toBeLessThan(0.78)
    expect(r.keyMoved).toBe(true)
    expect(Array.from(r.on2)).not.toEqual(Array.from(r.on)) // the key advanced: a new mask
  })
})

describe("initializers", () => {
  const stats = (t: ArrayLike<number>) => {
    let s = 0, s2 = 0, max = 0
    for (let i = 0; i < t.length; i++) (s += t[i]!), (s2 += t[i]! * t[i]!), (max = Math.max(max, Math.abs(t[i]!)))
    const mean = s / t.length
    return { mean, std: Math.sqrt(s2 / t.length - mean * mean), max }
  }
  it.each([
    ["glorotUniform", Init.glorotUniform, Math.sqrt(2 / (200 + 300)), Math.sqrt(6 / 500)],
    ["glorotNormal", Init.glorotNormal, Math.sqrt(2 / 500), Infinity],
    ["heUniform", Init.heUniform, Math.sqrt(2 / 200), Math.sqrt(6 / 200)],
    ["heNormal", Init.heNormal, Math.sqrt(2 / 200), Infinity]
  ] as const)("%s has the standard deviation of its definition", async (_name, init, std, bound) => {
    const data = await run(Effect.flatMap(Effect.flatMap(Random.key(1), (k) => init(k, [200, 300])), Tensor.data))
    const s = stats(data)
    expect(Math.abs(s.mean)).toBeLessThan(0.01 * std * 10)
    expect(s.std / std).toBeGreaterThan(0.98)
    expect(s.std / std).toBeLessThan(1.02)
    expect(s.max).toBeLessThanOrEqual(bound)
  })

  it("fans: [in, out] matrices and [out, in, ...kernel] convolutions", () => {
    expect(Init.fans([784, 256])).toEqual([784, 256])
    expect(Init.fans([16, 3, 5, 5])).toEqual([75, 400])
    expect(Init.fans([7])).toEqual([7, 7])
  })
})

describe("sequential and Module.trainVars", () => {
  it("applies in order; trainVars keys by path; variables also finds keys", async () => {
    const r = await run(
      Effect.gen(function* () {
        const key = yield* Random.key(0)
        const mlp = yield* Layer.sequential(yield* Layer.linear(key, 2, 3), Layer.fn(Tensor.relu), yield* Layer.linear(key, 3, 1))
        const drop = yield* Layer.dropout(key, 0.5)
        const model = { encoder: mlp.params, head: { norm: (yield* Layer.layerNorm(3)).params }, frozen: yield* Variable.make(Tensor.zeros([1])), drop: drop.state }
        const x = Tensor.make([[1, -1], [0.5, 2]])
        const [w0, b0, w2, b2] = [mlp.params[0].w, mlp.params[0].b!, mlp.params[2].w, mlp.params[2].b!]
        const byHand = Tensor.add(Tensor.matmul(Tensor.relu(Tensor.add(Tensor.matmul(x, yield* Variable.get(w0)), yield* Variable.get(b0))), yield* Variable.get(w2)), yield* Variable.get(b2))
        return {
          y: yield* Tensor.toArray(yield* mlp.apply(x)),
          byHand: yield* Tensor.toArray(byHand),
          flat: Object.keys(Module.trainVars(mlp.params)).sort(),
          nested: Object.keys(Module.trainVars(model)).sort(),
          all: Object.keys(Module.variables(model)).sort(),
          same: Module.trainVars(mlp.params)["0.w"] === w0,
          shared: Object.keys(Module.trainVars([w0, { again: w0 }]))
        }
      })
    )
    expect(r.y).toEqual(r.byHand)
    expect(r.flat).toEqual(["0.b", "0.w", "2.b", "2.w"])
    expect(r.nested).toEqual(["encoder.0.b", "encoder.0.w", "encoder.2.b", "encoder.2.w", "head.norm.bias", "head.norm.scale"])
    expect(r.all).toEqual(["drop.key", "encoder.0.b", "encoder.0.w", "encoder.2.b", "encoder.2.w", "frozen", "head.norm.bias", "head.norm.scale"])
    expect(r.same).toBe(true)
    expect(r.shared).toEqual(["0"])
  })

  it("gradients through a model of layers are right (checkGrads, both modes, order 2)", async () => {
    await run(
      Effect.gen(function* () {
        const key = yield* Random.key(3)
        const model = yield* Layer.sequential(
          yield* Layer.linear(key, 3, 4, { dtype: "float64" }),
          Layer.fn(Tensor.tanh),
          yield* Layer.layerNorm(4, { dtype: "float64" }),
          yield* Layer.linear(key, 4, 2, { dtype: "float64", init: Init.heNormal })
        )
        const labels = Tensor.make([1, 0, 1], { dtype: "int32" })
        const loss = (x: Tensor.Tensor) => Effect.map(model.apply(x), (z) => Loss.softmaxCrossEntropy(z, labels))
        yield* checkGrads(loss, [Tensor.make([[0.5, -1, 2], [1, 0.25, -0.5], [-1.5, 1, 0.3]], { dtype: "float64" })], { order: 2 })
        // and with respect to the parameters, through gradVars
        const params = Module.trainVars(model.params)
        const g = (yield* grad(() => loss(Tensor.ones([3, 3], { dtype: "float64" })), { gradVars: params })()) as Record<string, Tensor.Tensor>
        expect(Object.keys(g).sort()).toEqual(Object.keys(params).sort())
        for (const k of Object.keys(g)) expect(g[k]!.shape).toEqual(params[k]!.avals[0]!.shape)
      })
    )
  })
})

describe("TrainVars made by layers are trainable Variables with names", () => {
  it("names carry the layer's prefix", async () => {
    const names = await run(
      Effect.gen(function* () {
        const l = yield* Layer.linear(yield* Random.key(0), 2, 2, { name: "enc" })
        return [l.params.w.name, l.params.b!.name, TrainVar.is(l.params.w)]
      })
    )
    expect(names).toEqual(["enc.w", "enc.b", true])
  })
})
