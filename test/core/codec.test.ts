/**
 * Codec: the JSON form of tensors (every dtype, non-finite values, round
 * trips with fast-check), the Schema codecs and their constraints, typed
 * failures on bad data, and checkpoints of Variables that restore all or
 * nothing.
 */
import { Cause, Effect, Exit, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor, TrainVar, Variable } from "@diffect/core"
import * as Codec from "@diffect/core/Codec"

const run = <A, E>(eff: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(eff)
const values = async (t: Tensor.Tensor): Promise<number[]> => Array.from((await run(Tensor.data(t))) as ArrayLike<number>)

/** The typed failure of an effect (it must fail, not die). */
const failure = async (eff: Effect.Effect<unknown, unknown>): Promise<{ _tag: string; message: string }> => {
  const exit = await Effect.runPromiseExit(eff)
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  expect(Cause.hasDies(exit.cause), "no defect").toBe(false)
  return Cause.squash(exit.cause) as { _tag: string; message: string }
}

type DT = "float32" | "float64" | "int32" | "bool" | "complex64"
const sizeOf = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

/** A random tensor value: dtype, shape (0-size included) and data exactly representable in the dtype. */
const arbTensor = (options: { negativeZero?: boolean } = {}) =>
  fc
    .tuple(fc.constantFrom<DT>("float32", "float64", "int32", "bool", "complex64"), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
    .chain(([dtype, shape]) => {
      const n = sizeOf(shape) * (dtype === "complex64" ? 2 : 1)
      // JSON.stringify writes -0 as 0: leave negative zeros out unless asked for
      const zero = (x: number) => (options.negativeZero || !Object.is(x, -0) ? x : 0)
      const value: fc.Arbitrary<number> =
        dtype === "float64"
          ? fc.double().map(zero)
          : dtype === "int32"
            ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
            : dtype === "bool"
              ? fc.integer({ min: 0, max: 1 })
              : fc.float().map(zero)
      return fc.record({ dtype: fc.constant(dtype), shape: fc.constant(shape), data: fc.array(value, { minLength: n, maxLength: n }) })
    })

const tensorOf = (v: { dtype: DT; shape: number[]; data: number[] }) => Tensor.make(Float64Array.from(v.data), { shape: v.shape, dtype: v.dtype })

describe("Codec.encode", () => {
  it("writes shape, dtype and flat data for every dtype", async () => {
    expect(await run(Codec.encode(Tensor.make([[1, 2], [3, 4]])))).toEqual({ shape: [2, 2], dtype: "float32", data: [1, 2, 3, 4] })
    expect(await run(Codec.encode(Tensor.make([0.1], { dtype: "float64" })))).toEqual({ shape: [1], dtype: "float64", data: [0.1] })
    expect(await run(Codec.encode(Tensor.make([-3, 7], { dtype: "int32" })))).toEqual({ shape: [2], dtype: "int32", data: [-3, 7] })
    expect(await run(Codec.encode(Tensor.make([true, false], { dtype: "bool" })))).toEqual({ shape: [2], dtype: "bool", data: [1, 0] })
    expect(await run(Codec.encode(Tensor.make({ re: [1, 2], im: [3, 4] }, { dtype: "complex64" })))).toEqual({
      shape: [2],
      dtype: "complex64",
      data: [1, 3, 2, 4]
    })
    expect(await run(Codec.encode(Tensor.make(5)))).toEqual({ shape: [], dtype: "float32", data: [5] })
    expect(await run(Codec.encode(Tensor.zeros([0, 3])))).toEqual({ shape: [0, 3], dtype: "float32", data: [] })
  })

  it("writes non-finite floats as strings, so JSON.stringify keeps them", async () => {
    const json = await run(Codec.encode(Tensor.make([Number.NaN, Infinity, -Infinity, 1])))
    expect(json.data).toEqual(["NaN", "Infinity", "-Infinity", 1])
    const back = await run(Codec.decode(JSON.parse(JSON.stringify(json))))
    expect(await values(back)).toEqual([Number.NaN, Infinity, -Infinity, 1])
  })

  it("evaluates lazy tensors, and fails with the error a bad tensor carries", async () => {
    expect((await run(Codec.encode(Tensor.add(Tensor.ones([2]), 1)))).data).toEqual([2, 2])
    const e = await failure(Codec.encode(Tensor.add(Tensor.ones([2]), Tensor.ones([3]))))
    expect(e._tag).toBe("ShapeError")
  })

  it("checks constraints", async () => {
    const e1 = await failure(Codec.encode(Tensor.ones([2, 3]), { shape: [null, 4] }))
    expect([e1._tag, e1.message]).toEqual(["ShapeError", expect.stringContaining("expected shape [?, 4], got float32[2, 3]")])
    const e2 = await failure(Codec.encode(Tensor.ones([2]), { dtype: "float64" }))
    expect([e2._tag, e2.message]).toEqual(["DTypeError", expect.stringContaining("expected dtype float64, got float32[2]")])
  })
})

describe("Codec.decode", () => {
  it("round trips every dtype exactly (fast-check, in memory, -0 included)", async () => {
    await fc.assert(
      fc.asyncProperty(arbTensor({ negativeZero: true }), async (v) => {
        const t = tensorOf(v)
        const back = await run(Codec.decode(await run(Codec.encode(t))))
        expect([back.dtype, [...back.shape]]).toEqual([t.dtype, [...t.shape]])
        expect(await values(back)).toEqual(await values(t))
      }),
      { numRuns: 150 }
    )
  })

  it("round trips through JSON.stringify / JSON.parse (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(arbTensor(), async (v) => {
        const t = tensorOf(v)
        const text = JSON.stringify(await run(Codec.encode(t)))
        const back = await run(Codec.decode(JSON.parse(text)))
        expect(await values(back)).toEqual(await values(t))
        // and encoding is stable
        expect(JSON.stringify(await run(Codec.encode(back)))).toBe(text)
      }),
      { numRuns: 150 }
    )
  })

  it("float32 data is rounded to float32", async () => {
    expect(await values(await run(Codec.decode({ shape: [1], dtype: "float32", data: [0.1] })))).toEqual([Math.fround(0.1)])
  })

  it.each([
    ["not an object", 42, "ShapeError", "Expected object"],
    ["a missing field", { shape: [1], dtype: "float32" }, "ShapeError", "data"],
    ["an unknown dtype", { shape: [1], dtype: "int8", data: [1] }, "DTypeError", "dtype"],
    ["a fractional axis", { shape: [1.5], dtype: "float32", data: [1] }, "ShapeError", "shape.0"],
    ["a negative axis", { shape: [-1], dtype: "float32", data: [] }, "ShapeError", "shape.0"],
    ["a non-number element", { shape: [2], dtype: "float32", data: [1, "x"] }, "ShapeError", 'Expected a number or "NaN" | "Infinity" | "-Infinity" at data.1'],
    ["too few values", { shape: [2, 3], dtype: "float32", data: [1, 2, 3, 4, 5] }, "ShapeError", "float32[2, 3] needs 6 values, got 5"],
    ["too many values", { shape: [], dtype: "int32", data: [1, 2] }, "ShapeError", "int32[] needs 1 values, got 2"],
    ["complex64 not interleaved", { shape: [2], dtype: "complex64", data: [1, 2, 3] }, "ShapeError", "complex64[2] needs 4 values (interleaved re, im), got 3"],
    ["a fractional int32", { shape: [2], dtype: "int32", data: [1, 1.5] }, "DTypeError", "int32[2] data must be integers"],
    ["an int32 out of range", { shape: [1], dtype: "int32", data: [2 ** 31] }, "DTypeError", "at data[0]"],
    ["NaN as int32", { shape: [1], dtype: "int32", data: ["NaN"] }, "DTypeError", "got NaN"],
    ["a bool that is not 0/1", { shape: [1], dtype: "bool", data: [2] }, "DTypeError", "bool[1] data must be 0 or 1, got 2"]
  ] as const)("%s is a typed failure", async (_, input, tag, fragment) => {
    const e = await failure(Codec.decode(input))
    expect(e._tag).toBe(tag)
    expect(e.message).toContain(fragment)
    expect(e.message).toContain("Codec.decode")
  })

  it("never throws or dies on arbitrary input (fast-check)", async () => {
    const nearMiss = fc.record({
      shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 3 }), fc.anything()),
      dtype: fc.oneof(fc.constantFrom("float32", "float64", "int32", "bool", "complex64", "int8"), fc.anything()),
      data: fc.oneof(fc.array(fc.oneof(fc.double(), fc.constantFrom("NaN", "Infinity", "x")), { maxLength: 12 }), fc.anything())
    })
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), nearMiss), async (u) => {
        const exit = await Effect.runPromiseExit(Codec.decode(u))
        if (Exit.isFailure(exit)) {
          expect(Cause.hasDies(exit.cause)).toBe(false)
          expect(["ShapeError", "DTypeError"]).toContain((Cause.squash(exit.cause) as { _tag: string })._tag)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("checks constraints: null accepts any size", async () => {
    const json = { shape: [5, 2], dtype: "float32", data: Array.from({ length: 10 }, (_, i) => i) }
    expect((await run(Codec.decode(json, { shape: [null, 2], dtype: "float32" }))).shape).toEqual([5, 2])
    const e1 = await failure(Codec.decode(json, { shape: [null, 3] }))
    expect([e1._tag, e1.message]).toEqual(["ShapeError", expect.stringContaining("expected shape [?, 3], got float32[5, 2]")])
    const e2 = await failure(Codec.decode(json, { shape: [10] }))
    expect(e2._tag).toBe("ShapeError")
    const e3 = await failure(Codec.decode(json, { dtype: "int32" }))
    expect([e3._tag, e3.message]).toEqual(["DTypeError", expect.stringContaining("expected dtype int32, got float32[5, 2]")])
  })
})

