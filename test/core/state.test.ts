/**
 * Pytree (flatten / unflatten round trip, defEqual, leafCount, map) and
 * Variable basics (make / get / set / update, StateError on a different
 * shape, dtype or structure, leaving the value unchanged; TrainVar).
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Pytree, Tensor, TrainVar, Variable } from "@diffect/core"
import { failureOf, read, runs } from "./helpers.js"

const run = <A, E>(eff: Effect.Effect<A, E>) => Effect.runPromise(eff)

/** Random pytrees: tensors in arrays and plain objects, with some non-tensor constants. */
const { tree: arbTree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer({ min: 0, max: 3 }).map((n) => Tensor.arange(n)),
    fc.constantFrom(null, "label", 7, true, undefined),
    fc.array(tie("tree"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("a", "b", "w", "bias", "z"), tie("tree"), { maxKeys: 3, noNullPrototype: true })
  )
}))

describe("Pytree", () => {
  it("flatten / unflatten round trip keeps structure, leaves (by identity) and constants", () => {
    fc.assert(
      fc.property(arbTree, (tree) => {
        const [leaves, def] = Pytree.flatten(tree)
        expect(leaves.every(Tensor.isTensor)).toBe(true)
        expect(Pytree.leafCount(def)).toBe(leaves.length)
        const back = Pytree.unflatten(def, leaves)
        expect(back).toStrictEqual(tree)
        const [leaves2, def2] = Pytree.flatten(back)
        expect(Pytree.defEqual(def, def2)).toBe(true)
        leaves2.forEach((t, i) => expect(t).toBe(leaves[i]))
      }),
      runs(100)
    )
  })

  it("leaves come depth first with object keys sorted", () => {
    const x = Tensor.make(1), y = Tensor.make(2), z = Tensor.make(3), w = Tensor.make(4)
    const [leaves, def] = Pytree.flatten({ b: [y, { d: w, c: z }], a: x })
    expect(leaves).toEqual([x, y, z, w])
    expect(leaves[0]).toBe(x)
    expect(leaves[3]).toBe(w)
    expect(Pytree.describe(def)).toBe("{ a: Tensor, b: [Tensor, { c: Tensor, d: Tensor }] }")
  })

  it("unflatten puts new leaves in the same places; map maps every leaf", async () => {
    const tree = { w: Tensor.ones([2]), layers: [Tensor.zeros([1]), { b: Tensor.full([3], 2) }] }
    const [leaves, def] = Pytree.flatten(tree)
    const doubled = Pytree.unflatten<typeof tree>(def, leaves.map((t) => Tensor.mul(t, 2)))
    expect(await read(doubled.w)).toEqual([2, 2])
    expect(await read((doubled.layers[1] as { b: Tensor.Tensor }).b)).toEqual([4, 4, 4])
    const mapped = Pytree.map(tree, (t, i) => i) as { w: number; layers: [number, { b: number }] }
    expect(mapped).toEqual({ layers: [0, { b: 1 }], w: 2 })
  })

  it("defEqual compares nesting, keys and leaf count, not leaf values", () => {
    const d = (u: unknown) => Pytree.flatten(u)[1]
    const t = Tensor.ones([2])
    expect(Pytree.defEqual(d([t, { a: t }]), d([Tensor.zeros([5]), { a: Tensor.make(1) }]))).toBe(true)
    expect(Pytree.defEqual(d([t, t]), d([t]))).toBe(false)
    expect(Pytree.defEqual(d({ a: t }), d({ b: t }))).toBe(false)
    expect(Pytree.defEqual(d([t]), d({ 0: t }))).toBe(false)
    expect(Pytree.defEqual(d([t]), d([[t]]))).toBe(false)
    expect(Pytree.defEqual(d([t, null]), d([t, null]))).toBe(true)
    expect(Pytree.defEqual(d([t, 1]), d([t, 2]))).toBe(false)
    expect(Pytree.defEqual(d(t), d(t))).toBe(true)
  })

  it("defEqual is reflexive on random trees and agrees with flattening the same structure", () => {
    fc.assert(
      fc.property(arbTree, arbTree, (a, b) => {
        const [, da] = Pytree.flatten(a)
        const [, db] = Pytree.flatten(b)
        expect(Pytree.defEqual(da, da)).toBe(true)
        expect(Pytree.defEqual(da, db)).toBe(Pytree.defEqual(db, da))
        if (Pytree.defEqual(da, db)) expect(Pytree.describe(da)).toBe(Pytree.describe(db))
      }),
      runs(100)
    )
  })
})

