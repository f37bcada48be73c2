/**
 * Control flow against PyTorch: every case of test/fixtures/torch_control.json
 * (written by test/fixtures/generate_torch_control.py, float64, the loops
 * written out in Python) is recomputed in float64 by diffect with `scan`,
 * `fori` and `cond` from the same inputs, and compared element by element:
 * |got − torch| ≤ 1e-9·|torch| + 1e-12·max|torch of that output|.
 *
 * The values, the gradients (reverse mode through the loop: BPTT), the
 * hessians (forward over reverse through the loop) and the jvps (forward
 * mode) of each case. The rate network is also run with its weights and its
 * state in Variables (`gradVars`), as a brainpy model keeps them.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Tensor, Variable } from "@diffect/core"
import { checkpoint, cond, fori, grad, hessian, jit, jvp, scan, valueAndGrad } from "@diffect/transforms"

interface JsonArray {
  readonly shape: ReadonlyArray<number>
  readonly data: ReadonlyArray<number>
}
interface Case {
  readonly name: string
  readonly inputs: Readonly<Record<string, JsonArray>>
  readonly consts: Readonly<Record<string, JsonArray | number>>
  readonly tangents: Readonly<Record<string, JsonArray>> | null
  readonly outputs: Readonly<Record<string, JsonArray>>
}
const fixture = JSON.parse(readFileSync(fileURLToPath(new URL("../fixtures/torch_control.json", import.meta.url)), "utf8")) as { readonly cases: ReadonlyArray<Case> }

type T = Tensor.Tensor
const f64 = (a: JsonArray): T => Tensor.make(Float64Array.from(a.data), { shape: a.shape, dtype: "float64" })
const caseOf = (name: string): Case => {
  const c = fixture.cases.find((c) => c.name === name)
  if (!c) throw new Error(`torch_control.json has no case ${name}: regenerate it with /usr/bin/python3 test/fixtures/generate_torch_control.py`)
  return c
}
const input = (c: Case, k: string) => f64(c.inputs[k]!)
const constant = (c: Case, k: string): T => {
  const v = c.consts[k]!
  return typeof v === "number" ? Tensor.make(v, { dtype: "float64" }) : f64(v)
}
const num = (c: Case, k: string) => c.consts[k] as number

const expectClose = (got: T, want: JsonArray, what: string) =>
  Effect.gen(function* () {
    expect([...got.shape], `${what}: shape`).toEqual([...want.shape])
    expect(got.dtype, `${what}: dtype`).toBe("float64")
    const g = yield* Tensor.data(got)
    const scale = Math.max(1e-300, ...want.data.map(Math.abs))
    for (let i = 0; i < want.data.length; i++) {
      const w = want.data[i]!
      if (!(Math.abs(g[i]! - w) <= 1e-9 * Math.abs(w) + 1e-12 * scale)) expect.fail(`${what}[${i}]: got ${g[i]}, torch ${w}`)
    }
  })

/** Checks the value, every gradient, the named hessians and the jvp of a case's loss f(...inputs in order). */
const checkCase = (c: Case, f: (...xs: T[]) => Effect.Effect<T, unknown>, order: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const xs = order.map((k) => input(c, k))
    const [value, grads] = yield* valueAndGrad(f, { argnums: order.map((_, i) => i) })(...xs)
    yield* expectClose(value, c.outputs["value"]!, `${c.name} value`)
    for (let i = 0; i < order.length; i++) yield* expectClose((grads as T[])[i]!, c.outputs[`grad_${order[i]}`]!, `${c.name} grad ${order[i]}`)
    for (let i = 0; i < order.length; i++) {
      const want = c.outputs[`hessian_${order[i]}`]
      if (!want) continue
      const h = yield* hessian(f, { argnums: i })(...xs)
      const n = xs[i]!.size
      yield* expectClose(Tensor.reshape(h as T, [n, n]), { shape: [n, n], data: want.data }, `${c.name} hessian ${order[i]}`)
    }
    if (c.tangents) {
      const [, t] = yield* jvp(f, xs, order.map((k) => f64(c.tangents![k]!)))
      yield* expectClose(t as T, c.outputs["jvp"]!, `${c.name} jvp`)
    }
  })

const run = <A>(e: Effect.Effect<A, unknown>) => Effect.runPromise(e as Effect.Effect<A>)

// ------------------------------------------------------------------ the cases

type Step = (x: T) => readonly [T, null]

/** x ← x + dt (tanh(W x) − x), T steps, with scan over no xs; `wrap` may be `checkpoint`. */
const rateFinal =
  (c: Case, wrap: (f: Step) => Step = (f) => f) =>
  (W: T, x0: T) =>
    Effect.map(
      scan(wrap((x) => [Tensor.add(x, Tensor.mul(Tensor.sub(Tensor.tanh(Tensor.matmul(W, x)), x), num(c, "dt"))), null] as const), x0, null, { length: num(c, "T") }),
      ([xT]) => Tensor.mean(Tensor.square(xT))
    )

