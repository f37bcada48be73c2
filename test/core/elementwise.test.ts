/**
 * Elementwise ops against the float64 reference: every unary and binary op,
 * data-first and data-last, for float32 / float64 / int32 / bool, on random
 * broadcast-compatible shapes; plus the numerically delicate cases.
 */
import { pipe } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor } from "@diffect/core"
import {
  arbBroadcastShapes,
  arbDimWithZero,
  arbRef,
  type DT,
  expectClose,
  expectTensor,
  i32,
  kindOf,
  read,
  type Ref,
  refMap,
  refZip,
  runs,
  tensorOf,
  tolFor
} from "./helpers.js"

const dtypes: ReadonlyArray<DT> = ["float32", "float64", "int32", "bool"]
const inexactOf = (d: DT): DT => (d === "float64" ? "float64" : "float32")
const arithOf = (d: DT): DT => (d === "bool" ? "int32" : d)

// ------------------------------------------------------------------ unary

interface UnaryCase {
  readonly name: string
  readonly op: (x: Tensor.Tensor) => Tensor.Tensor
  readonly ref: (x: number) => number
  /** the result dtype for an input dtype */
  readonly out: (d: DT) => DT
  /** reference for integer results (wrapping) */
  readonly intRef?: (x: number) => number
}

const sigmoidRef = (x: number) => 1 / (1 + Math.exp(-x))
const unaryCases: ReadonlyArray<UnaryCase> = [
  { name: "neg", op: Tensor.neg, ref: (x) => -x, out: arithOf, intRef: (x) => i32(-x) },
  { name: "exp", op: Tensor.exp, ref: Math.exp, out: inexactOf },
  { name: "log", op: Tensor.log, ref: Math.log, out: inexactOf },
  { name: "sin", op: Tensor.sin, ref: Math.sin, out: inexactOf },
  { name: "cos", op: Tensor.cos, ref: Math.cos, out: inexactOf },
  { name: "tanh", op: Tensor.tanh, ref: Math.tanh, out: inexactOf },
  { name: "sqrt", op: Tensor.sqrt, ref: Math.sqrt, out: inexactOf },
  { name: "square", op: Tensor.square, ref: (x) => x * x, out: arithOf, intRef: (x) => Math.imul(x, x) },
  { name: "abs", op: Tensor.abs, ref: Math.abs, out: arithOf },
  { name: "sign", op: Tensor.sign, ref: Math.sign, out: arithOf },
  { name: "sigmoid", op: Tensor.sigmoid, ref: sigmoidRef, out: inexactOf },
  { name: "relu", op: Tensor.relu, ref: (x) => (x > 0 ? x : 0), out: arithOf },
  { name: "log1p", op: Tensor.log1p, ref: Math.log1p, out: inexactOf },
  { name: "expm1", op: Tensor.expm1, ref: Math.expm1, out: inexactOf },
  { name: "reciprocal", op: Tensor.reciprocal, ref: (x) => 1 / x, out: inexactOf }
]

