/**
 * Properties (fast-check):
 * (a) the gradient w.r.t. `gradVars` equals the gradient w.r.t. the same
 *     values passed as arguments, for random small programs (random
 *     compositions of a few ops over random small shapes), with a random
 *     split of the inputs between Variables and arguments (grad), and for
 *     jacrev, jacfwd, hessian and vectorGrad;
 * (b) with failures injected at random points (a typed failure, a defect, a
 *     thrown exception, a bad write, or an interruption after k writes), no
 *     Variable is ever half-written: after a failed call every Variable holds
 *     exactly its old value, after a successful one exactly its new value.
 */
import { Data, Deferred, Effect, Exit, Fiber } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Tensor, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacrev, valueAndGrad, vectorGrad } from "@diffect/transforms"
import { expectNear, numbers, run } from "./helpers.js"

// ------------------------------------------------------------------ (a) random programs

type Unary = "tanh" | "sin" | "cos" | "square" | "sigmoid" | "neg" | "scale" | "sumAll" | "meanLast"
type Binary = "add" | "sub" | "mul"
type Instr = { readonly op: Unary; readonly a: number } | { readonly op: Binary; readonly a: number; readonly b: number }

interface Program {
  readonly shape: ReadonlyArray<number>
  /** input values, row-major, each of `shape` (or a scalar when `scalar[i]`) */
  readonly inputs: ReadonlyArray<{ readonly scalar: boolean; readonly data: ReadonlyArray<number> }>
  readonly body: ReadonlyArray<Instr>
  /** which inputs are Variables in gradVars (the others are arguments) */
  readonly asVar: ReadonlyArray<boolean>
}

const unaries: ReadonlyArray<Unary> = ["tanh", "sin", "cos", "square", "sigmoid", "neg", "scale", "sumAll", "meanLast"]
const binaries: ReadonlyArray<Binary> = ["add", "sub", "mul"]

const arbProgram: fc.Arbitrary<Program> = fc
  .record({
    shape: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
    nInputs: fc.integer({ min: 1, max: 3 }),
    nInstr: fc.integer({ min: 1, max: 6 })
  })
  .chain(({ shape, nInputs, nInstr }) => {
    const size = shape.reduce((a, b) => a * b, 1)
    const input = fc.boolean().chain((scalar) =>
      fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: scalar ? 1 : size, maxLength: scalar ? 1 : size }).map((data) => ({ scalar, data }))
    )
    const instr = (i: number): fc.Arbitrary<Instr> =>
      fc.oneof(
        fc.record({ op: fc.constantFrom(...unaries), a: fc.integer({ min: 0, max: nInputs + i - 1 }) }),
        fc.record({ op: fc.constantFrom(...binaries), a: fc.integer({ min: 0, max: nInputs + i - 1 }), b: fc.integer({ min: 0, max: nInputs + i - 1 }) })
      )
    return fc.record({
      shape: fc.constant(shape),
      inputs: fc.array(input, { minLength: nInputs, maxLength: nInputs }),
      body: fc.tuple(...Array.from({ length: nInstr }, (_, i) => instr(i))),
      asVar: fc.array(fc.boolean(), { minLength: nInputs, maxLength: nInputs })
    })
  })

/** Runs the program; `input(i)` gives input i (an argument, or a fresh Variable read each time it is used). */
const interpret = <E>(p: Program, input: (i: number) => Effect.Effect<Tensor.Tensor, E>): Effect.Effect<Tensor.Tensor, E> =>
  Effect.gen(function* () {
    const regs: Array<Tensor.Tensor | undefined> = p.inputs.map(() => undefined)
    const get = (r: number): Effect.Effect<Tensor.Tensor, E> => (r < p.inputs.length ? input(r) : Effect.succeed(regs[r]!))
    for (const ins of p.body) {
      const a = yield* get(ins.a)
      let out: Tensor.Tensor
      switch (ins.op) {
        case "add":
          out = Tensor.add(a, yield* get(ins.b))
          break
        case "sub":
          out = Tensor.sub(a, yield* get(ins.b))
          break
        case "mul":
          out = Tensor.mul(a, yield* get(ins.b))
          break
        case "scale":
          out = Tensor.mul(a, 0.75)
          break
        case "sumAll":
          out = Tensor.sum(a)
          break
        case "meanLast":
          out = a.ndim === 0 ? a : Tensor.mean(a, { axis: -1, keepdims: true })
          break
        default:
          out = Tensor[ins.op](a)
      }
      regs.push(out)
    }
    return regs[regs.length - 1]!
  })