describe("control flow against PyTorch (float64)", () => {
  it("rate network: the gradient through 60 steps (BPTT) with respect to W and x0, and a jvp", () => {
    const c = caseOf("rate_final")
    return run(checkCase(c, rateFinal(c), ["W", "x0"]))
  })

  it("rate network under checkpoint: the same numbers, the residuals recomputed", () => {
    const c = caseOf("rate_final")
    return run(checkCase(c, rateFinal(c, checkpoint), ["W", "x0"]))
  })

  it("rate network, jitted: the same gradient", () => {
    const c = caseOf("rate_final")
    return run(
      Effect.gen(function* () {
        const g = jit(grad(rateFinal(c), { argnums: [0, 1] }))
        for (let k = 0; k < 2; k++) {
          const [gW, gx] = (yield* g(input(c, "W"), input(c, "x0"))) as T[]
          yield* expectClose(gW!, c.outputs["grad_W"]!, "jit grad W")
          yield* expectClose(gx!, c.outputs["grad_x0"]!, "jit grad x0")
        }
      })
    )
  })

  it("rate network with W and the state in Variables: gradVars through the loop, the last state committed", () => {
    const c = caseOf("rate_final")
    return run(
      Effect.gen(function* () {
        const W = yield* Variable.make(input(c, "W"))
        const x = yield* Variable.make(input(c, "x0"))
        const step = () =>
          Effect.gen(function* () {
            const [w, s] = [yield* Variable.get(W), yield* Variable.get(x)]
            yield* Variable.set(x, Tensor.add(s, Tensor.mul(Tensor.sub(Tensor.tanh(Tensor.matmul(w, s)), s), num(c, "dt"))))
            return [null, null] as const
          })
        const loss = () =>
          Effect.gen(function* () {
            yield* scan(step, null, null, { length: num(c, "T") })
            return Tensor.mean(Tensor.square(yield* Variable.get(x)))
          })
        const [gW, value] = yield* grad(loss, { gradVars: W, returnValue: true })()
        yield* expectClose(value, c.outputs["value"]!, "value")
        yield* expectClose(gW, c.outputs["grad_W"]!, "grad W")
        // the state after the call is x_T (committed), W is unchanged
        const xT = yield* Variable.get(x)
        expect(yield* Tensor.item(Tensor.mean(Tensor.square(xT)))).toBeCloseTo(c.outputs["value"]!.data[0]!, 12)
        yield* expectClose(yield* Variable.get(W), c.inputs["W"]!, "W after the call")
      })
    )
  })

  it("rate network with a readout at every step: xs (the target) in, ys (the squared errors) out", () => {
    const c = caseOf("rate_readout")
    const f = (W: T, wout: T) =>
      Effect.map(
        scan(
          (x: T, tgt: T) => {
            const next = Tensor.add(x, Tensor.mul(Tensor.sub(Tensor.tanh(Tensor.matmul(W, x)), x), num(c, "dt")))
            return [next, Tensor.square(Tensor.sub(Tensor.sum(Tensor.mul(wout, next)), tgt))] as const
          },
          constant(c, "x0"),
          constant(c, "target")
        ),
        ([, ys]) => Tensor.mean(ys as T)
      )
    return run(checkCase(c, f, ["W", "wout"]))
  })

  it("a short scan with inputs: gradient, jvp, and the hessians with respect to a parameter and the initial carry", () => {
    const c = caseOf("scan_sin")
    const A = constant(c, "A")
    const f = (p: T, c0: T) =>
      Effect.map(
        scan((s: T, x: T) => {
          const next = Tensor.add(s, Tensor.mul(Tensor.sin(Tensor.add(Tensor.matmul(A, Tensor.mul(p, s)), x)), 0.2))
          return [next, Tensor.sum(Tensor.cos(next))] as const
        }, c0, constant(c, "xs")),
        ([cT, ys]) => Tensor.add(Tensor.sum(Tensor.square(cT as T)), Tensor.sum(ys as T))
      )
    return run(checkCase(c, f, ["p", "c0"]))
  })

  it("scan in reverse: xs visited last to first, ys in the order of xs; gradient and hessian", () => {
    const c = caseOf("scan_reverse")
    const w = constant(c, "w")
    const f = (p: T, c0: T) =>
      Effect.map(
        scan((s: T, x: T) => {
          const next = Tensor.tanh(Tensor.add(Tensor.mul(s, x), p))
          return [next, next] as const
        }, c0, constant(c, "xs"), { reverse: true }),
        ([cT, ys]) => Tensor.add(Tensor.sum(Tensor.mul(ys as T, w)), Tensor.sum(cT as T))
      )
    return run(checkCase(c, f, ["p", "c0"]))
  })

  it("fori with the counter in the body: gradient, jvp and hessian", () => {
    const c = caseOf("fori_counter")
    const f = (p: T, c0: T) =>
      Effect.map(
        fori(0, 6, (i: T, s: T) => Tensor.add(Tensor.mul(s, Tensor.cos(p)), Tensor.mul(Tensor.mul(Tensor.cast(i, "float64"), 0.1), Tensor.sin(s))), c0),
        (cT) => Tensor.sum(Tensor.square(cT as T))
      )
    return run(checkCase(c, f, ["p", "c0"]))
  })

  it("cond inside scan, the predicate read from the carry: gradient and hessian along the branches taken", () => {
    const c = caseOf("scan_cond")
    const f = (p: T, c0: T) =>
      Effect.map(
        scan(
          (s: T) =>
            Effect.map(
              cond(Tensor.greater(Tensor.sum(s), 0), (s: T) => Tensor.mul(s, p), (s: T) => Tensor.add(Tensor.sin(s), p), s),
              (next) => [next as T, null] as const
            ),
          c0,
          null,
          { length: 7 }
        ),
        ([cT]) => Tensor.sum(Tensor.mul(Tensor.square(cT as T), cT as T))
      )
    return run(checkCase(c, f, ["p", "c0"]))
  })
})
