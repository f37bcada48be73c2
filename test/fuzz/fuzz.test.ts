/**
 * Fuzzing the transforms with random small programs (see program.ts): random
 * shapes, dtypes (float64, float32, an int32 argument with or without
 * allowInt), options (argnums, gradVars as one / array / record, hasAux,
 * returnValue), state reads and writes, and at most one planted fault.
 *
 * Every run ends in one of two ways:
 * - success: the gradients (jacobians, hessians, jvp tangents, vjp
 *   cotangents) agree with central finite differences computed in float64,
 *   the value and aux are the program's, and every write is committed;
 * - the typed failure the planted fault must give (its tag, by
 *   construction), with every Variable exactly as it was (never half-written).
 * Nothing throws, and no Exit holds a defect (`Die`).
 */
import { Cause, Effect, Exit } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, jvp, valueAndGrad, vectorGrad, vjp } from "@diffect/transforms"
import { argPositions, argTensors, build, type Case, caseArb, type Env, expectedTag, optionsOf, outputOf, programOf, type T } from "./program.js"

const RUNS = 1500

const run = <A>(eff: Effect.Effect<A, unknown>): Promise<A> => Effect.runPromise(eff)
const data = async (t: T): Promise<Float64Array> => Float64Array.from(await run(Tensor.data(t)))
const f64 = (d: ArrayLike<number>, shape: ReadonlyArray<number>) => Tensor.make(Float64Array.from(d), { shape, dtype: "float64" })
const sizeOf = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

// ------------------------------------------------------------------ finite differences

/** The values the program sees, in float64 (an int32 argument holds its rounded values). */
interface Point {
  readonly args: ReadonlyArray<Float64Array>
  readonly vars: ReadonlyArray<Float64Array>
}

const envOf = (c: Case, p: Point): Env => ({ args: p.args.map((a) => f64(a, c.shape)), vars: p.vars.map((v) => f64(v, c.shape)) })

/** The output at many points, in one evaluation. */
const outputsAt = async (c: Case, points: ReadonlyArray<Point>): Promise<Float64Array[]> => {
  const outs = points.map((p) => Tensor.reshape(outputOf(c, envOf(c, p)), [-1]))
  const all = await data(Tensor.concat(outs))
  const n = all.length / points.length
  return points.map((_, k) => all.subarray(k * n, (k + 1) * n))
}

/** A differentiated leaf: an argument or a Variable. */
type Leaf = { readonly kind: "arg"; readonly i: number } | { readonly kind: "var"; readonly j: number }

const shift = (p: Point, leaf: Leaf, e: number, h: number): Point => {
  const move = (xs: ReadonlyArray<Float64Array>, at: number) =>
    xs.map((x, k) => {
      if (k !== at) return x
      const y = Float64Array.from(x)
      y[e] = y[e]! + h
      return y
    })
  return leaf.kind === "arg" ? { args: move(p.args, leaf.i), vars: p.vars } : { args: p.args, vars: move(p.vars, leaf.j) }
}

/** ∂out/∂leaf by central differences: [out.size][leaf.size], row-major as [...out, ...leaf]. */
const jacobianFD = async (c: Case, p: Point, leaves: ReadonlyArray<Leaf>, h = 1e-5): Promise<Float64Array[]> => {
  const n = sizeOf(c.shape)
  const points: Point[] = []
  for (const leaf of leaves) for (let e = 0; e < n; e++) points.push(shift(p, leaf, e, h), shift(p, leaf, e, -h))
  if (points.length === 0) return []
  const outs = await outputsAt(c, points)
  const m = outs[0]!.length
  return leaves.map((_, l) => {
    const J = new Float64Array(m * n)
    for (let e = 0; e < n; e++) {
      const plus = outs[2 * (l * n + e)]!, minus = outs[2 * (l * n + e) + 1]!
      for (let o = 0; o < m; o++) J[o * n + e] = (plus[o]! - minus[o]!) / (2 * h)
    }
    return J
  })
}