const tensorOf = (p: Program, i: number): Tensor.Tensor => {
  const x = p.inputs[i]!
  return x.scalar ? Tensor.make(x.data[0]!, { dtype: "float64" }) : Tensor.make(Float64Array.from(x.data), { shape: p.shape, dtype: "float64" })
}

describe("(a) gradVars gradients equal argument gradients", () => {
  it("grad: random programs, random split between Variables and arguments", async () => {
    await fc.assert(
      fc.asyncProperty(arbProgram, async (p) => {
        const n = p.inputs.length
        // reference: every input an argument
        const fArgs = (...xs: Tensor.Tensor[]) => Effect.map(interpret(p, (i) => Effect.succeed(xs[i]!)), (o) => Tensor.sum(o))
        const all = Array.from({ length: n }, (_, i) => i)
        const ref = (await numbers(await run(grad(fArgs, { argnums: all })(...all.map((i) => tensorOf(p, i)))))) as unknown[]
        // the same values, some held in Variables (read each time they are used)
        const vars = await run(Effect.forEach(all, (i) => Variable.make(tensorOf(p, i), { name: `in${i}` })))
        const varIdx = all.filter((i) => p.asVar[i])
        const argIdx = all.filter((i) => !p.asVar[i])
        const fMixed = (...xs: Tensor.Tensor[]) =>
          Effect.map(
            interpret(p, (i) => (p.asVar[i] ? Variable.get(vars[i]!) : Effect.succeed(xs[argIdx.indexOf(i)]!))),
            (o) => Tensor.sum(o)
          )
        const res = (await numbers(
          await run(grad(fMixed, { gradVars: varIdx.map((i) => vars[i]!), argnums: argIdx.map((_, j) => j) })(...argIdx.map((i) => tensorOf(p, i))))
        )) as [unknown[], unknown[]]
        expect(res[0].length).toBe(varIdx.length)
        expect(res[1].length).toBe(argIdx.length)
        varIdx.forEach((i, j) => expectNear(res[0][j], ref[i], 1e-12, `var ${i}`))
        argIdx.forEach((i, j) => expectNear(res[1][j], ref[i], 1e-12, `arg ${i}`))
        // and only gradVars as a record
        const rec = Object.fromEntries(all.map((i) => [`in${i}`, vars[i]!]))
        const fVars = () => Effect.map(interpret(p, (i) => Variable.get(vars[i]!)), (o) => Tensor.sum(o))
        const byRecord = (await numbers(await run(grad(fVars, { gradVars: rec })()))) as Record<string, unknown>
        expect(Object.keys(byRecord).sort()).toEqual(Object.keys(rec).sort())
        all.forEach((i) => expectNear(byRecord[`in${i}`], ref[i], 1e-12, `record in${i}`))
      }),
      { numRuns: 60 }
    )
  })

  it("jacrev and jacfwd: random programs with the output broadcast to the input shape", async () => {
    await fc.assert(
      fc.asyncProperty(arbProgram, fc.constantFrom("jacrev", "jacfwd"), async (p, mode) => {
        const t = (mode === "jacrev" ? jacrev : jacfwd) as unknown as (f: unknown, o: unknown) => (...a: unknown[]) => Effect.Effect<unknown>
        const n = p.inputs.length
        const all = Array.from({ length: n }, (_, i) => i)
        const full = (o: Tensor.Tensor) => Tensor.add(o, Tensor.zeros(p.shape, { dtype: "float64" }))
        const fArgs = (...xs: Tensor.Tensor[]) => Effect.map(interpret(p, (i) => Effect.succeed(xs[i]!)), full)
        const ref = (await numbers(await run(t(fArgs, { argnums: all })(...all.map((i) => tensorOf(p, i)))))) as unknown[]
        const vars = await run(Effect.forEach(all, (i) => Variable.make(tensorOf(p, i))))
        const fVars = () => Effect.map(interpret(p, (i) => Variable.get(vars[i]!)), full)
        const res = (await numbers(await run(t(fVars, { gradVars: vars })()))) as unknown[]
        all.forEach((i) => expectNear(res[i], ref[i], 1e-12, `${mode} ${i}`))
      }),
      { numRuns: 30 }
    )
  })

  it("hessian and vectorGrad: random programs, every input a Variable vs every input an argument", async () => {
    await fc.assert(
      fc.asyncProperty(arbProgram, fc.constantFrom("hessian", "vectorGrad"), async (p, mode) => {
        const t = (mode === "hessian" ? hessian : vectorGrad) as unknown as (f: unknown, o: unknown) => (...a: unknown[]) => Effect.Effect<unknown>
        const out = (o: Tensor.Tensor) => (mode === "hessian" ? Tensor.sum(o) : o)
        const all = Array.from({ length: p.inputs.length }, (_, i) => i)
        const fArgs = (...xs: Tensor.Tensor[]) => Effect.map(interpret(p, (i) => Effect.succeed(xs[i]!)), out)
        const ref = (await numbers(await run(t(fArgs, { argnums: all })(...all.map((i) => tensorOf(p, i)))))) as unknown[]
        const vars = await run(Effect.forEach(all, (i) => Variable.make(tensorOf(p, i))))
        const fVars = () => Effect.map(interpret(p, (i) => Variable.get(vars[i]!)), out)
        const res = (await numbers(await run(t(fVars, { gradVars: vars })()))) as unknown[]
        expectNear(res, ref, 1e-12, mode)
      }),
      { numRuns: 30 }
    )
  })
})

