/**
 * `allowInt: true`: integer (int32 and bool) inputs in `argnums`, and int32
 * Variables in `gradVars`, get zero gradients with the input's shape and the
 * input's own dtype, in the return structure of SPEC.md; without it an
 * integer input is a `DTypeError` naming its position. Structure tests with
 * mixed float/int arguments, arrays and records, across the transforms.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Pytree, Tensor, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, valueAndGrad, vectorGrad } from "@diffect/transforms"
import { cscalar, expectC, expectFailure, readR, run } from "./helpers.js"

type T = Tensor.Tensor

/** A leaf's dtype, shape and values, for comparing structures. */
const show = async (u: unknown): Promise<unknown> => {
  if (u instanceof Tensor.Tensor) return { dtype: u.dtype, shape: [...u.shape], values: (await readR(u)).map((v) => v + 0) } // −0 reads as 0
  if (Array.isArray(u)) return Promise.all(u.map(show))
  if (typeof u === "object" && u !== null) return Object.fromEntries(await Promise.all(Object.entries(u).map(async ([k, v]) => [k, await show(v)])))
  return u
}
const leaf = (dtype: string, shape: ReadonlyArray<number>, values: ReadonlyArray<number>) => ({ dtype, shape: [...shape], values: [...values] })
const zerosLeaf = (dtype: string, shape: ReadonlyArray<number>) => leaf(dtype, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 0))

const x = () => Tensor.make([1, -2, 3])
const n = () => Tensor.make([[2, 0, -1]], { dtype: "int32" })
/** f(x, n) = Σ x² · n (n read as float): ∂f/∂x = 2 x n. */
const f = (a: T, b: T) => Tensor.sum(Tensor.mul(Tensor.square(a), Tensor.cast(b, "float32")))

describe("argnums with integer inputs", () => {
  it("without allowInt: a DTypeError naming the argument position, its dtype and shape", async () => {
    await expectFailure(grad(f, { argnums: [0, 1] })(x(), n()), "DTypeError", "argument 1", "int32", "[1, 3]", "allowInt")
    await expectFailure(grad((b: T) => Tensor.sum(Tensor.cast(b, "float32")))(n()), "DTypeError", "argument 0", "int32")
    await expectFailure(grad((a: T, b: T) => Tensor.sum(Tensor.where(b, a, 0)), { argnums: 1 })(x(), Tensor.make([true, false, true], { dtype: "bool" })), "DTypeError", "argument 1", "bool")
    for (const t of [vectorGrad, jacrev, jacfwd, hessian, valueAndGrad] as const)
      await expectFailure((t as typeof grad)(f, { argnums: [0, 1] })(x(), n()), "DTypeError", "argument 1", "int32")
  })

  it("an integer argument that is not in argnums needs nothing", async () => {
    expect(await show(await run(grad(f)(x(), n())))).toEqual(leaf("float32", [3], [4, 0, -6]))
  })

  it("grad: mixed float/int argnums give [float gradient, int32 zeros of the input's shape]", async () => {
    const g = await run(grad(f, { argnums: [0, 1], allowInt: true })(x(), n()))
    expect(await show(g)).toEqual([leaf("float32", [3], [4, 0, -6]), zerosLeaf("int32", [1, 3])])
  })

  it("a single integer argnum gives one zeros tensor; bool inputs get bool zeros", async () => {
    expect(await show(await run(grad(f, { argnums: 1, allowInt: true })(x(), n())))).toEqual(zerosLeaf("int32", [1, 3]))
    const b = Tensor.make([[true], [false]], { dtype: "bool" })
    const g = await run(grad((a: T, c: T) => Tensor.sum(Tensor.where(c, a, 0)), { argnums: [0, 1], allowInt: true })(Tensor.make([[1], [2]], { dtype: "float64" }), b))
    expect(await show(g)).toEqual([leaf("float64", [2, 1], [1, 0]), zerosLeaf("bool", [2, 1])])
  })

  it("the float gradients are the same with and without integer arguments in argnums", async () => {
    const plain = await show(await run(grad(f, { argnums: 0 })(x(), n())))
    const [withInt] = (await run(grad(f, { argnums: [0, 1], allowInt: true })(x(), n()))) as [T, T]
    expect(await show(withInt)).toEqual(plain)
  })

  it("arrays and records as arguments: integer leaves get zeros inside the same structure", async () => {
    const p = { w: Tensor.make([0.5, 2]), steps: Tensor.make(3, { dtype: "int32" }) }
    const q = [Tensor.make([1, 2], { dtype: "int32" }), Tensor.make([[1.5]], { dtype: "float64" })] as const
    const h = (a: typeof p, b: typeof q) =>
      Tensor.add(
        Tensor.sum(Tensor.mul(Tensor.mul(a.w, Tensor.cast(b[0], "float32")), Tensor.cast(a.steps, "float32"))),
        Tensor.cast(Tensor.sum(Tensor.square(b[1])), "float32")
      )
    await expectFailure(grad(h, { argnums: [0, 1] })(p, q), "DTypeError", "argument 0", "int32")
    await expectFailure(grad(h, { argnums: 1 })(p, q), "DTypeError", "argument 1", "int32")
    const g = await run(grad(h, { argnums: [0, 1], allowInt: true })(p, q))
    expect(await show(g)).toEqual([
      { w: leaf("float32", [2], [3, 6]), steps: zerosLeaf("int32", []) },
      [zerosLeaf("int32", [2]), leaf("float64", [1, 1], [3])]
    ])
    const [value, g2] = await run(valueAndGrad(h, { argnums: 0, allowInt: true })(p, q))
    expect(await show(value)).toEqual(leaf("float32", [], [0.5 * 1 * 3 + 2 * 2 * 3 + 2.25]))
    expect(await show(g2)).toEqual({ w: leaf("float32", [2], [3, 6]), steps: zerosLeaf("int32", []) })
  })

  it("hasAux and returnValue keep their places around the zeros", async () => {
    const fa = (a: T, b: T) => [f(a, b), { b }] as const
    const r = await run(grad(fa, { argnums: [0, 1], allowInt: true, hasAux: true, returnValue: true })(x(), n()))
    expect(await show(r)).toEqual([
      [leaf("float32", [3], [4, 0, -6]), zerosLeaf("int32", [1, 3])],
      leaf("float32", [], [2 - 9]),
      { b: leaf("int32", [1, 3], [2, 0, -1]) }
    ])
  })
})

