/**
 * Type-level tests: the result type of grad / valueAndGrad / vectorGrad /
 * jacrev / jacfwd / hessian follows the options, row by row of SPEC.md's
 * table (gradVars × argnums × hasAux × returnValue), with no `any`; the
 * curried form has the same types; the user's error type passes through.
 */
import { Effect } from "effect"
import { describe, expectTypeOf, it } from "vitest"
import type { DiffectError, Tensor, Variable } from "@diffect/core"
import { grad, hessian, jacfwd, jacobian, jacrev, jvp, valueAndGrad, vectorGrad, vjp, vmap } from "@diffect/transforms"
import type { CheckGradsOptions, GradCheckError } from "@diffect/transforms/testing"
import { arbitraries, checkGrads } from "@diffect/transforms/testing"

type T = Tensor.Tensor
/** The success type of an Effect. */
type Ok<X> = X extends Effect.Effect<infer A, infer _E, infer _R> ? A : never
/** The error type of an Effect. */
type Err<X> = X extends Effect.Effect<infer _A, infer E, infer _R> ? E : never

declare const x: T
declare const y: T
declare const w: Variable.Variable<T>
declare const b: Variable.Variable<T>
declare const tree: Variable.Variable<{ a: T; c: ReadonlyArray<T> }>

const f = (a: T, c: T): T => a
const fAux = (a: T, c: T) => [a, { n: c }] as const
type Aux = { readonly n: T }

describe("grad: SPEC.md's table", () => {
  it("gradVars none: argGrads, [argGrads, aux], [argGrads, value], [argGrads, value, aux]", () => {
    expectTypeOf<Ok<ReturnType<ReturnType<typeof grad<[T, T], T, never, never>>>>>().toEqualTypeOf<T>()
    const r0 = grad(f)(x, y)
    expectTypeOf<Ok<typeof r0>>().toEqualTypeOf<T>()
    expectTypeOf<Ok<typeof r0>>().not.toBeAny()
    expectTypeOf<Ok<ReturnType<ReturnType<typeof grad<[T, T], T, never, never, { argnums: 1 }>>>>>().toEqualTypeOf<T>()
    const r1 = grad(f, { argnums: 1 })(x, y)
    expectTypeOf<Ok<typeof r1>>().toEqualTypeOf<T>()
    const r2 = grad(f, { argnums: [0, 1] })(x, y)
    expectTypeOf<Ok<typeof r2>>().toEqualTypeOf<[T, T]>()
    const r3 = grad(f, { argnums: [1] })(x, y)
    expectTypeOf<Ok<typeof r3>>().toEqualTypeOf<[T]>()
    const r4 = grad(fAux, { hasAux: true })(x, y)
    expectTypeOf<Ok<typeof r4>>().toEqualTypeOf<[T, Aux]>()
    const r5 = grad(f, { returnValue: true })(x, y)
    expectTypeOf<Ok<typeof r5>>().toEqualTypeOf<[T, T]>()
    const r6 = grad(fAux, { hasAux: true, returnValue: true, argnums: [0, 1] })(x, y)
    expectTypeOf<Ok<typeof r6>>().toEqualTypeOf<[[T, T], T, Aux]>()
    const r7 = grad(f, { hasAux: false, returnValue: false })(x, y)
    expectTypeOf<Ok<typeof r7>>().toEqualTypeOf<T>()
  })

  it("gradVars given, argnums none: varGrads mirrors gradVars (one, array, record, pytree Variable)", () => {
    const g1 = grad(f, { gradVars: w })(x, y)
    expectTypeOf<Ok<typeof g1>>().toEqualTypeOf<T>()
    const g2 = grad(f, { gradVars: [w, b] })(x, y)
    expectTypeOf<Ok<typeof g2>>().toEqualTypeOf<[T, T]>()
    const g3 = grad(f, { gradVars: { w, b } })(x, y)
    expectTypeOf<Ok<typeof g3>>().toEqualTypeOf<{ w: T; b: T }>()
    const g4 = grad(f, { gradVars: tree })(x, y)
    expectTypeOf<Ok<typeof g4>>().toEqualTypeOf<{ a: T; c: T[] }>()
    const g5 = grad(fAux, { gradVars: [w], hasAux: true })(x, y)
    expectTypeOf<Ok<typeof g5>>().toEqualTypeOf<[[T], Aux]>()
    const g6 = grad(f, { gradVars: { w }, returnValue: true })(x, y)
    expectTypeOf<Ok<typeof g6>>().toEqualTypeOf<[{ w: T }, T]>()
    const g7 = grad(fAux, { gradVars: w, hasAux: true, returnValue: true })(x, y)
    expectTypeOf<Ok<typeof g7>>().toEqualTypeOf<[T, T, Aux]>()
  })

  it("gradVars and argnums given: [varGrads, argGrads], nested under value and aux", () => {
    const h1 = grad(f, { gradVars: w, argnums: 0 })(x, y)
    expectTypeOf<Ok<typeof h1>>().toEqualTypeOf<[T, T]>()
    const h2 = grad(f, { gradVars: { w, b }, argnums: [0, 1] })(x, y)
    expectTypeOf<Ok<typeof h2>>().toEqualTypeOf<[{ w: T; b: T }, [T, T]]>()
    const h3 = grad(fAux, { gradVars: [w], argnums: 1, hasAux: true })(x, y)
    expectTypeOf<Ok<typeof h3>>().toEqualTypeOf<[[[T], T], Aux]>()
    const h4 = grad(f, { gradVars: w, argnums: [0], returnValue: true })(x, y)
    expectTypeOf<Ok<typeof h4>>().toEqualTypeOf<[[T, [T]], T]>()
    const h5 = grad(fAux, { gradVars: w, argnums: 0, hasAux: true, returnValue: true })(x, y)
    expectTypeOf<Ok<typeof h5>>().toEqualTypeOf<[[T, T], T, Aux]>()
  })

  it("pytree and number arguments: gradients take the argument's structure; a number's is a Tensor", () => {
    const fp = (p: { w: T; bs: ReadonlyArray<T> }, k: number) => Tensor_sum(p.w, k)
    const p1 = grad(fp)({ w: x, bs: [y] }, 2)
    expectTypeOf<Ok<typeof p1>>().toEqualTypeOf<{ w: T; bs: T[] }>()
    const p2 = grad(fp, { argnums: [0, 1] })({ w: x, bs: [y] }, 2)
    expectTypeOf<Ok<typeof p2>>().toEqualTypeOf<[{ w: T; bs: T[] }, T]>()
  })

  it("the curried form grad(options)(f) has the same types", () => {
    const c1 = grad({ argnums: [0, 1] })(f)(x, y)
    expectTypeOf<Ok<typeof c1>>().toEqualTypeOf<[T, T]>()
    const c2 = grad({ gradVars: w, argnums: 1, returnValue: true })(f)(x, y)
    expectTypeOf<Ok<typeof c2>>().toEqualTypeOf<[[T, T], T]>()
    const c3 = grad({ hasAux: true })(fAux)(x, y)
    expectTypeOf<Ok<typeof c3>>().toEqualTypeOf<[T, Aux]>()
  })

  it("errors: DiffectError plus the user's own; requirements pass through", () => {
    class Mine {
      readonly _tag = "Mine"
    }
    const fe = (a: T): Effect.Effect<T, Mine> => Effect.succeed(a)
    const e = grad(fe)(x)
    expectTypeOf<Err<typeof e>>().toEqualTypeOf<Mine | DiffectError>()
    const plain = grad(f)(x, y)
    expectTypeOf<Err<typeof plain>>().toEqualTypeOf<DiffectError>()
    expectTypeOf(plain).toEqualTypeOf<Effect.Effect<T, DiffectError, never>>()
  })
})