/** The hessian of a scalar output with respect to argument 0 by second differences. */
const hessianFD = async (c: Case, p: Point, h = 1e-4): Promise<Float64Array> => {
  const n = sizeOf(c.shape)
  const arg: Leaf = { kind: "arg", i: 0 }
  const points: Point[] = []
  for (let a = 0; a < n; a++)
    for (let b = 0; b < n; b++)
      for (const [sa, sb] of [[1, 1], [1, -1], [-1, 1], [-1, -1]] as const) points.push(shift(shift(p, arg, a, sa * h), arg, b, sb * h))
  const outs = await outputsAt(c, points)
  const H = new Float64Array(n * n)
  for (let a = 0; a < n; a++)
    for (let b = 0; b < n; b++) {
      const k = 4 * (a * n + b)
      H[a * n + b] = (outs[k]![0]! - outs[k + 1]![0]! - outs[k + 2]![0]! + outs[k + 3]![0]!) / (4 * h * h)
    }
  return H
}

// ------------------------------------------------------------------ checks

const tolerance = (c: Case, second = false) =>
  c.dtype === "float32" ? { atol: second ? 2e-2 : 3e-3, rtol: second ? 2e-2 : 3e-3 } : { atol: second ? 1e-5 : 1e-6, rtol: second ? 1e-4 : 1e-5 }

/** How many numbers were compared with finite differences (or with the program's values). */
const checks = { numbers: 0, calls: 0 }

const expectClose = (got: ArrayLike<number>, want: ArrayLike<number>, tol: { atol: number; rtol: number }, what: string) => {
  expect(got.length, `${what}: size`).toBe(want.length)
  checks.numbers += want.length
  checks.calls++
  for (let k = 0; k < want.length; k++) {
    const g = got[k]!, w = want[k]!
    if (!(Math.abs(g - w) <= tol.atol + tol.rtol * Math.abs(w))) expect.fail(`${what}[${k}]: got ${g}, finite differences give ${w}`)
  }
}

const expectTensor = (u: unknown, shape: ReadonlyArray<number>, dtype: string, what: string): T => {
  expect(Tensor.isTensor(u), `${what} is a Tensor`).toBe(true)
  const t = u as T
  expect([...t.shape], `${what} shape`).toEqual([...shape])
  expect(t.dtype, `${what} dtype`).toBe(dtype)
  return t
}

/** Splits a grad-family result per SPEC.md's table into value, aux and the per-leaf gradients (vars first). */
const unpack = (c: Case, result: unknown): { grads: unknown[]; value?: unknown; aux?: unknown } => {
  let G: unknown, value: unknown, aux: unknown
  const r = result as unknown[]
  if (c.kind === "valueAndGrad") {
    G = r[1]
    if (c.hasAux) [value, aux] = r[0] as unknown[]
    else value = r[0]
  } else if (c.kind === "hessian") {
    if (c.hasAux) [G, aux] = r
    else G = result
  } else if (c.hasAux && c.returnValue) [G, value, aux] = r
  else if (c.hasAux) [G, aux] = r
  else if (c.returnValue) [G, value] = r
  else G = result
  const vars = c.gradVars
  const varGrads = (g: unknown): unknown[] =>
    vars.form === "one" ? [g] : vars.form === "array" ? (expect(Array.isArray(g)).toBe(true), g as unknown[]) : vars.vars.map((j) => (g as Record<string, unknown>)[`v${j}`])
  const argGrads = (g: unknown): unknown[] => (c.argnums === undefined || typeof c.argnums === "number" ? [g] : (expect(Array.isArray(g)).toBe(true), g as unknown[]))
  if (vars.form === "record") expect(Object.keys((vars.form === "record" && c.argnums !== undefined ? (G as unknown[])[0] : G) as object).sort()).toEqual(vars.vars.map((j) => `v${j}`).sort())
  const grads = vars.form === "none" ? argGrads(G) : c.argnums === undefined ? varGrads(G) : [...varGrads((G as unknown[])[0]), ...argGrads((G as unknown[])[1])]
  return { grads, value, aux }
}

