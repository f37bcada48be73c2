/**
 * Shared helpers of the @diffect/core suite: an independent float64
 * reference (plain loops over nested index math; it never calls the
 * library), comparison with tolerances, reading tensors, checking typed
 * failures, and fast-check arbitraries for shapes and values.
 */
import { Cause, Effect, Exit } from "effect"
import fc from "fast-check"
import { expect } from "vitest"
import { Tensor } from "@diffect/core"

export type Shape = ReadonlyArray<number>
export type DT = "float32" | "float64" | "int32" | "bool"

/** A reference value: a shape and its row-major float64 data. */
export interface Ref {
  readonly shape: Shape
  readonly data: ReadonlyArray<number>
}

// ------------------------------------------------------------------ index math

export const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1)

export const stridesOf = (shape: Shape): number[] => {
  const s: number[] = []
  let acc = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc
    acc *= shape[i]!
  }
  return s
}

/** The multi-index of flat position `i`. */
export const unravel = (i: number, shape: Shape): number[] => {
  const idx = new Array<number>(shape.length).fill(0)
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!
    i = Math.floor(i / shape[d]!)
  }
  return idx
}

/** The flat position of a multi-index. */
export const ravel = (idx: ReadonlyArray<number>, shape: Shape): number => {
  let p = 0
  for (let d = 0; d < shape.length; d++) p = p * shape[d]! + idx[d]!
  return p
}

export const at = (r: Ref, idx: ReadonlyArray<number>): number => r.data[ravel(idx, r.shape)]!

/** Builds a reference by computing every element from its multi-index. */
export const build = (shape: Shape, f: (idx: number[]) => number): Ref => {
  const data: number[] = []
  for (let i = 0; i < sizeOf(shape); i++) data.push(f(unravel(i, shape)))
  return { shape: [...shape], data }
}

/** Nested arrays of a reference (each element mapped by `f`). */
export const nest = (r: Ref, f: (x: number) => unknown = (x) => x): unknown => {
  const go = (d: number, prefix: number[]): unknown =>
    d === r.shape.length ? f(at(r, prefix)) : Array.from({ length: r.shape[d]! }, (_, i) => go(d + 1, [...prefix, i]))
  return go(0, [])
}

// ------------------------------------------------------------------ reference ops

export const refBroadcastShape = (...shapes: ReadonlyArray<Shape>): number[] | undefined => {
  const n = Math.max(0, ...shapes.map((s) => s.length))
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    let d = 1
    for (const s of shapes) {
      const k = s.length - n + i
      const e = k >= 0 ? s[k]! : 1
      if (e === 1) continue
      if (d !== 1 && d !== e) return undefined
      d = e
    }
    out.push(d)
  }
  return out
}

/** The element of `r` seen at output index `idx` under NumPy broadcasting. */
const bAt = (r: Ref, idx: ReadonlyArray<number>): number => {
  const off = idx.length - r.shape.length
  return at(r, r.shape.map((d, k) => (d === 1 ? 0 : idx[k + off]!)))
}

export const refBroadcastTo = (r: Ref, shape: Shape): Ref => build(shape, (idx) => bAt(r, idx))

export const refMap = (r: Ref, f: (x: number) => number): Ref => ({ shape: [...r.shape], data: r.data.map(f) })

export const refZip = (rs: ReadonlyArray<Ref>, f: (...xs: number[]) => number): Ref => {
  const shape = refBroadcastShape(...rs.map((r) => r.shape))
  if (shape === undefined) throw new Error("reference: shapes do not broadcast")
  return build(shape, (idx) => f(...rs.map((r) => bAt(r, idx))))
}

/** Reduces over normalized `axes` with `f` applied to the list of values of each slice. */
export const refReduce = (r: Ref, axes: ReadonlyArray<number>, keepdims: boolean, f: (xs: number[]) => number): Ref => {
  const outShape = r.shape.flatMap((d, i) => (axes.includes(i) ? (keepdims ? [1] : []) : [d]))
  const groups: number[][] = Array.from({ length: sizeOf(outShape) }, () => [])
  for (let i = 0; i < r.data.length; i++) {
    const idx = unravel(i, r.shape)
    const o = idx.flatMap((v, d) => (axes.includes(d) ? (keepdims ? [0] : []) : [v]))
    groups[ravel(o, outShape)]!.push(r.data[i]!)
  }
  return { shape: outShape, data: groups.map(f) }
}

export const refTranspose = (r: Ref, perm: ReadonlyArray<number>): Ref =>
  build(
    perm.map((p) => r.shape[p]!),
    (idx) => {
      const src = new Array<number>(r.shape.length)
      perm.forEach((p, d) => (src[p] = idx[d]!))
      return at(r, src)
    }
  )