describe("valueAndGrad: [value, G] and [[value, aux], G]", () => {
  it("follows the options", () => {
    const v1 = valueAndGrad(f)(x, y)
    expectTypeOf<Ok<typeof v1>>().toEqualTypeOf<[T, T]>()
    const v2 = valueAndGrad(f, { argnums: [0, 1] })(x, y)
    expectTypeOf<Ok<typeof v2>>().toEqualTypeOf<[T, [T, T]]>()
    const v3 = valueAndGrad(fAux, { hasAux: true })(x, y)
    expectTypeOf<Ok<typeof v3>>().toEqualTypeOf<[[T, Aux], T]>()
    const v4 = valueAndGrad(f, { gradVars: [w, b] })(x, y)
    expectTypeOf<Ok<typeof v4>>().toEqualTypeOf<[T, [T, T]]>()
    const v5 = valueAndGrad(fAux, { gradVars: { w }, argnums: 0, hasAux: true })(x, y)
    expectTypeOf<Ok<typeof v5>>().toEqualTypeOf<[[T, Aux], [{ w: T }, T]]>()
    const v6 = valueAndGrad({ argnums: 1 })(f)(x, y)
    expectTypeOf<Ok<typeof v6>>().toEqualTypeOf<[T, T]>()
    expectTypeOf<Ok<typeof v6>>().not.toBeAny()
  })
})