const checkSuccess = async (c: Case, result: unknown, point: Point): Promise<void> => {
  const out = outputOf(c, envOf(c, point))
  const outShape = out.shape
  const outVal = await data(out)
  const tol = tolerance(c)
  if (c.kind === "jvp") {
    const [y, t] = result as [unknown, unknown]
    expectClose(await data(expectTensor(y, outShape, c.dtype, "jvp out")), outVal, tol, "jvp out")
    // the tangent: each argument moved along its tangent at once
    const h = 1e-5
    const dir = point.args.map((_, i) => tangentData(c, i))
    const move = (s: number): Point => ({ args: point.args.map((a, i) => a.map((x, e) => x + s * h * dir[i]![e]!)), vars: point.vars })
    const [plus, minus] = await outputsAt(c, [move(1), move(-1)])
    expectClose(await data(expectTensor(t, outShape, c.dtype, "jvp tangent")), plus!.map((p, o) => (p - minus![o]!) / (2 * h)), tol, "jvp tangent")
    return
  }
  if (c.kind === "vjp") {
    const [y, grads] = result as [unknown, unknown[]]
    expectClose(await data(expectTensor(y, outShape, c.dtype, "vjp out")), outVal, tol, "vjp out")
    const J = await jacobianFD(c, point, point.args.map((_, i) => ({ kind: "arg", i }) as const))
    const ct = cotangentData(outVal.length)
    const n = sizeOf(c.shape)
    for (let i = 0; i < c.nargs; i++) {
      const want = new Float64Array(n)
      for (let o = 0; o < outVal.length; o++) for (let e = 0; e < n; e++) want[e] = want[e]! + ct[o]! * J[i]![o * n + e]!
      expectClose(await data(expectTensor(grads[i], c.shape, c.dtype, `vjp cotangent ${i}`)), want, tol, `vjp cotangent ${i}`)
    }
    return
  }
  const { grads, value, aux } = unpack(c, result)
  if (value !== undefined) expectClose(await data(expectTensor(value, outShape, c.dtype, "value")), outVal, tol, "value")
  if (c.hasAux) expectClose(await data(expectTensor(aux, outShape, c.dtype, "aux")), outVal.map((v) => 2 * v), tol, "aux")
  if (c.kind === "hessian") {
    expectClose(await data(expectTensor(grads[0], [...c.shape, ...c.shape], c.dtype, "hessian")), await hessianFD(c, point), tolerance(c, true), "hessian")
    return
  }
  const leaves: Leaf[] = [...c.gradVars.vars.map((j) => ({ kind: "var", j }) as const), ...argPositions(c).map((i) => ({ kind: "arg", i }) as const)]
  expect(grads.length, "one gradient per differentiated leaf").toBe(leaves.length)
  const J = await jacobianFD(c, point, leaves)
  const n = sizeOf(c.shape)
  const jac = c.kind === "jacrev" || c.kind === "jacfwd"
  for (let l = 0; l < leaves.length; l++) {
    const leaf = leaves[l]!
    const what = `${c.kind} gradient of ${leaf.kind} ${leaf.kind === "arg" ? leaf.i : leaf.j}`
    const shape = jac ? [...outShape, ...c.shape] : c.shape
    if (leaf.kind === "arg" && leaf.i === c.intArg) {
      // allowInt: an integer argument gets zeros of its own dtype
      expect([...(await data(expectTensor(grads[l], shape, "int32", what)))].every((v) => v === 0), `${what} is zero`).toBe(true)
      continue
    }
    // grad / valueAndGrad: a scalar output; vectorGrad: the gradient of the sum of the outputs
    const want = jac ? J[l]! : Float64Array.from({ length: n }, (_, e) => outVal.reduce((s, _o, o) => s + J[l]![o * n + e]!, 0))
    expectClose(await data(expectTensor(grads[l], shape, c.dtype, what)), want, tol, what)
  }
}

const tangentData = (c: Case, i: number): Float64Array => Float64Array.from({ length: sizeOf(c.shape) }, (_, e) => Math.cos(1 + e + 3 * i))
const cotangentData = (m: number): Float64Array => Float64Array.from({ length: m }, (_, o) => Math.sin(2 + o))

// ------------------------------------------------------------------ one case