/** Slices with Python semantics (negative indices from the end, clamped). */
export const refSlice = (r: Ref, starts: ReadonlyArray<number>, stops: ReadonlyArray<number>): Ref => {
  const clamp = (i: number, d: number) => (i < 0 ? Math.max(0, d + i) : Math.min(d, i))
  const lo = r.shape.map((d, k) => clamp(starts[k]!, d))
  const hi = r.shape.map((d, k) => Math.max(lo[k]!, clamp(stops[k]!, d)))
  return build(
    lo.map((l, k) => hi[k]! - l),
    (idx) => at(r, idx.map((v, k) => v + lo[k]!))
  )
}

export const refConcat = (rs: ReadonlyArray<Ref>, axis: number): Ref => {
  const shape = rs[0]!.shape.map((d, i) => (i === axis ? rs.reduce((n, r) => n + r.shape[axis]!, 0) : d))
  return build(shape, (idx) => {
    let j = idx[axis]!
    for (const r of rs) {
      if (j < r.shape[axis]!) return at(r, idx.map((v, k) => (k === axis ? j : v)))
      j -= r.shape[axis]!
    }
    throw new Error("reference: concat index out of range")
  })
}

/** NumPy matmul: 1-D operands become a row / column, batch axes broadcast. */
export const refMatmul = (a: Ref, b: Ref): Ref => {
  const A = a.shape.length === 1 ? { shape: [1, a.shape[0]!], data: a.data } : a
  const B = b.shape.length === 1 ? { shape: [b.shape[0]!, 1], data: b.data } : b
  const m = A.shape[A.shape.length - 2]!, k = A.shape[A.shape.length - 1]!, n = B.shape[B.shape.length - 1]!
  const batch = refBroadcastShape(A.shape.slice(0, -2), B.shape.slice(0, -2))!
  const full = build([...batch, m, n], (idx) => {
    const bi = idx.slice(0, -2)
    const i = idx[idx.length - 2]!, j = idx[idx.length - 1]!
    const pick = (r: Ref, rank: number, row: number, col: number) => {
      const lead = r.shape.slice(0, rank - 2)
      const off = bi.length - lead.length
      return at(r, [...lead.map((d, t) => (d === 1 ? 0 : bi[t + off]!)), row, col])
    }
    let s = 0
    for (let p = 0; p < k; p++) s += pick(A, A.shape.length, i, p) * pick(B, B.shape.length, p, j)
    return s
  })
  const shape = [...batch, ...(a.shape.length === 1 ? [] : [m]), ...(b.shape.length === 1 ? [] : [n])]
  return { shape, data: full.data }
}

// ------------------------------------------------------------------ tensors and reading

/** A tensor holding a reference's data (through a Float64Array and `options.shape`). */
export const tensorOf = (r: Ref, dtype: DT): Tensor.Tensor => Tensor.make(Float64Array.from(r.data), { shape: r.shape, dtype })

/** The flat data of a tensor as plain numbers. */
export const read = async (t: Tensor.Tensor): Promise<number[]> => Array.from(await Effect.runPromise(Tensor.data(t)) as ArrayLike<number>)

export interface Tol {
  readonly rtol: number
  readonly atol: number
}
export const exact: Tol = { rtol: 0, atol: 0 }
export const tolFor = (dtype: string): Tol =>
  dtype === "float32" ? { rtol: 1e-5, atol: 1e-6 } : dtype === "float64" ? { rtol: 1e-12, atol: 1e-12 } : exact

/** Element-wise closeness; NaN must match NaN and infinities must match exactly. */
export const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, label = ""): void => {
  expect(actual.length, `${label} length`).toBe(expected.length)
  const bad: Array<{ i: number; actual: number; expected: number }> = []
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!
    const ok = Number.isNaN(e) ? Number.isNaN(a) : !Number.isFinite(e) ? a === e : Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e)
    if (!ok && bad.length < 5) bad.push({ i, actual: a, expected: e })
  }
  expect(bad, `${label} mismatches`).toEqual([])
}

/** Checks dtype, shape and values of a tensor against a reference (float32 references are rounded first). */
export const expectTensor = async (t: Tensor.Tensor, ref: Ref, dtype: string, tol: Tol = tolFor(dtype), label = ""): Promise<void> => {
  expect(t.dtype, `${label} dtype`).toBe(dtype)
  expect([...t.shape], `${label} shape`).toEqual([...ref.shape])
  expect(t.size, `${label} size`).toBe(sizeOf(ref.shape))
  expect(t.ndim, `${label} ndim`).toBe(ref.shape.length)
  const expected = dtype === "float32" ? ref.data.map(Math.fround) : ref.data
  expectClose(await read(t), expected, tol, label)
}