describe("Schema codecs", () => {
  it("TensorFromJson decodes and encodes through effect/Schema, also inside other Schemas", async () => {
    const Layer = Schema.Struct({ w: Codec.tensorFromJson({ shape: [null, 2], dtype: "float32" }), b: Codec.tensorFromJson({ shape: [2] }) })
    const input = { w: { shape: [1, 2], dtype: "float32", data: [1, 2] }, b: { shape: [2], dtype: "float32", data: [0, "NaN"] } }
    const layer = await run(Schema.decodeUnknownEffect(Layer)(input))
    expect(Tensor.isTensor(layer.w) && Tensor.isTensor(layer.b)).toBe(true)
    expect(await values(layer.b)).toEqual([0, Number.NaN])
    expect(await run(Schema.encodeEffect(Layer)(layer))).toEqual(input)
    const t = await run(Schema.decodeUnknownEffect(Codec.TensorFromJson)({ shape: [], dtype: "int32", data: [3] }))
    expect(await values(t)).toEqual([3])
    expect(Schema.is(Codec.TensorFromSelf)(t)).toBe(true)
    expect(Schema.is(Codec.TensorFromSelf)({ shape: [] })).toBe(false)
  })

  it("constraint and data failures are Schema issues with the same messages", async () => {
    const C = Codec.tensorFromJson({ shape: [3] })
    const e1 = await failure(Schema.decodeUnknownEffect(C)({ shape: [2], dtype: "float32", data: [1, 2] }))
    expect([e1._tag, e1.message]).toEqual(["SchemaError", expect.stringContaining("expected shape [3], got float32[2]")])
    const e2 = await failure(Schema.decodeUnknownEffect(C)({ shape: [3], dtype: "float32", data: [1] }))
    expect(e2.message).toContain("needs 3 values, got 1")
    const e3 = await failure(Schema.encodeEffect(C)(Tensor.ones([4])))
    expect([e3._tag, e3.message]).toEqual(["SchemaError", expect.stringContaining("expected shape [3], got float32[4]")])
  })
})