const runCase = async (c: Case): Promise<void> => {
  const vars = await run(Effect.forEach(c.varData, (d) => Variable.make(Tensor.make(Float64Array.from(d), { shape: c.shape, dtype: c.dtype }))))
  const before = await Promise.all(vars.map((v) => run(Effect.flatMap(Variable.get(v), Tensor.data))))
  const args = argTensors(c)
  const f = programOf(c, vars)
  let eff: Effect.Effect<unknown, unknown> | undefined
  expect(() => {
    switch (c.kind) {
      case "jvp":
        eff = jvp(f, args, args.map((a, i) => Tensor.make(tangentData(c, i), { shape: c.shape, dtype: a.dtype })))
        break
      case "vjp":
        eff = Effect.flatMap(vjp(f, ...args), ([y, pullback]) =>
          Effect.map(pullback(Tensor.make(cotangentData((y as T).size), { shape: (y as T).shape, dtype: (y as T).dtype }) as never), (g) => [y, g])
        )
        break
      default: {
        const t = { grad, valueAndGrad, vectorGrad, jacrev, jacfwd, hessian }[c.kind] as unknown as (f: unknown, o: unknown) => (...a: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>
        eff = t(f, optionsOf(c, vars))(...args)
      }
    }
  }, "building the call does not throw").not.toThrow()
  const exit = await Effect.runPromiseExit(eff!)
  if (Exit.isFailure(exit)) expect(Cause.hasDies(exit.cause), `no defect: ${Cause.pretty(exit.cause)}`).toBe(false)
  const after = await Promise.all(vars.map((v) => run(Effect.flatMap(Variable.get(v), Tensor.data))))

  if (c.fault !== "none") {
    expect(Exit.isFailure(exit), `${c.fault} must fail`).toBe(true)
    if (Exit.isFailure(exit)) {
      const e = Cause.squash(exit.cause) as { _tag?: string; message?: string }
      expect(e._tag, `${c.kind} with fault ${c.fault}: ${e.message}`).toBe(expectedTag[c.fault])
      if (e._tag !== "MyError") expect(e.message, "the message names the transform").toMatch(/\S/)
    }
    // never half-written: every Variable as it was
    after.forEach((a, j) => expect([...a], `Variable ${j} unchanged after a failure`).toEqual([...before[j]!]))
    return
  }
  if (Exit.isFailure(exit)) expect.fail(`${c.kind} should succeed: ${Cause.pretty(exit.cause)}`)
  const point: Point = {
    args: await Promise.all(args.map((a) => data(a))),
    vars: before.map((b) => Float64Array.from(b))
  }
  if (Exit.isSuccess(exit)) await checkSuccess(c, exit.value, point)
  // writes: committed all together, each the value the program wrote (primal, at the entry values)
  const env = envOf(c, point)
  const written = new Map(c.writes.map((w) => [w.j, w.e]))
  for (let j = 0; j < vars.length; j++) {
    const e = written.get(j)
    if (e === undefined) expect([...after[j]!], `Variable ${j} not written`).toEqual([...before[j]!])
    else expectClose(after[j]!, await data(build(e, env)), tolerance(c), `Variable ${j} written`)
  }
}

describe("fuzz: random programs through every transform", () => {
  it(`${RUNS} cases end in checked gradients or in the planted fault's typed error`, async () => {
    const seen = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        seen.set(`${c.fault}`, (seen.get(`${c.fault}`) ?? 0) + 1)
        seen.set(`kind ${c.kind}`, (seen.get(`kind ${c.kind}`) ?? 0) + 1)
        await runCase(c)
      }),
      { seed: 20260526, numRuns: RUNS, endOnFailure: true }
    )
    // the generator reaches every kind and every fault
    for (const k of ["grad", "valueAndGrad", "vectorGrad", "jacrev", "jacfwd", "hessian", "jvp", "vjp"]) expect(seen.get(`kind ${k}`) ?? 0, k).toBeGreaterThan(20)
    for (const f of ["none", ...Object.keys(expectedTag)]) expect(seen.get(f) ?? 0, f).toBeGreaterThan(10)
    if (process.env.FUZZ_STATS) console.log(Object.fromEntries([...seen.entries()].sort()), checks)
  })
})