describe("unary ops against the float64 reference", () => {
  for (const c of unaryCases) {
    it(`${c.name} on every dtype, data-first and in pipe`, async () => {
      const arb = fc
        .tuple(fc.array(arbDimWithZero, { maxLength: 3 }), fc.constantFrom(...dtypes))
        .chain(([shape, dtype]) => arbRef(shape, kindOf(dtype)).map((r) => [r, dtype] as const))
      await fc.assert(
        fc.asyncProperty(arb, async ([r, dtype]) => {
          const x = tensorOf(r, dtype)
          const out = c.out(dtype)
          const f = out === "int32" && c.intRef ? c.intRef : c.ref
          const want = refMap(r, f)
          await expectTensor(c.op(x), want, out, tolFor(out), c.name)
          await expectTensor(pipe(x, c.op), want, out, tolFor(out), `${c.name} pipe`)
        }),
        runs(25)
      )
    })
  }

  it("unary ops accept a plain number (a float32 scalar)", async () => {
    await expectTensor(Tensor.exp(1), { shape: [], data: [Math.E] }, "float32")
    await expectTensor(Tensor.neg(3), { shape: [], data: [-3] }, "float32")
    await expectTensor(Tensor.sigmoid(0), { shape: [], data: [0.5] }, "float32")
  })

  it("domain edges: log(0) = -inf, log(-1) = NaN, sqrt(-1) = NaN, 1/0 = inf, sign(0) = 0", async () => {
    const x = Tensor.make([0, -1, 0], { dtype: "float64" })
    expectClose(await read(Tensor.log(x)), [-Infinity, NaN, -Infinity], tolFor("float64"))
    expectClose(await read(Tensor.sqrt(x)), [0, NaN, 0], tolFor("float64"))
    expectClose(await read(Tensor.reciprocal(x)), [Infinity, -1, Infinity], tolFor("float64"))
    expectClose(await read(Tensor.sign(x)), [0, -1, 0], tolFor("float64"))
    expectClose(await read(Tensor.sign(Tensor.make([NaN]))), [NaN], tolFor("float32"))
  })
})

describe("numerical care", () => {
  it("sigmoid at ±1000 (and ±88, ±750) is finite, exact at the ends, in float32 and float64", async () => {
    for (const dtype of ["float32", "float64"] as const) {
      const xs = [-1000, -750, -88, -20, 0, 20, 88, 750, 1000]
      const y = await read(Tensor.sigmoid(Tensor.make(xs, { dtype })))
      expect(y.every(Number.isFinite)).toBe(true)
      expect(y[0]).toBe(0)
      expect(y[8]).toBe(1)
      expectClose(y, xs.map((x) => (dtype === "float32" ? Math.fround(sigmoidRef(x)) : sigmoidRef(x))), { rtol: 1e-6, atol: 0 }, dtype)
    }
  })

  it("log1p and expm1 keep full relative precision near 1e-10", async () => {
    for (const dtype of ["float32", "float64"] as const) {
      const xs = [1e-10, -1e-10, 3e-12, 1e-300].map((x) => (dtype === "float32" ? Math.fround(x) : x))
      const t = Tensor.make(xs, { dtype })
      const rtol = dtype === "float32" ? 1e-6 : 1e-15
      expectClose(await read(Tensor.log1p(t)), xs.map(Math.log1p).map((x) => (dtype === "float32" ? Math.fround(x) : x)), { rtol, atol: 0 }, `log1p ${dtype}`)
      expectClose(await read(Tensor.expm1(t)), xs.map(Math.expm1).map((x) => (dtype === "float32" ? Math.fround(x) : x)), { rtol, atol: 0 }, `expm1 ${dtype}`)
    }
  })

  it("maximum and minimum propagate NaN from either side", async () => {
    const a = Tensor.make([NaN, 1, NaN]), b = Tensor.make([1, NaN, NaN])
    expectClose(await read(Tensor.maximum(a, b)), [NaN, NaN, NaN], tolFor("float32"))
    expectClose(await read(Tensor.minimum(a, b)), [NaN, NaN, NaN], tolFor("float32"))
  })

  it("relu propagates NaN (as JAX's maximum(x, 0)) and gives +0 for negatives", async () => {
    for (const dtype of ["float32", "float64"] as const) {
      const y = await read(Tensor.relu(Tensor.make([NaN, -2, -0, 0, 3], { dtype })))
      expectClose(y, [NaN, 0, 0, 0, 3], tolFor(dtype), dtype)
      expect(Object.is(y[1], 0) && Object.is(y[2], 0), "no negative zero").toBe(true)
    }
  })

  it("int32 add, sub, mul and square wrap like two's complement", async () => {
    const big = Tensor.make([2147483647, -2147483648, 65536], { dtype: "int32" })
    expect(await read(Tensor.add(big, 1))).toEqual([-2147483648, -2147483647, 65537])
    expect(await read(Tensor.sub(big, 1))).toEqual([2147483646, 2147483647, 65535])
    expect(await read(Tensor.mul(big, 2))).toEqual([-2, 0, 131072])
    expect(await read(Tensor.square(big))).toEqual([1, 0, 0])
  })
})