describe("int32 Variables in gradVars", () => {
  const setup = Effect.gen(function* () {
    const w = yield* Variable.make(Tensor.make([1, 2]), { name: "w" })
    const step = yield* Variable.make(Tensor.make(3, { dtype: "int32" }), { name: "step" })
    /** Σ w · a · step */
    const loss = (a: T) =>
      Effect.gen(function* () {
        const s = yield* Variable.get(step)
        const wv = yield* Variable.get(w)
        return Tensor.sum(Tensor.mul(Tensor.mul(wv, a), Tensor.cast(s, "float32")))
      })
    return { w, step, loss }
  })
  const a = () => Tensor.make([0.5, -1])

  it("without allowInt: a DTypeError naming the variable's place", async () => {
    const { w, step, loss } = await run(setup)
    await expectFailure(grad(loss, { gradVars: { w, step } })(a()), "DTypeError", "gradVars.step", "int32")
    await expectFailure(grad(loss, { gradVars: [w, step] })(a()), "DTypeError", "gradVars[1]", "int32")
    await expectFailure(grad(loss, { gradVars: step })(a()), "DTypeError", "gradVars", "step", "int32")
  })

  it("with allowInt: int32 zeros of the variable's shape, in a record, an array, alone, and next to argnums", async () => {
    const { w, step, loss } = await run(setup)
    const dw = leaf("float32", [2], [1.5, -3])
    expect(await show(await run(grad(loss, { gradVars: { w, step }, allowInt: true })(a())))).toEqual({ w: dw, step: zerosLeaf("int32", []) })
    expect(await show(await run(grad(loss, { gradVars: [step, w], allowInt: true })(a())))).toEqual([zerosLeaf("int32", []), dw])
    expect(await show(await run(grad(loss, { gradVars: step, allowInt: true })(a())))).toEqual(zerosLeaf("int32", []))
    expect(await show(await run(grad(loss, { gradVars: { w, step }, argnums: 0, allowInt: true })(a())))).toEqual([
      { w: dw, step: zerosLeaf("int32", []) },
      leaf("float32", [2], [3, 6])
    ])
    // the integer variable keeps its value
    expect(await run(Effect.flatMap(Variable.get(step), Tensor.item))).toBe(3)
  })

  it("jacrev and vectorGrad mirror gradVars the same way", async () => {
    const { w, step, loss } = await run(setup)
    const elementwise = (b: T) => Effect.map(loss(b), (s) => Tensor.mul(s, Tensor.make([1, 2])))
    const J = await run(jacrev(elementwise, { gradVars: { w, step }, allowInt: true })(a()))
    expect(await show(J)).toEqual({ w: leaf("float32", [2, 2], [1.5, -3, 3, -6]), step: zerosLeaf("int32", [2]) })
    const v = await run(vectorGrad(elementwise, { gradVars: [w, step], allowInt: true })(a()))
    expect(await show(v)).toEqual([leaf("float32", [2], [4.5, -9]), zerosLeaf("int32", [])])
  })
})

