/**
 * The result types of the transforms, computed from the options, so that
 * `grad(f, { gradVars: [w, b], argnums: 0, hasAux: true })` has a precise type.
 * @module
 */
import type * as Effect from "effect/Effect"
import type { DiffectError, Pytree, Tensor, Variable } from "@diffect/core"
import type { GradOptions, GradVarsSpec } from "./internal/options.js"

export type { GradOptions, GradVarsSpec }

/** The gradient type of an argument: its structure with Tensor leaves (a number argument's gradient is a scalar tensor). */
export type Gradient<T> = T extends number ? Tensor.Tensor : Pytree.MapLeaves<T, Tensor.Tensor>

/** Gradients mirroring `gradVars`: one, an array, or a record. */
export type VarGrads<V> =
  V extends Variable.Variable<infer A>
    ? Gradient<A>
    : V extends ReadonlyArray<any>
      ? { -readonly [K in keyof V]: V[K] extends Variable.Variable<infer A> ? Gradient<A> : never }
      : { -readonly [K in keyof V]: V[K] extends Variable.Variable<infer A> ? Gradient<A> : never }

/** Gradients of `argnums`: one for a number, an array for an array. */
export type ArgGrads<Args extends ReadonlyArray<unknown>, N> = N extends number
  ? Gradient<Args[N]>
  : N extends ReadonlyArray<number>
    ? { -readonly [K in keyof N]: N[K] extends number ? Gradient<Args[N[K]]> : never }
    : Gradient<Args[0]>

type HasKey<O, K extends string> = O extends { readonly [P in K]: infer V } ? ([V] extends [undefined] ? false : true) : false
type IsTrue<O, K extends string> = O extends { readonly [P in K]: true } ? true : false

/** G: `argGrads`, `varGrads`, or `[varGrads, argGrads]`, as in the README's table. */
export type Grads<Args extends ReadonlyArray<unknown>, O> =
  HasKey<O, "gradVars"> extends true
    ? HasKey<O, "argnums"> extends true
      ? [VarGrads<O extends { gradVars: infer V } ? V : never>, ArgGrads<Args, O extends { argnums: infer N } ? N : never>]
      : VarGrads<O extends { gradVars: infer V } ? V : never>
    : ArgGrads<Args, O extends { argnums: infer N } ? N : 0>

/** What `f` returns, split into output and aux by `hasAux`. */
export type OutOf<Ret, O> = IsTrue<O, "hasAux"> extends true ? (Ret extends readonly [infer Out, any] ? Out : never) : Ret
export type AuxOf<Ret, O> = IsTrue<O, "hasAux"> extends true ? (Ret extends readonly [any, infer A] ? A : never) : never

/** The return structure: G, [G, aux], [G, value] or [G, value, aux]. */
export type WithExtras<G, Ret, O> =
  IsTrue<O, "hasAux"> extends true
    ? IsTrue<O, "returnValue"> extends true
      ? [G, OutOf<Ret, O>, AuxOf<Ret, O>]
      : [G, AuxOf<Ret, O>]
    : IsTrue<O, "returnValue"> extends true
      ? [G, OutOf<Ret, O>]
      : G

/** The result of `grad` / `vectorGrad`. */
export type GradResult<Args extends ReadonlyArray<unknown>, Ret, O> = WithExtras<Grads<Args, O>, Ret, O>

/** Jacobians: for a tensor output, G; for a pytree output, the output's structure with G at each leaf. */
export type Jacobian<Args extends ReadonlyArray<unknown>, Out, O> = Out extends Tensor.Tensor ? Grads<Args, O> : Pytree.MapLeaves<Out, Grads<Args, O>>

/** The result of `jacrev` / `jacfwd` / `hessian`. */
export type JacobianResult<Args extends ReadonlyArray<unknown>, Ret, O> = WithExtras<Jacobian<Args, OutOf<Ret, O>, O>, Ret, O>

/**
 * The result of `hessian` (`jacfwd` of `jacrev`): the jacobian of the
 * jacobian, so for pytree arguments or an argnums array the gradient
 * structure nested in itself (`H[i][j]`, `H.w.b`), as JAX.
 */
export type HessianResult<Args extends ReadonlyArray<unknown>, Ret, O> = WithExtras<Jacobian<Args, Jacobian<Args, OutOf<Ret, O>, O>, O>, Ret, O>

/** The result of `valueAndGrad`: `[value, G]`, or `[[value, aux], G]` with hasAux. */
export type ValueAndGradResult<Args extends ReadonlyArray<unknown>, Ret, O> =
  IsTrue<O, "hasAux"> extends true ? [[OutOf<Ret, O>, AuxOf<Ret, O>], Grads<Args, O>] : [Ret, Grads<Args, O>]

/** A function a transform accepts: returns an Effect or a plain value. */
export type Fn<Args extends ReadonlyArray<unknown>, Ret, E, R> = (...args: Args) => Effect.Effect<Ret, E, R> | Ret

/** The function a transform returns. */
export type Transformed<Args extends ReadonlyArray<unknown>, A, E, R> = (...args: Args) => Effect.Effect<A, E | DiffectError, R>
