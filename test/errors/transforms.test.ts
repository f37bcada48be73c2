/**
 * The transform errors: NonScalarOutputError, ArgnumsError, GradVarsError,
 * AuxError and OptionsError, for every transform they apply to, with their
 * messages. Building a transform never throws; calling it fails in the error
 * channel, never with a defect.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor, Variable } from "@diffect/core"
import { customJvp, customVjp, grad, hessian, jacfwd, jacrev, jvp, valueAndGrad, vectorGrad, vjp, vmap } from "@diffect/transforms"
import { expectBadTensor, expectFailure, f64, noThrow, type T } from "./helpers.js"

const x2 = f64([1, 2])
const scalarF = (x: T) => Tensor.sum(Tensor.square(x))
const vectorF = (x: T) => Tensor.sin(x)

/** The grad family: name, transform, a function it accepts (scalar output where needed). */
const family = [
  ["grad", grad, scalarF],
  ["valueAndGrad", valueAndGrad, scalarF],
  ["vectorGrad", vectorGrad, vectorF],
  ["jacrev", jacrev, vectorF],
  ["jacfwd", jacfwd, vectorF],
  ["hessian", hessian, scalarF]
] as const

type AnyTransform = (f: unknown, options?: unknown) => (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>
const as = (t: unknown): AnyTransform => t as AnyTransform

describe("NonScalarOutputError", () => {
  it("grad and valueAndGrad of a non-scalar: the shape, and where to go instead", async () => {
    await expectFailure(grad(vectorF)(f64([1, 2, 3])), "NonScalarOutputError", "grad: output must be a scalar, got shape [3]; use vectorGrad or jacrev")
    await expectFailure(valueAndGrad(vectorF)(x2), "NonScalarOutputError", "valueAndGrad: output must be a scalar, got shape [2]")
    await expectFailure(grad((x: T) => Tensor.sum(x, { axis: 1 }))(f64([[1, 2], [3, 4]])), "NonScalarOutputError", "got shape [2]")
  })

  it("a scalar inside a pytree is not a scalar output (a forgotten hasAux)", async () => {
    await expectFailure(grad((x: T) => [scalarF(x)])(x2), "NonScalarOutputError", "grad: output must be a scalar, got [Tensor]", "hasAux")
    await expectFailure(grad((x: T) => [scalarF(x), x])(x2), "NonScalarOutputError", "[Tensor, Tensor]", "hasAux: true")
    await expectFailure(valueAndGrad((x: T) => ({ loss: scalarF(x) }))(x2), "NonScalarOutputError", "{ loss: Tensor }")
  })

  it("vectorGrad, jacrev and jacfwd accept non-scalar outputs", async () => {
    for (const t of [vectorGrad, jacrev, jacfwd]) await Effect.runPromise(as(t)(vectorF)(x2))
  })
})

describe("ArgnumsError", () => {
  it("not integers, out of range, negative, duplicated, empty: for every transform of the family", async () => {
    const two = (a: T, b: T) => (Tensor.sum(Tensor.mul(a, b)))
    for (const [name, t0] of family) {
      const t = as(t0)
      const f = name === "vectorGrad" || name.startsWith("jac") ? (a: T, b: T) => Tensor.mul(a, b) : two
      await expectFailure(noThrow(() => t(f, { argnums: "0" }))(x2, x2), "ArgnumsError", name, "argnums must be an integer or an array of integers", 'got the string "0"')
      await expectFailure(t(f, { argnums: 0.5 })(x2, x2), "ArgnumsError", name, "got 0.5")
      await expectFailure(t(f, { argnums: [0, "1"] })(x2, x2), "ArgnumsError", name, "argnums must be")
      await expectFailure(t(f, { argnums: 2 })(x2, x2), "ArgnumsError", name, "argnums 2 is out of range for a call with 2 arguments (expected integers in [0, 1])")
      await expectFailure(t(f, { argnums: -1 })(x2, x2), "ArgnumsError", name, "argnums -1 is out of range")
      await expectFailure(t(f, { argnums: [1, 1] })(x2, x2), "ArgnumsError", name, "argnums [1, 1] contains duplicates")
      await expectFailure(t(f, { argnums: [] })(x2, x2), "ArgnumsError", name, "argnums is empty and no gradVars are given")
      await expectFailure(t(f, { argnums: 3n })(x2, x2), "ArgnumsError", name, "got the bigint 3n")
      await expectFailure(t(scalarF)(), "ArgnumsError", name, "out of range for a call with 0 arguments")
    }
  })
})

describe("GradVarsError", () => {
  it("gradVars that are not Variables: the entry and what it is", async () => {
    const w = await Effect.runPromise(Variable.make(f64([1, 2])))
    const f = () => Effect.map(Variable.get(w), scalarF)
    for (const [name, t0] of family) {
      const t = as(t0)
      const g = name === "vectorGrad" || name.startsWith("jac") ? () => Effect.map(Variable.get(w), vectorF) : f
      await expectFailure(t(g, { gradVars: x2 })(), "GradVarsError", name, "gradVars must be a Variable, an array or a record of Variables, got Tensor(float64[2])")
      await expectFailure(t(g, { gradVars: [w, 3] })(), "GradVarsError", name, "gradVars[1] is not a Variable, got the number 3")
      await expectFailure(t(g, { gradVars: { w, b: "b" } })(), "GradVarsError", name, 'gradVars.b is not a Variable, got the string "b"')
      await expectFailure(t(g, { gradVars: "w" })(), "GradVarsError", name, 'got the string "w"')
      await expectFailure(t(g, { gradVars: [null] })(), "GradVarsError", name, "gradVars[0] is not a Variable, got null")
    }
  })
})

describe("AuxError", () => {
  it("hasAux but f did not return [output, aux]: what it returned instead", async () => {
    for (const [name, t0, f] of family) {
      const t = as(t0)
      await expectFailure(t(f, { hasAux: true })(x2), "AuxError", name, "hasAux is set, so the function must return a two-element array [output, aux], got Tensor(float64[")
      await expectFailure(t((x: T) => [f(x)], { hasAux: true })(x2), "AuxError", name, "got an array of length 1")
      await expectFailure(t((x: T) => [f(x), x, x], { hasAux: true })(x2), "AuxError", name, "got an array of length 3")
      await expectFailure(t((x: T) => Effect.succeed({ out: f(x), aux: 1 }), { hasAux: true })(x2), "AuxError", name, "got an object")
      await expectFailure(t(() => undefined, { hasAux: true })(x2), "AuxError", name, "got undefined")
    }
  })

  it("with [output, aux] the aux can be anything and comes back as it was", async () => {
    const [g, aux] = (await Effect.runPromise(grad((x: T) => [scalarF(x), { note: "hi", n: 3 }] as const, { hasAux: true })(x2))) as [T, unknown]
    expect(aux).toEqual({ note: "hi", n: 3 })
    expect(Array.from(await Effect.runPromise(Tensor.data(g)))).toEqual([2, 4])
  })
})

describe("OptionsError", () => {
  it("flags that are not booleans, unknown options, options that are not an object: for every transform of the family", async () => {
    for (const [name, t0, f] of family) {
      const t = as(t0)
      for (const flag of ["hasAux", "holomorphic", "allowInt", ...(name === "hessian" || name === "valueAndGrad" ? [] : ["returnValue"])])
        await expectFailure(t(f, { [flag]: "yes" })(x2), "OptionsError", `${name}: invalid options`, flag)
      await expectFailure(t(f, { hasaux: true })(x2), "OptionsError", `${name}: unknown option hasaux (expected gradVars, argnums, hasAux, returnValue, holomorphic, allowInt)`)
      await expectFailure(noThrow(() => t(f, "fast"))(x2), "OptionsError", `${name}: options must be an object, got the string "fast"`)
      await expectFailure(noThrow(() => t(f, x2))(x2), "OptionsError", `${name}: options must be an object`, "Tensor(float64[2])")
    }
  })

  it("the curried form takes one plain object; anything else is t(f, options) and fails when called", async () => {
    const curriedForm = grad as unknown as (o: unknown) => (f: unknown) => (x: T) => Effect.Effect<unknown, unknown>
    await Effect.runPromise(noThrow(() => curriedForm({ argnums: 0 })(scalarF))(x2))
    await expectFailure(noThrow(() => curriedForm({ argnums: "0" })(scalarF))(x2), "ArgnumsError", "grad: argnums")
    const single = grad as unknown as (f: unknown) => (x: T) => Effect.Effect<unknown, unknown>
    await expectFailure(noThrow(() => single(42))(x2), "OptionsError", "grad: expected a function to transform, got the number 42")
    await expectFailure(noThrow(() => single(null))(x2), "OptionsError", "grad: expected a function to transform, got null")
  })

  it("a transformed 'function' that is not a function", async () => {
    for (const [name, t0] of family) {
      const t = as(t0)
      await expectFailure(noThrow(() => t(null, {}))(x2), "OptionsError", `${name}: expected a function to transform, got null`)
      await expectFailure(noThrow(() => t(x2, {}))(x2), "OptionsError", `${name}: expected a function to transform, got Tensor(float64[2])`)
    }
    await expectFailure(jvp(3 as never, [x2], [x2]), "OptionsError", "jvp: expected a function to transform, got the number 3")
    await expectFailure(vjp("f" as never, x2), "OptionsError", 'vjp: expected a function to transform, got the string "f"')
    await expectFailure(vmap(null as never)(x2), "OptionsError", "vmap: expected a function to transform, got null")
  })

  it("jvp primals and tangents that are not arrays", async () => {
    await expectFailure(jvp(vectorF, x2 as never, [x2]), "OptionsError", "jvp: primals must be an array with one entry per argument of f, got Tensor(float64[2])")
    await expectFailure(jvp(vectorF, [x2], null as never), "OptionsError", "jvp: tangents must be an array", "got null")
  })

  it("vmap options are validated with effect/Schema", async () => {
    await expectFailure(vmap(scalarF, { inAxes: "0" } as never)(x2), "OptionsError", "vmap: inAxes and outAxes must each be an integer, null, or an array of integers and nulls")
    await expectFailure(vmap(scalarF, { inAxes: 0.5 })(x2), "OptionsError", "vmap: inAxes and outAxes")
    await expectFailure(vmap(scalarF, { outAxes: [0, "1"] } as never)(x2), "OptionsError", "vmap: inAxes and outAxes")
    await expectFailure(vmap(scalarF, { in_axes: 0 } as never)(x2), "OptionsError", "vmap: unknown option in_axes (expected inAxes, outAxes)")
    await expectFailure(vmap(scalarF, "rows" as never)(x2), "OptionsError", 'vmap: options must be an object { inAxes, outAxes }, got the string "rows"')
    // null is a valid axis: nothing batched
    await expectFailure(vmap(scalarF, { inAxes: null })(x2), "ShapeError", "no argument is batched")
  })
})

describe("custom rules", () => {
  it("customJvp / customVjp with bad parts give error tensors (DTypeError / ShapeError) that surface in the transform", async () => {
    const id = (x: T) => x
    await expectBadTensor(() => customJvp(null as never, () => x2)(x2), "DTypeError", "customJvp: expected a function, got null")
    await expectBadTensor(() => customJvp(id, "rule" as never)(x2), "DTypeError", "customJvp: the jvp rule must be a function")
    await expectBadTensor(() => customVjp(id, () => [null])(null as never), "DTypeError", "customVjp: argument 0 must be a Tensor, got null")
    await expectBadTensor(() => customJvp((_x: T) => 3 as never, () => x2)(x2), "DTypeError", "customJvp: f must return a Tensor, got the number 3")
    const badJvp = customJvp(function double(x: T) { return Tensor.mul(x, 2) }, () => f64([1, 2, 3]))
    await expectFailure(grad((x: T) => Tensor.sum(badJvp(x)))(x2), "ShapeError", "customJvp double: the jvp rule's result has shape [3], expected [2]")
    await expectFailure(jvp(badJvp, [x2], [x2]), "ShapeError", "the jvp rule's result has shape [3]")
    const notArray = customVjp(id, () => x2 as never)
    await expectFailure(grad((x: T) => Tensor.sum(notArray(x)))(x2), "ShapeError", "the vjp rule must return an array of 1 cotangents", "got Tensor(float64[2])")
    const wrongDtype = customVjp(id, (_p, _o, ct) => [Tensor.cast(ct, "float32")])
    await expectFailure(grad((x: T) => Tensor.sum(wrongDtype(x)))(x2), "DTypeError", "cotangent 0 has dtype float32, expected float64")
  })
})
