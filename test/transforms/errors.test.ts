/**
 * Bad input to the transforms is a typed failure (a tagged error in the
 * Effect error channel, with a message that says what was expected and
 * what was got), never a thrown exception or a defect: NonScalarOutputError,
 * ArgnumsError, AuxError, OptionsError, DTypeError; and the user's own
 * failures pass through with their types.
 */
import { Data, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, valueAndGrad, vectorGrad } from "@diffect/transforms"
import { expectFailure, f64, failureOf, type T } from "./helpers.js"

const x = f64([1, 2, 3])
const scalarF = (a: T, b: T) => Tensor.sum(Tensor.mul(a, b))

/** Every transform of the grad family, by name, as an untyped function (for bad options). */
const family: ReadonlyArray<readonly [string, (f: any, o?: any) => (...args: any[]) => Effect.Effect<unknown, unknown>]> = [
  ["grad", grad as any],
  ["valueAndGrad", valueAndGrad as any],
  ["vectorGrad", vectorGrad as any],
  ["jacrev", jacrev as any],
  ["jacfwd", jacfwd as any],
  ["hessian", hessian as any]
]

describe("NonScalarOutputError", () => {
  it("grad and valueAndGrad of a non-scalar name the shape and suggest vectorGrad or jacrev", async () => {
    for (const [name, t] of family.slice(0, 2)) {
      const msg = await expectFailure(t(Tensor.sin)(x), "NonScalarOutputError", name, "[3]", "vectorGrad", "jacrev")
      expect(msg).toMatch(/scalar/)
      await expectFailure(t((m: T) => Tensor.mul(m, 2))(f64([[1, 2], [3, 4]])), "NonScalarOutputError", "[2, 2]")
    }
  })

  it("a pytree output (even of scalars) and a non-scalar output with hasAux", async () => {
    await expectFailure(grad((a: T) => [Tensor.sum(a), Tensor.sum(a)])(x), "NonScalarOutputError", "vectorGrad")
    await expectFailure(grad((a: T) => [a, Tensor.sum(a)] as const, { hasAux: true })(x), "NonScalarOutputError", "[3]")
    // a [1]-shaped output is not a scalar either
    await expectFailure(grad((a: T) => Tensor.sum(a, { keepdims: true }))(x), "NonScalarOutputError", "[1]")
  })

  it("vectorGrad, jacrev and jacfwd accept non-scalar outputs", async () => {
    for (const [, t] of family.slice(2, 5)) expect((await Effect.runPromiseExit(t(Tensor.sin)(x)))._tag).toBe("Success")
  })
})

describe("ArgnumsError", () => {
  it("out of range, negative, duplicated, non-integer, empty: for every transform", async () => {
    for (const [name, t] of family) {
      await expectFailure(t(scalarF, { argnums: 2 })(x, x), "ArgnumsError", name, "out of range", "2 arguments", "[0, 1]")
      await expectFailure(t(scalarF, { argnums: [0, 5] })(x, x), "ArgnumsError", "out of range")
      await expectFailure(t(scalarF, { argnums: -1 })(x, x), "ArgnumsError", "-1")
      await expectFailure(t(scalarF, { argnums: [0, 0] })(x, x), "ArgnumsError", "duplicate")
      await expectFailure(t(scalarF, { argnums: 0.5 })(x, x), "ArgnumsError", "integer", "0.5")
      await expectFailure(t(scalarF, { argnums: [0, 1.5] })(x, x), "ArgnumsError", "integer")
      await expectFailure(t(scalarF, { argnums: "0" })(x, x), "ArgnumsError", "integer")
      await expectFailure(t(scalarF, { argnums: [] })(x, x), "ArgnumsError", "nothing to differentiate")
      // argnums 0 of a call with no arguments
      await expectFailure(t(() => Tensor.sum(x))(), "ArgnumsError", "out of range", "0 arguments")
    }
  })

  it("building the transform with bad options does not throw; calling it fails", () => {
    expect(() => grad(scalarF, { argnums: -3 })).not.toThrow()
    expect(() => grad({ argnums: [1, 1] })(scalarF)).not.toThrow()
  })
})

describe("AuxError", () => {
  it("hasAux needs f to return exactly a two-element array: for every transform", async () => {
    for (const [name, t] of family) {
      const f = name === "vectorGrad" || name.startsWith("jac") ? Tensor.sin : (a: T) => Tensor.sum(a)
      await expectFailure(t(f, { hasAux: true })(x), "AuxError", name, "two-element array", "got Tensor")
      await expectFailure(t((a: T) => [f(a)], { hasAux: true })(x), "AuxError", "length 1")
      await expectFailure(t((a: T) => [f(a), a, a], { hasAux: true })(x), "AuxError", "length 3")
      await expectFailure(t((a: T) => Effect.succeed({ out: f(a), aux: a }), { hasAux: true })(x), "AuxError", "two-element array")
    }
  })
})

describe("OptionsError", () => {
  it("a flag that is not a boolean: for every transform", async () => {
    for (const [name, t] of family) {
      for (const [flag, value] of [["hasAux", "yes"], ["returnValue", 1], ["allowInt", "true"], ["holomorphic", null]] as const) {
        if (name === "hessian" && flag === "returnValue") continue // hessian has no returnValue
        await expectFailure(t(Tensor.sum, { [flag]: value })(x), "OptionsError", name, flag)
      }
    }
  })
})

describe("other typed failures", () => {
  it("differentiating with respect to an integer argument is a DTypeError that suggests allowInt", async () => {
    await expectFailure(grad((a: T) => Tensor.sum(Tensor.cast(a, "float32")))(Tensor.make([1, 2], { dtype: "int32" })), "DTypeError", "int32", "allowInt")
  })

  it("a shape mistake inside f surfaces as ShapeError, not a defect", async () => {
    await expectFailure(grad((a: T) => Tensor.sum(Tensor.add(a, Tensor.ones([4]))))(x), "ShapeError", "[3]", "[4]")
    await expectFailure(jacfwd((a: T) => Tensor.matmul(a, Tensor.ones([2, 2])))(x), "ShapeError", "matmul")
  })

  it("the user's own failures pass through with their types", async () => {
    class Mine extends Data.TaggedError("Mine")<{ readonly why: string }> {}
    for (const [, t] of family) {
      const e = await failureOf(t((_a: T) => Effect.fail(new Mine({ why: "because" })))(x))
      expect(e).toBeInstanceOf(Mine)
      expect((e as Mine).why).toBe("because")
    }
    const typed: Effect.Effect<T, Mine | Error> = grad((a: T) => (a.size > 0 ? Effect.fail(new Mine({ why: "typed" })) : Effect.succeed(Tensor.sum(a))))(x)
    expect(((await failureOf(typed)) as Mine).why).toBe("typed")
  })
})