// ------------------------------------------------------------------ (b) injected failures

class Injected extends Data.TaggedError("Injected")<{ readonly k: number }> {}

type Failure = "fail" | "die" | "throw" | "badWrite" | "interrupt" | "none"
type Transform = "grad" | "valueAndGrad" | "vectorGrad" | "jacrev" | "jacfwd" | "hessian"

interface Scenario {
  /** the writes, in order: which variable, and the value to add to every leaf */
  readonly writes: ReadonlyArray<{ readonly v: number; readonly add: number }>
  /** inject the failure after this many writes (0..writes.length) */
  readonly at: number
  readonly failure: Failure
  readonly transform: Transform
  /** 0: called directly; 1: inside an outer grad (which then succeeds) */
  readonly nested: 0 | 1
}

const nVars = 4
const arbScenario: fc.Arbitrary<Scenario> = fc
  .array(fc.record({ v: fc.integer({ min: 0, max: nVars - 1 }), add: fc.integer({ min: 1, max: 9 }) }), { minLength: 1, maxLength: 8 })
  .chain((writes) =>
    fc.record({
      writes: fc.constant(writes),
      at: fc.integer({ min: 0, max: writes.length }),
      failure: fc.constantFrom<Failure>("fail", "die", "throw", "badWrite", "interrupt", "none"),
      transform: fc.constantFrom<Transform>("grad", "valueAndGrad", "vectorGrad", "jacrev", "jacfwd", "hessian"),
      nested: fc.constantFrom<0 | 1>(0, 1)
    })
  )

const transforms = { grad, valueAndGrad, vectorGrad, jacrev, jacfwd, hessian } as unknown as Record<Transform, (f: unknown, o: unknown) => (...a: unknown[]) => Effect.Effect<unknown, unknown>>

