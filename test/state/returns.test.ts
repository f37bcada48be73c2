/**
 * SPEC.md's return table: all twelve rows for `grad` (with the argnums
 * forms of the first rows and the three gradVars forms), each with its
 * exact structure (array lengths, record keys, leaf shapes) and numbers;
 * spot checks of the same rows for vectorGrad, jacrev, jacfwd and hessian
 * (hessian has no returnValue; with gradVars and argnums, the blocks).
 *
 * v(x, y) = w ∘ x² + s · sum(y) (a vector of shape [2]) and f = sum(v), so
 * f(x, y) = sum(w ∘ x²) + 2 s · sum(y), with Variables w = [1, -2], s = 0.5,
 * and aux = { wx: w ∘ x, n: sum(y) }. By hand, at x = [1, 2], y = [3, 4, 5]:
 *   value = 1 - 8 + 2 · 0.5 · 12 = 5,
 *   ∂w = x² = [1, 4], ∂s = 2 sum(y) = 24, ∂x = 2 w ∘ x = [2, -8], ∂y = 2 s = [1, 1, 1],
 *   aux = { wx: [1, -4], n: 12 }.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, vectorGrad } from "@diffect/transforms"
import { diag, expectTree, f64, now, run, structure, zerosM } from "./helpers.js"

const X = [1, 2], Y = [3, 4, 5], W = [1, -2], S = 0.5
const value = 5
const dw = [1, 4], ds = 24, dx = [2, -8], dy = [1, 1, 1]
const aux = { wx: [1, -4], n: 12 }
const auxS = { wx: "T[2]", n: "T[]" }

const setup = Effect.gen(function* () {
  const w = yield* Variable.make(f64(W), { name: "w" })
  const s = yield* Variable.make(f64(S), { name: "s" })
  const calls = yield* Variable.make(Tensor.make(0, { dtype: "int32" }), { name: "calls" })
  /** the vector body: w ∘ x² + s · sum(y) (shape [2]), and aux */
  const body = (x: Tensor.Tensor, y: Tensor.Tensor) =>
    Effect.gen(function* () {
      yield* Variable.update(calls, (c) => Tensor.add(c, 1))
      const wv = yield* Variable.get(w)
      const sv = yield* Variable.get(s)
      const out = Tensor.add(Tensor.mul(wv, Tensor.square(x)), Tensor.mul(sv, Tensor.sum(y)))
      return [out, { wx: Tensor.mul(wv, x), n: Tensor.sum(y) }] as const
    })
  const f = (x: Tensor.Tensor, y: Tensor.Tensor) => Effect.map(body(x, y), ([o]) => Tensor.sum(o))
  const fAux = (x: Tensor.Tensor, y: Tensor.Tensor) => Effect.map(body(x, y), ([o, a]) => [Tensor.sum(o), a] as const)
  const v = (x: Tensor.Tensor, y: Tensor.Tensor) => Effect.map(body(x, y), ([o]) => o)
  const vAux = body
  return { w, s, calls, f, fAux, v, vAux }
})

type AnyT = (f: unknown, o: unknown) => (...a: unknown[]) => Effect.Effect<unknown, unknown>

interface Row {
  readonly name: string
  readonly options: (w: Variable.Variable<Tensor.Tensor>, s: Variable.Variable<Tensor.Tensor>) => Record<string, unknown>
  readonly shape: unknown
  readonly numbers: unknown
}