// ------------------------------------------------------------------ binary

interface BinaryCase {
  readonly name: string
  readonly op: typeof Tensor.add
  readonly ref: (a: number, b: number) => number
  readonly out: (d: DT) => DT
  readonly intRef?: (a: number, b: number) => number
}

const nanMax = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b))
const nanMin = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b))
const binaryCases: ReadonlyArray<BinaryCase> = [
  { name: "add", op: Tensor.add, ref: (a, b) => a + b, out: arithOf, intRef: (a, b) => i32(a + b) },
  { name: "sub", op: Tensor.sub, ref: (a, b) => a - b, out: arithOf, intRef: (a, b) => i32(a - b) },
  { name: "mul", op: Tensor.mul, ref: (a, b) => a * b, out: arithOf, intRef: Math.imul },
  { name: "div", op: Tensor.div, ref: (a, b) => a / b, out: inexactOf },
  { name: "pow", op: Tensor.pow, ref: Math.pow, out: inexactOf },
  { name: "maximum", op: Tensor.maximum, ref: nanMax, out: arithOf },
  { name: "minimum", op: Tensor.minimum, ref: nanMin, out: arithOf },
  { name: "greater", op: Tensor.greater, ref: (a, b) => (a > b ? 1 : 0), out: () => "bool" },
  { name: "less", op: Tensor.less, ref: (a, b) => (a < b ? 1 : 0), out: () => "bool" },
  { name: "equal", op: Tensor.equal, ref: (a, b) => (a === b ? 1 : 0), out: () => "bool" }
]

/** Values with many ties so that comparisons see equal elements. */
const arbTies = (shape: ReadonlyArray<number>, dtype: DT): fc.Arbitrary<Ref> =>
  dtype === "bool" ? arbRef(shape, "bool") : fc.array(fc.integer({ min: -3, max: 3 }), { minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) }).map((data) => ({ shape: [...shape], data: data.map((v) => v / 2).map((v) => (dtype === "int32" ? Math.trunc(v) || 0 : v)) }))

