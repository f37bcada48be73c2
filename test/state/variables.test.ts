/**
 * Variables outside transforms: make / get / set / update, TrainVar, pytree
 * values (records and arrays of tensors), and `set` with another shape,
 * dtype or structure failing with `StateError` while leaving the value as
 * it was.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { StateError, Tensor, TrainVar, Variable } from "@diffect/core"
import { f64, failureOf, isSettled, now, run } from "./helpers.js"

describe("Variable.make / get / set / update", () => {
  it("holds a tensor; get reads it, set replaces it, update maps it", async () => {
    const v = await run(Variable.make(Tensor.make([1, 2, 3]), { name: "w" }))
    expect(Variable.isVariable(v)).toBe(true)
    expect(Variable.isTrainVar(v)).toBe(false)
    expect(v.label).toBe("w")
    expect(await now(v)).toEqual([1, 2, 3])
    await run(Variable.set(v, Tensor.make([4, 5, 6])))
    expect(await now(v)).toEqual([4, 5, 6])
    await run(Variable.update(v, (x) => Tensor.mul(x, 2)))
    expect(await now(v)).toEqual([8, 10, 12])
    const got = await run(Variable.get(v))
    expect(got.dtype).toBe("float32")
    expect([...got.shape]).toEqual([3])
  })

  it("make evaluates its initial value, set commits data (not a pending graph)", async () => {
    const v = await run(Variable.make(Tensor.add(Tensor.ones([2]), 1)))
    expect(isSettled(v.current)).toBe(true)
    await run(Variable.update(v, (x) => Tensor.exp(Tensor.mul(x, 0))))
    expect(isSettled(v.current)).toBe(true)
    expect(await now(v)).toEqual([1, 1])
  })

  it("keeps the dtype: float64, int32 and scalars", async () => {
    const a = await run(Variable.make(f64([0.1, 0.2])))
    await run(Variable.update(a, (x) => Tensor.add(x, 0.1)))
    expect(await now(a)).toEqual([0.1 + 0.1, 0.2 + 0.1])
    const c = await run(Variable.make(Tensor.make(0, { dtype: "int32" })))
    for (let i = 0; i < 5; i++) await run(Variable.update(c, (k) => Tensor.add(k, 1)))
    expect(await now(c)).toBe(5)
    expect((await run(Variable.get(c))).dtype).toBe("int32")
  })

  it("a variable made from a non-tensor fails with StateError", async () => {
    const e = await failureOf(Variable.make(3 as unknown as Tensor.Tensor))
    expect(e).toBeInstanceOf(StateError)
    expect((e as StateError).message).toContain("expected a tensor or a pytree of tensors")
    const e2 = await failureOf(Variable.make({}))
    expect((e2 as StateError)._tag).toBe("StateError")
  })

  it("unnamed variables are labelled by kind and id", async () => {
    const v = await run(Variable.make(Tensor.zeros([1])))
    const t = await run(TrainVar.make(Tensor.zeros([1])))
    expect(v.label).toBe(`Variable#${v.id}`)
    expect(t.label).toBe(`TrainVar#${t.id}`)
    expect(v.id).not.toBe(t.id)
  })
})

describe("TrainVar", () => {
  it("is a trainable Variable with the same get / set / update", async () => {
    const w = await run(TrainVar.make(Tensor.make([[1, 2], [3, 4]]), { name: "W" }))
    expect(Variable.isVariable(w)).toBe(true)
    expect(TrainVar.is(w)).toBe(true)
    expect(Variable.isTrainVar(w)).toBe(true)
    expect(w.trainable).toBe(true)
    expect(w.label).toBe("W")
    await run(Variable.update(w, (x) => Tensor.transpose(x)))
    expect(await now(w)).toEqual([[1, 3], [2, 4]])
    const e = await failureOf(Variable.set(w, Tensor.zeros([4])))
    expect(e).toBeInstanceOf(StateError)
    expect(await now(w)).toEqual([[1, 3], [2, 4]])
  })

  it("Variable.make with trainable: true is a TrainVar", async () => {
    const w = await run(Variable.make(Tensor.zeros([2]), { trainable: true }))
    expect(TrainVar.is(w)).toBe(true)
  })
})

describe("pytree values", () => {
  it("a record of tensors: get, set and update keep the keys", async () => {
    const p = await run(Variable.make({ w: Tensor.make([[1, 2]]), b: Tensor.make([3]) }, { name: "layer" }))
    const got = await run(Variable.get(p))
    expect(Object.keys(got).sort()).toEqual(["b", "w"])
    expect(await now(p)).toEqual({ w: [[1, 2]], b: [3] })
    await run(Variable.update(p, ({ w, b }) => ({ w: Tensor.mul(w, 10), b: Tensor.neg(b) })))
    expect(await now(p)).toEqual({ w: [[10, 20]], b: [-3] })
    await run(Variable.set(p, { b: Tensor.make([0]), w: Tensor.make([[7, 8]]) })) // key order does not matter
    expect(await now(p)).toEqual({ w: [[7, 8]], b: [0] })
    expect(isSettled(p.current)).toBe(true)
  })

  it("an array of tensors (with a nested record)", async () => {
    const p = await run(Variable.make([f64([1]), { s: Tensor.make(2, { dtype: "float64" }) }] as const))
    expect(await now(p)).toEqual([[1], { s: 2 }])
    await run(Variable.update(p, ([a, { s }]) => [Tensor.add(a, s), { s: Tensor.square(s) }] as const))
    expect(await now(p)).toEqual([[3], { s: 4 }])
  })
})

describe("set with another shape, dtype or structure", () => {
  const expectRejected = async <A>(v: Variable.Variable<A>, value: unknown, before: unknown, ...fragments: string[]) => {
    const e = await failureOf(Variable.set(v, value as A))
    expect(e).toBeInstanceOf(StateError)
    expect((e as StateError)._tag).toBe("StateError")
    for (const f of fragments) expect((e as StateError).message).toContain(f)
    expect(await now(v)).toEqual(before)
    // update goes through the same check
    const e2 = await failureOf(Variable.update(v, () => value as A))
    expect(e2).toBeInstanceOf(StateError)
    expect(await now(v)).toEqual(before)
  }

  it("another shape: names the variable, the expected and the got shapes", async () => {
    const v = await run(Variable.make(Tensor.make([1, 2, 3]), { name: "weights" }))
    await expectRejected(v, Tensor.make([1, 2]), [1, 2, 3], "weights", "expected float32[3]", "got float32[2]")
    await expectRejected(v, Tensor.make([[1, 2, 3]]), [1, 2, 3], "weights", "[3]", "[1, 3]")
    await expectRejected(v, Tensor.make(1), [1, 2, 3], "weights", "[3]", "[]")
  })

  it("another dtype: names the variable and both dtypes", async () => {
    const v = await run(Variable.make(Tensor.make([1, 2]), { name: "bias" }))
    await expectRejected(v, f64([1, 2]), [1, 2], "bias", "float32", "float64")
    await expectRejected(v, Tensor.make([1, 2], { dtype: "int32" }), [1, 2], "bias", "float32", "int32")
  })

  it("an unnamed variable is named by its label", async () => {
    const v = await run(Variable.make(Tensor.zeros([2])))
    await expectRejected(v, Tensor.zeros([3]), [0, 0], `Variable#${v.id}`, "[2]", "[3]")
  })

  it("another structure of a pytree: names the variable and both structures", async () => {
    const p = await run(Variable.make({ w: Tensor.make([1]), b: Tensor.make([2]) }, { name: "params" }))
    const before = { w: [1], b: [2] }
    await expectRejected(p, { w: Tensor.make([1]) }, before, "params", "{ b: Tensor, w: Tensor }", "{ w: Tensor }")
    await expectRejected(p, [Tensor.make([1]), Tensor.make([2])], before, "params", "[Tensor, Tensor]")
    await expectRejected(p, Tensor.make([1]), before, "params", "got Tensor")
    await expectRejected(p, { w: Tensor.make([1]), c: Tensor.make([2]) }, before, "params", "{ c: Tensor, w: Tensor }")
    // right structure, wrong leaf shape: names the leaf
    await expectRejected(p, { w: Tensor.make([1, 1]), b: Tensor.make([2]) }, before, "params", "expected float32[1]", "got float32[2]")
  })

  it("a tensor for an array-of-tensors variable, and a longer array", async () => {
    const p = await run(Variable.make([Tensor.make([1]), Tensor.make([2])], { name: "pair" }))
    await expectRejected(p, [Tensor.make([1]), Tensor.make([2]), Tensor.make([3])], [[1], [2]], "pair", "[Tensor, Tensor]", "[Tensor, Tensor, Tensor]")
  })

  it("a bad value inside a transform also fails with StateError and leaves the variable unchanged", async () => {
    const { grad } = await import("@diffect/transforms")
    const v = await run(Variable.make(Tensor.make([1, 2]), { name: "inside" }))
    const f = (x: Tensor.Tensor) =>
      Effect.gen(function* () {
        yield* Variable.set(v, Tensor.zeros([5]))
        return Tensor.sum(x)
      })
    const e = await failureOf(grad(f)(Tensor.make([1])))
    expect(e).toBeInstanceOf(StateError)
    expect((e as StateError).message).toContain("inside")
    expect(await now(v)).toEqual([1, 2])
  })

  it("a value carrying a shape error fails with that error and writes nothing", async () => {
    const v = await run(Variable.make(Tensor.make([1, 2])))
    const bad = Tensor.add(Tensor.ones([2]), Tensor.ones([3]))
    const e = await failureOf(Variable.set(v, Tensor.reshape(bad, [2])))
    expect((e as { _tag: string })._tag).toBe("ShapeError")
    expect(await now(v)).toEqual([1, 2])
  })
})