/** Each row of the table, with the gradients of f and their structure. */
const gradRows: ReadonlyArray<Row> = [
  // gradVars none, argnums any (default 0)
  { name: "none | default | - | -", options: () => ({}), shape: "T[2]", numbers: dx },
  { name: "none | 1 | - | -", options: () => ({ argnums: 1 }), shape: "T[3]", numbers: dy },
  { name: "none | [0, 1] | - | -", options: () => ({ argnums: [0, 1] }), shape: ["T[2]", "T[3]"], numbers: [dx, dy] },
  { name: "none | [1] | - | -", options: () => ({ argnums: [1] }), shape: ["T[3]"], numbers: [dy] },
  { name: "none | any | aux | -", options: () => ({ argnums: [1, 0], hasAux: true }), shape: [["T[3]", "T[2]"], auxS], numbers: [[dy, dx], aux] },
  { name: "none | any | - | value", options: () => ({ returnValue: true }), shape: ["T[2]", "T[]"], numbers: [dx, value] },
  { name: "none | any | aux | value", options: () => ({ argnums: 1, hasAux: true, returnValue: true }), shape: ["T[3]", "T[]", auxS], numbers: [dy, value, aux] },
  // gradVars given, argnums none
  { name: "given(one) | none | - | -", options: (w) => ({ gradVars: w }), shape: "T[2]", numbers: dw },
  { name: "given(array) | none | - | -", options: (w, s) => ({ gradVars: [s, w] }), shape: ["T[]", "T[2]"], numbers: [ds, dw] },
  { name: "given(record) | none | - | -", options: (w, s) => ({ gradVars: { w, s } }), shape: { w: "T[2]", s: "T[]" }, numbers: { w: dw, s: ds } },
  { name: "given | none | aux | -", options: (w, s) => ({ gradVars: { w, s }, hasAux: true }), shape: [{ w: "T[2]", s: "T[]" }, auxS], numbers: [{ w: dw, s: ds }, aux] },
  { name: "given | none | - | value", options: (w, s) => ({ gradVars: [w, s], returnValue: true }), shape: [["T[2]", "T[]"], "T[]"], numbers: [[dw, ds], value] },
  { name: "given | none | aux | value", options: (w) => ({ gradVars: w, hasAux: true, returnValue: true }), shape: ["T[2]", "T[]", auxS], numbers: [dw, value, aux] },
  // gradVars given, argnums given
  { name: "given | given | - | -", options: (w, s) => ({ gradVars: [w, s], argnums: 0 }), shape: [["T[2]", "T[]"], "T[2]"], numbers: [[dw, ds], dx] },
  { name: "given | given([]) | - | -", options: (w) => ({ gradVars: w, argnums: [] }), shape: ["T[2]", []], numbers: [dw, []] },
  { name: "given | given | aux | -", options: (w, s) => ({ gradVars: { s }, argnums: [0, 1], hasAux: true }), shape: [[{ s: "T[]" }, ["T[2]", "T[3]"]], auxS], numbers: [[{ s: ds }, [dx, dy]], aux] },
  { name: "given | given | - | value", options: (w) => ({ gradVars: w, argnums: 1, returnValue: true }), shape: [["T[2]", "T[3]"], "T[]"], numbers: [[dw, dy], value] },
  { name: "given | given | aux | value", options: (w, s) => ({ gradVars: [w, s], argnums: [1], hasAux: true, returnValue: true }), shape: [[["T[2]", "T[]"], ["T[3]"]], "T[]", auxS], numbers: [[[dw, ds], [dy]], value, aux] }
]

describe("grad: the twelve rows of SPEC.md's table", () => {
  for (const row of gradRows) {
    it(row.name, async () => {
      const { w, s, calls, f, fAux } = await run(setup)
      const o = row.options(w, s)
      const fn = o.hasAux ? fAux : f
      const r = await run((grad as unknown as AnyT)(fn, o)(f64(X), f64(Y)))
      expect(structure(r)).toEqual(row.shape)
      await expectTree(r, row.numbers, 1e-12)
      // the same through the curried form
      const r2 = await run((grad as unknown as (o: unknown) => (f: unknown) => (...a: unknown[]) => Effect.Effect<unknown>)(o)(fn)(f64(X), f64(Y)))
      expect(structure(r2)).toEqual(row.shape)
      await expectTree(r2, row.numbers, 1e-12)
      expect(await now(calls)).toBe(2)
    })
  }
})

describe("vectorGrad: the same rows (gradient of the summed vector output)", () => {
  // the vector output sums to f, so vectorGrad gives grad's numbers; value is the vector [7, -2]
  const vvalue = [7, -2]
  const pick = (names: string[]) => gradRows.filter((r) => names.includes(r.name))
  const replaceValue = (shape: unknown, numbers: unknown, o: Record<string, unknown>): [unknown, unknown] => {
    if (!o.returnValue) return [shape, numbers]
    const sh = [...(shape as unknown[])], nu = [...(numbers as unknown[])]
    sh[1] = "T[2]"
    nu[1] = vvalue
    return [sh, nu]
  }
  for (const row of pick([
    "none | default | - | -",
    "none | any | aux | value",
    "given(record) | none | - | -",
    "given | none | - | value",
    "given | given | - | -",
    "given | given | aux | value"
  ])) {
    it(row.name, async () => {
      const { w, s, v, vAux } = await run(setup)
      const o = row.options(w, s)
      const r = await run((vectorGrad as unknown as AnyT)(o.hasAux ? vAux : v, o)(f64(X), f64(Y)))
      const [shape, numbers] = replaceValue(row.shape, row.numbers, o)
      expect(structure(r)).toEqual(shape)
      await expectTree(r, numbers, 1e-12)
    })
  }
})