describe("binary ops against the float64 reference, with random broadcasting", () => {
  for (const c of binaryCases) {
    it(`${c.name}: same dtype, random broadcast-compatible shapes, data-first and data-last`, async () => {
      const arb = fc.tuple(arbBroadcastShapes(2, 4, arbDimWithZero), fc.constantFrom(...dtypes), fc.boolean()).chain(([[sa, sb], dtype, ties]) =>
        fc.tuple(ties ? arbTies(sa!, dtype) : arbRef(sa!, kindOf(dtype)), ties ? arbTies(sb!, dtype) : arbRef(sb!, kindOf(dtype)), fc.constant(dtype))
      )
      await fc.assert(
        fc.asyncProperty(arb, async ([ra, rb, dtype]) => {
          const out = c.out(dtype)
          const f = out === "int32" && c.intRef ? c.intRef : c.ref
          const want = refZip([ra, rb], f)
          const a = tensorOf(ra, dtype), b = tensorOf(rb, dtype)
          await expectTensor(c.op(a, b), want, out, tolFor(out), c.name)
          await expectTensor(pipe(a, c.op(b)), want, out, tolFor(out), `${c.name} data-last`)
        }),
        runs(30)
      )
    })

    it(`${c.name}: mixed dtypes and weak numbers on either side`, async () => {
      const pairs: ReadonlyArray<readonly [DT, DT, DT]> = [
        ["float32", "float64", "float64"],
        ["int32", "float32", "float32"],
        ["bool", "int32", "int32"],
        ["bool", "float64", "float64"],
        ["int32", "float64", "float64"]
      ]
      const arb = fc.tuple(arbBroadcastShapes(2, 3), fc.constantFrom(...pairs), fc.integer({ min: -4, max: 4 }))
        .chain(([[sa, sb], p, n]) => fc.tuple(arbRef(sa!, kindOf(p[0])), arbRef(sb!, kindOf(p[1])), fc.constant(p), fc.constant(n)))
      await fc.assert(
        fc.asyncProperty(arb, async ([ra, rb, [da, db, promoted], n]) => {
          const out = c.out(promoted)
          const f = out === "int32" && c.intRef ? c.intRef : c.ref
          const a = tensorOf(ra, da), b = tensorOf(rb, db)
          // the operands as the promoted dtype sees them (float32 rounds)
          const seen = (r: Ref, from: DT) => (promoted === "float32" && from !== "float32" ? refMap(r, Math.fround) : r)
          await expectTensor(c.op(a, b), refZip([seen(ra, da), seen(rb, db)], f), out, tolFor(out), c.name)
          await expectTensor(c.op(b, a), refZip([seen(rb, db), seen(ra, da)], f), out, tolFor(out), `${c.name} swapped`)
          // a weak integer number takes the tensor's dtype (bool gives int32)
          const withNumber = c.out(db === "bool" ? "int32" : db)
          const fn = withNumber === "int32" && c.intRef ? c.intRef : c.ref
          await expectTensor(c.op(b, n), refZip([rb, { shape: [], data: [n] }], fn), withNumber, tolFor(withNumber), `${c.name}(t, ${n})`)
          await expectTensor(c.op(n, b), refZip([{ shape: [], data: [n] }, rb], fn), withNumber, tolFor(withNumber), `${c.name}(${n}, t)`)
          await expectTensor(pipe(b, c.op(n)), refZip([rb, { shape: [], data: [n] }], fn), withNumber, tolFor(withNumber), `${c.name} pipe`)
        }),
        runs(20)
      )
    })
  }

  it("x.pipe(...) chains data-last ops", async () => {
    const x = Tensor.make([[1, 2], [3, 4]])
    const y = x.pipe(Tensor.mul(2), Tensor.add(1), Tensor.sub(Tensor.make([1, 1])), Tensor.div(2), Tensor.pow(2))
    await expectTensor(y, { shape: [2, 2], data: [1, 4, 9, 16] }, "float32")
  })
})

describe("where", () => {
  it("selects with three-way broadcasting, data-first and data-last, against the reference", async () => {
    const arb = fc
      .tuple(arbBroadcastShapes(3, 3, arbDimWithZero), fc.constantFrom<DT>("float32", "float64", "int32"), fc.constantFrom<DT>("bool", "float32", "int32"))
      .chain(([[sc, sx, sy], dtype, cd]) => fc.tuple(arbRef(sc!, kindOf(cd)), arbRef(sx!, kindOf(dtype)), arbRef(sy!, kindOf(dtype)), fc.constant(dtype), fc.constant(cd)))
    await fc.assert(
      fc.asyncProperty(arb, async ([rc, rx, ry, dtype, cd]) => {
        const want = refZip([rc, rx, ry], (c, x, y) => (c !== 0 ? x : y))
        const c = tensorOf(rc, cd), x = tensorOf(rx, dtype), y = tensorOf(ry, dtype)
        await expectTensor(Tensor.where(c, x, y), want, dtype)
        await expectTensor(pipe(c, Tensor.where(x, y)), want, dtype)
      }),
      runs(40)
    )
  })

  it("promotes branches and accepts numbers", async () => {
    const c = Tensor.make([1, 0, 1], { dtype: "bool" })
    await expectTensor(Tensor.where(c, Tensor.arange(3), 0.5), { shape: [3], data: [0, 0.5, 2] }, "float32")
    await expectTensor(Tensor.where(c, Tensor.arange(3), Tensor.ones([3], { dtype: "float64" })), { shape: [3], data: [0, 1, 2] }, "float64")
    await expectTensor(Tensor.where(c, 1, -1), { shape: [3], data: [1, -1, 1] }, "float32")
    await expectTensor(Tensor.where(Tensor.make([[1], [0]], { dtype: "bool" }), Tensor.arange(3), -1), { shape: [2, 3], data: [0, 1, 2, -1, -1, -1] }, "int32")
  })
})