/** Variables of several kinds: a tensor, a record, an array with a nested record, an int32 scalar. */
const makeVars = Effect.all([
  Variable.make(Tensor.make([1, 2, 3], { dtype: "float64" })),
  Variable.make({ w: Tensor.make([[1, 2], [3, 4]], { dtype: "float64" }), b: Tensor.make([0.5], { dtype: "float64" }) }),
  Variable.make([Tensor.make(1, { dtype: "float64" }), { c: Tensor.make([7, 8], { dtype: "float64" }) }]),
  Variable.make(Tensor.make(0, { dtype: "int32" }))
]) as unknown as Effect.Effect<ReadonlyArray<Variable.Variable<unknown>>, unknown>

const addToLeaves = (tree: unknown, k: number): unknown =>
  tree instanceof Tensor.Tensor ? Tensor.add(tree, k) : Array.isArray(tree) ? tree.map((x) => addToLeaves(x, k)) : Object.fromEntries(Object.entries(tree as object).map(([key, x]) => [key, addToLeaves(x, k)]))

describe("(b) no Variable is ever half-written", () => {
  it("failures injected after k writes commit nothing; success commits everything", async () => {
    await fc.assert(
      fc.asyncProperty(arbScenario, async (s) => {
        const vars = await run(makeVars)
        const before = await Promise.all(vars.map((v) => numbers(v.current)))
        const w0 = vars[0] as Variable.Variable<Tensor.Tensor>
        const reached = await run(Deferred.make<void>())
        const inject: Effect.Effect<void, Injected | unknown> =
          s.failure === "fail"
            ? Effect.fail(new Injected({ k: s.at }))
            : s.failure === "die"
              ? Effect.die(new Injected({ k: s.at }))
              : s.failure === "throw"
                ? Effect.sync(() => {
                    throw new Error(`thrown after ${s.at} writes`)
                  })
                : s.failure === "badWrite"
                  ? Variable.set(vars[1]!, { w: Tensor.zeros([2, 2], { dtype: "float64" }) } as never)
                  : s.failure === "interrupt"
                    ? Effect.andThen(Deferred.succeed(reached, undefined), Effect.never)
                    : Effect.void
        const f = (x: Tensor.Tensor) =>
          Effect.gen(function* () {
            for (let i = 0; i < s.writes.length; i++) {
              if (i === s.at) yield* inject
              const { v, add } = s.writes[i]!
              yield* Variable.update(vars[v]!, (x) => addToLeaves(x, add))
            }
            if (s.at === s.writes.length) yield* inject
            return Tensor.sum(Tensor.mul(Tensor.square(yield* Variable.get(w0)), x))
          })
        const call = transforms[s.transform](f, { gradVars: w0, argnums: 0 })
        const whole =
          s.nested === 0
            ? call(Tensor.make([1, 1, 1], { dtype: "float64" }))
            : grad((x: Tensor.Tensor) => Effect.as(call(x), Tensor.sum(x)))(Tensor.make([1, 1, 1], { dtype: "float64" }))
        const exit = await run(
          Effect.gen(function* () {
            const fiber = yield* Effect.forkChild(whole)
            if (s.failure === "interrupt") {
              yield* Deferred.await(reached)
              yield* Fiber.interrupt(fiber)
            }
            return yield* Fiber.await(fiber)
          })
        )
        const after = await Promise.all(vars.map((v) => numbers(v.current)))
        if (s.failure === "none") {
          expect(Exit.isSuccess(exit)).toBe(true)
          // everything written, as applied in order
          const expected = await run(
            Effect.gen(function* () {
              const fresh = yield* makeVars
              for (const { v, add } of s.writes) yield* Variable.update(fresh[v]!, (x) => addToLeaves(x, add))
              return fresh
            })
          )
          expect(after).toEqual(await Promise.all(expected.map((v) => numbers(v.current))))
        } else {
          expect(Exit.isFailure(exit)).toBe(true)
          expect(after).toEqual(before)
        }
      }),
      { numRuns: 80 }
    )
  })
})