describe("jacobians, hessian and holomorphic with integer inputs", () => {
  it("vectorGrad, jacrev and jacfwd: integer blocks are zeros of shape [...out, ...in] and the input's dtype", async () => {
    const g = (a: T, b: T) => Tensor.mul(a, Tensor.cast(b, "float32")) // [3] · [1, 3] → [1, 3]
    expect(await show(await run(vectorGrad(g, { argnums: [0, 1], allowInt: true })(x(), n())))).toEqual([leaf("float32", [3], [2, 0, -1]), zerosLeaf("int32", [1, 3])])
    for (const jac of [jacrev, jacfwd]) {
      const [Jx, Jn] = (await run(jac(g, { argnums: [0, 1], allowInt: true })(x(), n()))) as [T, T]
      expect(await show(Jx)).toEqual(leaf("float32", [1, 3, 3], [2, 0, 0, 0, 0, 0, 0, 0, -1]))
      expect(await show(Jn)).toEqual(zerosLeaf("int32", [1, 3, 1, 3]))
    }
  })

  it("hessian: blocks that involve an integer input are zeros of that input's dtype", async () => {
    const H = (await run(hessian(f, { argnums: [0, 1], allowInt: true })(x(), n()))) as [[T, T], [T, T]]
    expect(await show(H)).toEqual([
      [leaf("float32", [3, 3], [4, 0, 0, 0, 0, 0, 0, 0, -2]), zerosLeaf("int32", [3, 1, 3])],
      [zerosLeaf("int32", [1, 3, 3]), zerosLeaf("int32", [1, 3, 1, 3])]
    ])
    await expectFailure(hessian(f, { argnums: [0, 1] })(x(), n()), "DTypeError", "argument 1", "int32")
  })

  it("holomorphic with allowInt: complex inputs get f'(z), integer inputs zeros (JAX would refuse the integer input)", async () => {
    const p = (z: T, k: T) => Tensor.mul(Tensor.pow(z, 3), Tensor.cast(k, "complex64"))
    const [gz, gk] = (await run(grad(p, { holomorphic: true, argnums: [0, 1], allowInt: true })(cscalar([1, 1]), Tensor.make(2, { dtype: "int32" })))) as [T, T]
    await expectC(gz, [[0, 12]], { rtol: 1e-6, atol: 1e-6 }) // 3·2·(1 + i)² = 12i
    expect(await show(gk)).toEqual(zerosLeaf("int32", []))
    await expectFailure(grad(p, { holomorphic: true, argnums: [0, 1] })(cscalar([1, 1]), Tensor.make(2, { dtype: "int32" })), "DTypeError", "argument 1", "int32")
  })
})

describe("property: any mix of float and integer arguments", () => {
  type Kind = "float32" | "float64" | "int32" | "bool"
  const argArb = fc.record({
    dtype: fc.constantFrom<Kind>("float32", "float64", "int32", "bool"),
    shape: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    seed: fc.integer({ min: -5, max: 5 })
  })
  const make = (a: { dtype: Kind; shape: number[]; seed: number }): T => {
    const size = a.shape.reduce((p, q) => p * q, 1)
    const values = Array.from({ length: size }, (_, i) => (a.dtype === "bool" ? (i + a.seed) % 2 : a.seed + i))
    return Tensor.make(new Float64Array(values) as never, { dtype: a.dtype, shape: a.shape })
  }

  it("grad with allowInt: float leaves get 2x (for Σ x² + Σ ints), integer leaves zeros of their shape and dtype; without allowInt the first integer position is named", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(argArb, { minLength: 1, maxLength: 4 }), fc.boolean(), async (specs, asRecord) => {
        const args = specs.map(make)
        const isInt = specs.map((s) => s.dtype === "int32" || s.dtype === "bool")
        const body = (ts: ReadonlyArray<T>) =>
          ts.reduce<T>((acc, t, i) => Tensor.add(acc, isInt[i] ? Tensor.sum(Tensor.cast(t, "float64")) : Tensor.cast(Tensor.sum(Tensor.square(t)), "float64")), Tensor.make(0, { dtype: "float64" }))
        // all the arguments as positional arguments, or as one record argument
        const argnums = specs.map((_, i) => i)
        const result = asRecord
          ? await run(grad((r: Record<string, T>) => body(specs.map((_, i) => r[`a${i}`]!)), { allowInt: true })(Object.fromEntries(args.map((t, i) => [`a${i}`, t]))))
          : await run(grad((...ts: T[]) => body(ts), { argnums, allowInt: true })(...args))
        const leaves = asRecord ? specs.map((_, i) => (result as Record<string, T>)[`a${i}`]!) : (result as T[])
        expect(leaves.length).toBe(specs.length)
        for (let i = 0; i < specs.length; i++) {
          const got = leaves[i]!
          expect(got.dtype).toBe(specs[i]!.dtype)
          expect([...got.shape]).toEqual(specs[i]!.shape)
          const values = await readR(got)
          const want = isInt[i] ? values.map(() => 0) : (await readR(args[i]!)).map((v) => 2 * v)
          expect(values).toEqual(want)
        }
        const firstInt = isInt.indexOf(true)
        if (firstInt >= 0 && !asRecord)
          await expectFailure(grad((...ts: T[]) => body(ts), { argnums })(...args), "DTypeError", `argument ${firstInt}`, specs[firstInt]!.dtype)
        expect(Pytree.flatten(result)[0].length).toBe(specs.length)
      }),
      { numRuns: 40 }
    )
  })
})