/**
 * Builds a tensor (which must not throw) and reads it, expecting a typed
 * failure (not a defect) with the given tag; returns its message.
 */
export const expectFailure = async (
  make: () => Tensor.Tensor,
  tag: "ShapeError" | "DTypeError",
  ...fragments: ReadonlyArray<string>
): Promise<string> => {
  let t: Tensor.Tensor | undefined
  expect(() => {
    t = make()
  }).not.toThrow()
  for (const read of [Tensor.data(t!), Tensor.toArray(t!)] as const) {
    const exit = await Effect.runPromiseExit(read as Effect.Effect<unknown, unknown>)
    expect(Exit.isFailure(exit), "reading should fail").toBe(true)
    if (Exit.isFailure(exit)) {
      expect(Cause.hasDies(exit.cause), "no defect").toBe(false)
      expect(Cause.hasFails(exit.cause), "a typed failure").toBe(true)
      const e = Cause.squash(exit.cause) as { _tag: string; message: string }
      expect(e._tag).toBe(tag)
      for (const f of fragments) expect(e.message).toContain(f)
    }
  }
  const exit = await Effect.runPromiseExit(Tensor.data(t!))
  return Exit.isFailure(exit) ? (Cause.squash(exit.cause) as Error).message : ""
}

/** The typed failure of an effect (which must fail, not die). */
export const failureOf = async <E>(eff: Effect.Effect<unknown, E>): Promise<E> => {
  const exit = await Effect.runPromiseExit(eff)
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  expect(Cause.hasDies(exit.cause), "no defect").toBe(false)
  return Cause.squash(exit.cause) as E
}

// ------------------------------------------------------------------ arbitraries

export const arbDim = (min = 1, max = 4): fc.Arbitrary<number> => fc.integer({ min, max })

export const arbShape = (maxRank = 4, minDim = 1, maxDim = 4): fc.Arbitrary<number[]> =>
  fc.array(arbDim(minDim, maxDim), { minLength: 0, maxLength: maxRank })

/** Mostly 1..4, sometimes 0 (for 0-size tensors). */
export const arbDimWithZero: fc.Arbitrary<number> = fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: arbDim() })

/** `n` shapes that broadcast together: suffixes of one shape with some axes set to 1. */
export const arbBroadcastShapes = (n: number, maxRank = 4, dim: fc.Arbitrary<number> = arbDim()): fc.Arbitrary<number[][]> =>
  fc.array(dim, { minLength: 0, maxLength: maxRank }).chain((out) =>
    fc.tuple(
      ...Array.from({ length: n }, () =>
        fc
          .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
          .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)))
      )
    )
  )

export type Kind = "f32" | "f64" | "int" | "bool" | "pos"
export const arbValue = (kind: Kind, bound = 10): fc.Arbitrary<number> => {
  switch (kind) {
    case "f32":
      return fc.float({ min: -bound, max: bound, noNaN: true })
    case "f64":
      return fc.double({ min: -bound, max: bound, noNaN: true })
    case "pos":
      return fc.float({ min: Math.fround(0.01), max: bound, noNaN: true })
    case "int":
      return fc.integer({ min: -20, max: 20 })
    case "bool":
      return fc.integer({ min: 0, max: 1 })
  }
}
export const kindOf = (dtype: DT): Kind => (dtype === "float32" ? "f32" : dtype === "float64" ? "f64" : dtype === "int32" ? "int" : "bool")

/** A reference value of a shape with values of a kind. */
export const arbRef = (shape: Shape, kind: Kind, bound?: number): fc.Arbitrary<Ref> =>
  fc.array(arbValue(kind, bound), { minLength: sizeOf(shape), maxLength: sizeOf(shape) }).map((data) => ({ shape: [...shape], data }))

export const arbDType: fc.Arbitrary<DT> = fc.constantFrom<DT>("float32", "float64", "int32", "bool")

/** A random permutation of `0..n-1`. */
export const arbPerm = (n: number): fc.Arbitrary<number[]> =>
  fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }).map((keys) =>
    keys.map((k, i) => [k, i] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]).map(([, i]) => i)
  )

/** Property-run settings that keep the suite fast. */
export const runs = (numRuns = 40) => ({ numRuns })

// ------------------------------------------------------------------ dtype arithmetic of the reference

/** int32 wrapping (two's complement), as C and JAX. */
export const i32 = (x: number): number => x | 0