describe("jacrev and jacfwd: rows of the table", () => {
  // jacobians of v(x, y) = w ∘ x² + s · sum(y), shape [2]
  const Jw = diag(X.map((x) => x * x)) // [2, 2]
  const Js = [12, 12] // [2]
  const Jx = diag(W.map((w, i) => 2 * w * X[i]!)) // [2, 2]
  const Jy = [[S, S, S], [S, S, S]] // [2, 3]
  const vvalue = [7, -2]
  const rows: ReadonlyArray<Row> = [
    { name: "none | default | - | -", options: () => ({}), shape: "T[2,2]", numbers: Jx },
    { name: "none | [0, 1] | aux | -", options: () => ({ argnums: [0, 1], hasAux: true }), shape: [["T[2,2]", "T[2,3]"], auxS], numbers: [[Jx, Jy], aux] },
    { name: "none | 1 | - | value", options: () => ({ argnums: 1, returnValue: true }), shape: ["T[2,3]", "T[2]"], numbers: [Jy, vvalue] },
    { name: "given(one) | none | - | -", options: (w) => ({ gradVars: w }), shape: "T[2,2]", numbers: Jw },
    { name: "given(record) | none | aux | value", options: (w, s) => ({ gradVars: { w, s }, hasAux: true, returnValue: true }), shape: [{ w: "T[2,2]", s: "T[2]" }, "T[2]", auxS], numbers: [{ w: Jw, s: Js }, vvalue, aux] },
    { name: "given(array) | given | - | -", options: (w, s) => ({ gradVars: [w, s], argnums: [0, 1] }), shape: [["T[2,2]", "T[2]"], ["T[2,2]", "T[2,3]"]], numbers: [[Jw, Js], [Jx, Jy]] },
    { name: "given | given | aux | -", options: (w) => ({ gradVars: w, argnums: 0, hasAux: true }), shape: [["T[2,2]", "T[2,2]"], auxS], numbers: [[Jw, Jx], aux] },
    { name: "given | given | - | value", options: (_w, s) => ({ gradVars: s, argnums: 1, returnValue: true }), shape: [["T[2]", "T[2,3]"], "T[2]"], numbers: [[Js, Jy], vvalue] }
  ]
  for (const [name, t] of [["jacrev", jacrev], ["jacfwd", jacfwd]] as const) {
    for (const row of rows) {
      it(`${name}: ${row.name}`, async () => {
        const { w, s, calls, v, vAux } = await run(setup)
        const o = row.options(w, s)
        const r = await run((t as unknown as AnyT)(o.hasAux ? vAux : v, o)(f64(X), f64(Y)))
        expect(structure(r)).toEqual(row.shape)
        await expectTree(r, row.numbers, 1e-12)
        expect(await now(calls)).toBe(1)
      })
    }
  }
})

describe("hessian: rows of the table (no returnValue; blocks with gradVars and argnums)", () => {
  // second derivatives of f: ∂²/∂x² = diag(2w), ∂²/∂w∂x = diag(2x), ∂²/∂s∂y = 2, every other block 0
  const Hxx = diag(W.map((w) => 2 * w))
  const Hwx = diag(X.map((x) => 2 * x))
  const Hww = zerosM(2, 2)
  const rows: ReadonlyArray<Row> = [
    { name: "none | default | - | -", options: () => ({}), shape: "T[2,2]", numbers: Hxx },
    { name: "none | [0, 1] | - | -", options: () => ({ argnums: [0, 1] }), shape: [["T[2,2]", "T[2,3]"], ["T[3,2]", "T[3,3]"]], numbers: [[Hxx, zerosM(2, 3)], [zerosM(3, 2), zerosM(3, 3)]] },
    { name: "none | 0 | aux | -", options: () => ({ hasAux: true }), shape: ["T[2,2]", auxS], numbers: [Hxx, aux] },
    { name: "given(one) | none | - | -", options: (w) => ({ gradVars: w }), shape: "T[2,2]", numbers: Hww },
    { name: "given(record) | none | aux | -", options: (w, s) => ({ gradVars: { w, s }, hasAux: true }), shape: [{ w: { w: "T[2,2]", s: "T[2]" }, s: { w: "T[2]", s: "T[]" } }, auxS], numbers: [{ w: { w: Hww, s: [0, 0] }, s: { w: [0, 0], s: 0 } }, aux] },
    // the blocks: [[H_ww, H_wx], [H_xw, H_xx]]
    { name: "given | given | - | -", options: (w) => ({ gradVars: w, argnums: 0 }), shape: [["T[2,2]", "T[2,2]"], ["T[2,2]", "T[2,2]"]], numbers: [[Hww, Hwx], [Hwx, Hxx]] },
    // with arrays: [[varGrads, argGrads] of each block row]
    {
      name: "given(array) | given([1]) | aux | -",
      options: (_w, s) => ({ gradVars: [s], argnums: [1], hasAux: true }),
      // the inner result [[∂s], [∂y]] with [[∂/∂s], [∂/∂y]] at each leaf
      shape: [[[[["T[]"], ["T[3]"]]], [[["T[3]"], ["T[3,3]"]]]], auxS],
      numbers: [[[[[0], [[2, 2, 2]]]], [[[[2, 2, 2]], [zerosM(3, 3)]]]], aux]
    }
  ]
  for (const row of rows) {
    it(row.name, async () => {
      const { w, s, calls, f, fAux } = await run(setup)
      const o = row.options(w, s)
      const r = await run((hessian as unknown as AnyT)(o.hasAux ? fAux : f, o)(f64(X), f64(Y)))
      expect(structure(r)).toEqual(row.shape)
      await expectTree(r, row.numbers, 1e-12)
      expect(await now(calls)).toBe(1)
    })
  }

  it("returnValue is ignored by hessian", async () => {
    const { f } = await run(setup)
    const r = await run((hessian as unknown as AnyT)(f, { returnValue: true })(f64(X), f64(Y)))
    expect(structure(r)).toBe("T[2,2]")
    await expectTree(r, Hxx, 1e-12)
  })
})