describe("Variable", () => {
  it("make / get / set / update", async () => {
    const out = await run(
      Effect.gen(function* () {
        const v = yield* Variable.make(Tensor.zeros([3]), { name: "v" })
        const first = yield* Tensor.toArray(yield* Variable.get(v))
        yield* Variable.set(v, Tensor.make([1, 2, 3]))
        const second = yield* Tensor.toArray(yield* Variable.get(v))
        yield* Variable.update(v, (x) => Tensor.mul(x, 10))
        const third = yield* Tensor.toArray(yield* Variable.get(v))
        return { first, second, third, label: v.label, trainable: v.trainable, isVar: Variable.isVariable(v) }
      })
    )
    expect(out).toEqual({ first: [0, 0, 0], second: [1, 2, 3], third: [10, 20, 30], label: "v", trainable: false, isVar: true })
  })

  it("holds a pytree of tensors", async () => {
    const out = await run(
      Effect.gen(function* () {
        const v = yield* Variable.make({ w: Tensor.ones([2, 2]), b: [Tensor.zeros([2], { dtype: "float64" })] })
        yield* Variable.update(v, ({ w, b }) => ({ w: Tensor.add(w, 1), b: [Tensor.add(b[0]!, 0.5)] }))
        const { w, b } = yield* Variable.get(v)
        return [yield* Tensor.toArray(w), yield* Tensor.toArray(b[0]!), b[0]!.dtype]
      })
    )
    expect(out).toEqual([[[2, 2], [2, 2]], [0.5, 0.5], "float64"])
  })

  it("set with another shape, dtype or structure fails with StateError naming both, and leaves the value unchanged", async () => {
    const out = await run(
      Effect.gen(function* () {
        const v = yield* Variable.make(Tensor.make([1, 2, 3]), { name: "w" })
        const p = yield* Variable.make({ a: Tensor.ones([2]), b: Tensor.ones([1]) }, { name: "p" })
        const errors = [
          yield* Effect.flip(Variable.set(v, Tensor.zeros([2]))),
          yield* Effect.flip(Variable.set(v, Tensor.zeros([3, 1]))),
          yield* Effect.flip(Variable.set(v, Tensor.zeros([3], { dtype: "float64" }))),
          yield* Effect.flip(Variable.update(v, (x) => Tensor.cast(x, "int32"))),
          yield* Effect.flip(Variable.set(p, { a: Tensor.ones([2]) } as never)),
          yield* Effect.flip(Variable.set(p, { a: Tensor.ones([2]), b: Tensor.ones([2]) }))
        ]
        return { errors, v: yield* Tensor.toArray(yield* Variable.get(v)), b: yield* Tensor.toArray((yield* Variable.get(p)).b) }
      })
    )
    expect(out.errors.map((e) => e._tag)).toEqual(["StateError", "StateError", "StateError", "StateError", "StateError", "StateError"])
    const msgs = out.errors.map((e) => e.message)
    expect(msgs[0]).toContain("w")
    expect(msgs[0]).toContain("float32[3]")
    expect(msgs[0]).toContain("float32[2]")
    expect(msgs[1]).toContain("[3, 1]")
    expect(msgs[2]).toContain("float64")
    expect(msgs[3]).toContain("int32")
    expect(msgs[4]).toContain("structure")
    expect(msgs[5]).toContain("float32[1]")
    expect(out.v).toEqual([1, 2, 3])
    expect(out.b).toEqual([1])
  })

  it("set with a failed tensor fails with its ShapeError and writes nothing", async () => {
    const out = await run(
      Effect.gen(function* () {
        const v = yield* Variable.make(Tensor.ones([2]))
        const e = yield* Effect.flip(Variable.set(v, Tensor.add(Tensor.ones([2]), Tensor.ones([3]))))
        return { tag: e._tag, message: e.message, value: yield* Tensor.toArray(yield* Variable.get(v)) }
      })
    )
    expect(out).toEqual({ tag: "ShapeError", message: "add: shapes [2] and [3] do not broadcast", value: [1, 1] })
  })

  it("make of a non-tensor fails with StateError; make of a failed tensor with its error", async () => {
    expect((await failureOf(Variable.make(3 as never)))._tag).toBe("StateError")
    expect((await failureOf(Variable.make({ a: "x" } as never)))._tag).toBe("StateError")
    expect((await failureOf(Variable.make(Tensor.reshape(Tensor.ones([2]), [3]))))._tag).toBe("ShapeError")
  })

  it("the initial value is evaluated, later changes to other tensors do not leak in", async () => {
    const out = await run(
      Effect.gen(function* () {
        const src = new Float32Array([1, 2])
        const v = yield* Variable.make(Tensor.add(Tensor.make(src), 1))
        src[0] = 100
        return yield* Tensor.toArray(yield* Variable.get(v))
      })
    )
    expect(out).toEqual([2, 3])
  })

  it("TrainVar marks trainable variables", async () => {
    const out = await run(
      Effect.gen(function* () {
        const t = yield* TrainVar.make(Tensor.zeros([2]), { name: "w" })
        const v = yield* Variable.make(Tensor.zeros([2]))
        return [TrainVar.is(t), TrainVar.is(v), Variable.isTrainVar(t), t.label, v.label.startsWith("Variable#")]
      })
    )
    expect(out).toEqual([true, false, true, "w", true])
  })
})