describe("checkpoints", () => {
  const model = Effect.gen(function* () {
    const w = yield* TrainVar.make(Tensor.make([[1, 2], [3, 4]]), { name: "w" })
    const b = yield* Variable.make(Tensor.make([0.5, Number.NaN], { dtype: "float64" }))
    const tree = yield* Variable.make({ steps: Tensor.make(7, { dtype: "int32" }), masks: [Tensor.make([true, false], { dtype: "bool" })] })
    return { w, b, tree }
  })
  const snapshot = (vars: Record<string, Variable.Variable<any>>) => run(Codec.saveVariables(vars).pipe(Effect.map((c) => JSON.stringify(c))))

  it("saves a JSON-serializable object mirroring each Variable's pytree", async () => {
    const vars = await run(model)
    const ckpt = await run(Codec.saveVariables(vars))
    expect(ckpt.format).toBe("diffect-checkpoint")
    expect(ckpt.version).toBe(1)
    expect(Object.keys(ckpt.variables)).toEqual(["b", "tree", "w"])
    expect(ckpt.variables.w).toEqual({ shape: [2, 2], dtype: "float32", data: [1, 2, 3, 4] })
    expect(ckpt.variables.b).toEqual({ shape: [2], dtype: "float64", data: [0.5, "NaN"] })
    expect(ckpt.variables.tree).toEqual({
      masks: [{ shape: [2], dtype: "bool", data: [1, 0] }],
      steps: { shape: [], dtype: "int32", data: [7] }
    })
    expect(JSON.parse(JSON.stringify(ckpt))).toEqual(ckpt)
  })

  it("restores through JSON text into other Variables of the same shapes", async () => {
    const src = await run(model)
    const text = await snapshot(src)
    const dst = await run(model)
    await run(Variable.set(dst.w, Tensor.zeros([2, 2])))
    await run(Variable.set(dst.tree, { steps: Tensor.make(0, { dtype: "int32" }), masks: [Tensor.make([false, false], { dtype: "bool" })] }))
    await run(Codec.restoreVariables(dst, JSON.parse(text)))
    expect(await snapshot(dst)).toBe(text)
    expect(await values(await run(Variable.get(dst.w)))).toEqual([1, 2, 3, 4])
  })

  it("round trips random Variables (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbTensor(), { minLength: 1, maxLength: 4 }), fc.array(arbTensor(), { minLength: 1, maxLength: 4 }), async (xs, ys) => {
        const vars = await run(
          Effect.gen(function* () {
            const out: Record<string, Variable.Variable<any>> = {}
            for (const [i, x] of xs.entries()) out[`v${i}`] = yield* Variable.make(tensorOf(x))
            out.tree = yield* Variable.make(ys.map(tensorOf))
            return out
          })
        )
        const text = await snapshot(vars)
        // overwrite with zeros, restore, compare
        await run(Effect.forEach(xs, (x, i) => Variable.set(vars[`v${i}`]!, Tensor.zeros(x.shape, { dtype: x.dtype }))))
        await run(Codec.restoreVariables(vars, JSON.parse(text)))
        expect(await snapshot(vars)).toBe(text)
      }),
      { numRuns: 60 }
    )
  })

  describe("bad data restores nothing", () => {
    const cases: ReadonlyArray<readonly [string, (c: any) => unknown, string, string]> = [
      ["a wrong shape", (c) => ({ ...c, variables: { ...c.variables, w: { shape: [4], dtype: "float32", data: [1, 2, 3, 4] } } }), "ShapeError", '"w": Codec.decode: expected shape [2, 2], got float32[4]'],
      ["a wrong dtype", (c) => ({ ...c, variables: { ...c.variables, b: { ...c.variables.b, dtype: "float32" } } }), "DTypeError", '"b": Codec.decode: expected dtype float64'],
      ["bad data in a nested leaf", (c) => ({ ...c, variables: { ...c.variables, tree: { ...c.variables.tree, masks: [{ shape: [2], dtype: "bool", data: [1, 5] }] } } }), "DTypeError", '"tree".masks[0]'],
      ["a short data array", (c) => ({ ...c, variables: { ...c.variables, w: { ...c.variables.w, data: [1] } } }), "ShapeError", "needs 4 values, got 1"],
      ["a missing variable", (c) => ({ ...c, variables: { w: c.variables.w, tree: c.variables.tree } }), "StateError", 'no "b"'],
      ["an extra variable", (c) => ({ ...c, variables: { ...c.variables, extra: c.variables.w } }), "StateError", "not restored: extra"],
      ["another pytree structure", (c) => ({ ...c, variables: { ...c.variables, tree: { steps: c.variables.tree.steps } } }), "StateError", "expected an object with keys masks, steps"],
      ["a leaf where an array was", (c) => ({ ...c, variables: { ...c.variables, tree: { ...c.variables.tree, masks: c.variables.w } } }), "StateError", "expected an array of 1"],
      ["not a checkpoint", () => ({ w: [1, 2] }), "StateError", "not a diffect checkpoint"],
      ["another version", (c) => ({ ...c, version: 2 }), "StateError", "not a diffect checkpoint"]
    ]
    it.each(cases)("%s", async (_, corrupt, tag, fragment) => {
      const vars = await run(model)
      const ckpt = JSON.parse(await snapshot(vars))
      // change every variable, so that a partial restore would show
      await run(Variable.set(vars.w, Tensor.full([2, 2], 9)))
      await run(Variable.set(vars.b, Tensor.full([2], 9, { dtype: "float64" })))
      const before = await snapshot(vars)
      const e = await failure(Codec.restoreVariables(vars, corrupt(ckpt)))
      expect(e._tag).toBe(tag)
      expect(e.message).toContain(fragment)
      expect(await snapshot(vars)).toBe(before)
    })

    it("extra variables are allowed with strict: false", async () => {
      const vars = await run(model)
      const ckpt = JSON.parse(await snapshot(vars))
      const { w } = vars
      await run(Variable.set(w, Tensor.zeros([2, 2])))
      await run(Codec.restoreVariables({ w }, ckpt, { strict: false }))
      expect(await values(await run(Variable.get(w)))).toEqual([1, 2, 3, 4])
    })

    it("a record entry that is not a Variable is a StateError", async () => {
      const e1 = await failure(Codec.saveVariables({ w: Tensor.ones([2]) as any }))
      expect([e1._tag, e1.message]).toEqual(["StateError", expect.stringContaining('"w" is not a Variable')])
      const e2 = await failure(Codec.restoreVariables({ w: 3 as any }, {}))
      expect(e2._tag).toBe("StateError")
    })
  })

  it("inside grad, a restore commits with the call and not when it fails", async () => {
    const { grad } = await import("@diffect/transforms")
    const vars = await run(model)
    const ckpt = await run(Codec.saveVariables(vars))
    await run(Variable.set(vars.w, Tensor.zeros([2, 2])))
    const f = (fail: boolean) => (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        yield* Codec.restoreVariables(vars, ckpt)
        if (fail) return yield* Effect.fail("boom" as const)
        return Tensor.sum(Tensor.mul(x, yield* Variable.get(vars.w)))
      })
    const exit = await Effect.runPromiseExit(grad(f(true))(Tensor.ones([2, 2])) as Effect.Effect<unknown, unknown>)
    expect(Exit.isFailure(exit)).toBe(true)
    expect(await values(await run(Variable.get(vars.w)))).toEqual([0, 0, 0, 0])
    const g = await run(grad(f(false))(Tensor.ones([2, 2])) as Effect.Effect<Tensor.Tensor, unknown>)
    expect(await values(g)).toEqual([1, 2, 3, 4]) // the restored value is seen within the call
    expect(await values(await run(Variable.get(vars.w)))).toEqual([1, 2, 3, 4])
  })
})