describe("jacrev / jacobian / jacfwd / vectorGrad: the same table; pytree outputs give out(in)", () => {
  it("tensor outputs", () => {
    for (const jac of [jacrev, jacfwd, jacobian] as const) {
      const j1 = jac(f)(x, y)
      expectTypeOf<Ok<typeof j1>>().toEqualTypeOf<T>()
      const j2 = jac(f, { argnums: [0, 1] })(x, y)
      expectTypeOf<Ok<typeof j2>>().toEqualTypeOf<[T, T]>()
      const j3 = jac(fAux, { hasAux: true, returnValue: true })(x, y)
      expectTypeOf<Ok<typeof j3>>().toEqualTypeOf<[T, T, Aux]>()
      const j4 = jac(f, { gradVars: { w }, argnums: 1 })(x, y)
      expectTypeOf<Ok<typeof j4>>().toEqualTypeOf<[{ w: T }, T]>()
      const j5 = jac(fAux, { gradVars: [w, b], hasAux: true })(x, y)
      expectTypeOf<Ok<typeof j5>>().toEqualTypeOf<[[T, T], Aux]>()
      const j6 = jac({ returnValue: true })(f)(x, y)
      expectTypeOf<Ok<typeof j6>>().toEqualTypeOf<[T, T]>()
    }
    const v = vectorGrad(f, { argnums: [1], returnValue: true })(x, y)
    expectTypeOf<Ok<typeof v>>().toEqualTypeOf<[[T], T]>()
  })

  it("pytree outputs: the output's structure with G at each leaf", () => {
    const fo = (a: T, c: T) => ({ s: a, v: [c, a] as const })
    const o1 = jacrev(fo)(x, y)
    expectTypeOf<Ok<typeof o1>>().toEqualTypeOf<{ s: T; v: [T, T] }>()
    const o2 = jacfwd(fo, { argnums: [0, 1] })(x, y)
    expectTypeOf<Ok<typeof o2>>().toEqualTypeOf<{ s: [T, T]; v: [[T, T], [T, T]] }>()
    const o3 = jacrev(fo, { returnValue: true })(x, y)
    expectTypeOf<Ok<typeof o3>>().toEqualTypeOf<[{ s: T; v: [T, T] }, { s: T; v: readonly [T, T] }]>()
  })
})

describe("hessian: the jacobian of the jacobian; no returnValue", () => {
  it("follows the options", () => {
    const H1 = hessian(f)(x, y)
    expectTypeOf<Ok<typeof H1>>().toEqualTypeOf<T>()
    const H2 = hessian(f, { argnums: [0, 1] })(x, y)
    expectTypeOf<Ok<typeof H2>>().toEqualTypeOf<[[T, T], [T, T]]>()
    const H3 = hessian(fAux, { hasAux: true })(x, y)
    expectTypeOf<Ok<typeof H3>>().toEqualTypeOf<[T, Aux]>()
    const H4 = hessian(f, { gradVars: w })(x, y)
    expectTypeOf<Ok<typeof H4>>().toEqualTypeOf<T>()
    const H5 = hessian(f, { gradVars: { w }, argnums: [0] })(x, y)
    expectTypeOf<Ok<typeof H5>>().toEqualTypeOf<[{ w: [{ w: T }, [T]] }, [[{ w: T }, [T]]]]>()
    const H6 = hessian((p: { a: T; c: T }) => p.a)({ a: x, c: y })
    expectTypeOf<Ok<typeof H6>>().toEqualTypeOf<{ a: { a: T; c: T }; c: { a: T; c: T } }>()
    const H7 = hessian({ argnums: 1, hasAux: true })(fAux)(x, y)
    expectTypeOf<Ok<typeof H7>>().toEqualTypeOf<[T, Aux]>()
    expectTypeOf<Ok<typeof H7>>().not.toBeAny()
    // returnValue is not an option of hessian
    // @ts-expect-error returnValue is not accepted by hessian
    hessian(f, { returnValue: true })
  })
})

describe("jvp, vjp, vmap and the testing kit", () => {
  it("have precise types", () => {
    const j = jvp(f, [x, y], [x, y])
    expectTypeOf<Ok<typeof j>>().toEqualTypeOf<[T, T]>()
    const [, pullback] = null as unknown as Ok<ReturnType<typeof vjp<[T, T], T, never, never>>>
    expectTypeOf<Ok<ReturnType<typeof pullback>>>().toEqualTypeOf<[T, T]>()
    // a number primal's gradient is a Tensor; pytree primals keep their structure
    const vn = vjp((a: T | number, p: { w: T }) => p.w, 3, { w: x })
    expectTypeOf<Ok<ReturnType<Ok<typeof vn>[1]>>>().toEqualTypeOf<[T, { w: T }]>()
    const m = vmap(f, { inAxes: [0, null] })(x, y)
    expectTypeOf<Ok<typeof m>>().toEqualTypeOf<T>()
    const c = checkGrads(f, [x, y], { order: 2 } satisfies CheckGradsOptions)
    expectTypeOf<Err<typeof c>>().toEqualTypeOf<GradCheckError | DiffectError>()
    expectTypeOf<Ok<typeof c>>().toEqualTypeOf<void>()
    expectTypeOf(arbitraries.tensor()).toHaveProperty("generate")
  })
})

declare function Tensor_sum(a: T, k: number): T
