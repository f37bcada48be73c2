/**
 * Random small programs for the fuzz suite: an expression over the
 * arguments and the Variables (all of one random shape), made of smooth ops
 * (so central differences are accurate), with a random final stage
 * (a reduction, softmax, a matmul, a reshape, or nothing), optional writes
 * to Variables, and at most one planted fault whose typed error is known by
 * construction.
 */
import { Data, Effect } from "effect"
import fc from "fast-check"
import { Tensor, Variable } from "@diffect/core"

export type T = Tensor.Tensor

// ------------------------------------------------------------------ expressions

export type Unary = "sin" | "cos" | "tanh" | "expHalf" | "square" | "sigmoid" | "neg" | "log1pSq" | "ratio" | "hypot1"
export type Binary = "add" | "sub" | "mul" | "divSafe"

export type Expr =
  | { readonly k: "arg"; readonly i: number }
  | { readonly k: "var"; readonly j: number }
  | { readonly k: "const"; readonly c: number }
  | { readonly k: "un"; readonly op: Unary; readonly a: Expr }
  | { readonly k: "bin"; readonly op: Binary; readonly a: Expr; readonly b: Expr }

/** What happens to the elementwise expression at the end. */
export type Final = "none" | "sum" | "mean" | "logsumexp" | "sumAxis0" | "softmax" | "matmulT" | "flatten" | "transpose"

const unaries: ReadonlyArray<Unary> = ["sin", "cos", "tanh", "expHalf", "square", "sigmoid", "neg", "log1pSq", "ratio", "hypot1"]
const binaries: ReadonlyArray<Binary> = ["add", "sub", "mul", "divSafe"]

const applyUnary = (op: Unary, x: T): T => {
  switch (op) {
    case "sin":
      return Tensor.sin(x)
    case "cos":
      return Tensor.cos(x)
    case "tanh":
      return Tensor.tanh(x)
    case "expHalf":
      return Tensor.exp(Tensor.mul(x, 0.5))
    case "square":
      return Tensor.square(x)
    case "sigmoid":
      return Tensor.sigmoid(x)
    case "neg":
      return Tensor.neg(x)
    case "log1pSq":
      return Tensor.log1p(Tensor.square(x))
    case "ratio":
      return Tensor.div(x, Tensor.add(Tensor.square(x), 1))
    case "hypot1":
      return Tensor.sqrt(Tensor.add(Tensor.square(x), 1))
  }
}

const applyBinary = (op: Binary, a: T, b: T): T => {
  switch (op) {
    case "add":
      return Tensor.add(a, b)
    case "sub":
      return Tensor.sub(a, b)
    case "mul":
      return Tensor.mul(a, b)
    case "divSafe":
      return Tensor.div(a, Tensor.add(Tensor.square(b), 1))
  }
}

/** The leaves an expression reads. */
export const leavesOf = (e: Expr, out: { args: Set<number>; vars: Set<number> } = { args: new Set(), vars: new Set() }) => {
  if (e.k === "arg") out.args.add(e.i)
  else if (e.k === "var") out.vars.add(e.j)
  else if (e.k === "un") leavesOf(e.a, out)
  else if (e.k === "bin") {
    leavesOf(e.a, out)
    leavesOf(e.b, out)
  }
  return out
}

export interface Env {
  readonly args: ReadonlyArray<T>
  readonly vars: ReadonlyArray<T>
}

/** Builds the tensor of an expression (pure ops only). */
export const build = (e: Expr, env: Env): T => {
  switch (e.k) {
    case "arg":
      return env.args[e.i]!
    case "var":
      return env.vars[e.j]!
    case "const":
      return Tensor.mul(Tensor.onesLike(env.args[0] ?? env.vars[0]!), e.c)
    case "un":
      return applyUnary(e.op, build(e.a, env))
    case "bin":
      return applyBinary(e.op, build(e.a, env), build(e.b, env))
  }
}

/** The final stage (shapes: see `finalsFor`). */
export const finish = (final: Final, x: T, y: T): T => {
  switch (final) {
    case "none":
      return x
    case "sum":
      return Tensor.sum(x)
    case "mean":
      return Tensor.mean(x)
    case "logsumexp":
      return Tensor.logsumexp(x)
    case "sumAxis0":
      return Tensor.sum(x, { axis: 0 })
    case "softmax":
      return Tensor.softmax(x)
    case "matmulT":
      return Tensor.matmul(x, Tensor.transpose(y))
    case "flatten":
      return Tensor.reshape(x, [-1])
    case "transpose":
      return Tensor.transpose(x)
  }
}

const scalarFinals: ReadonlyArray<Final> = ["sum", "mean", "logsumexp"]
/** Finals that make sense for a rank: scalar ones, and shaped ones (rank >= 1). */
export const finalsFor = (rank: number, scalar: boolean): ReadonlyArray<Final> =>
  scalar ? scalarFinals : rank === 0 ? ["none"] : rank === 1 ? ["none", "softmax", "sumAxis0", "flatten"] : ["none", "softmax", "sumAxis0", "matmulT", "flatten", "transpose"]

const exprArb = (nargs: number, nvars: number): fc.Arbitrary<Expr> => {
  const leaf: fc.Arbitrary<Expr> = fc.oneof(
    { weight: 4, arbitrary: fc.nat(nargs - 1).map((i) => ({ k: "arg", i }) as const) },
    { weight: nvars > 0 ? 2 : 0, arbitrary: fc.nat(Math.max(0, nvars - 1)).map((j) => ({ k: "var", j }) as const) },
    { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }).map((c) => ({ k: "const", c: c / 2 }) as const) }
  )
  const { e, root } = fc.letrec<{ e: Expr; root: Expr }>((tie) => ({
    e: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("root")),
    // the root is an op: a bare leaf would make many programs trivial
    root: fc.oneof(
      fc.record({ k: fc.constant("un" as const), op: fc.constantFrom(...unaries), a: tie("e") }),
      fc.record({ k: fc.constant("bin" as const), op: fc.constantFrom(...binaries), a: tie("e"), b: tie("e") })
    )
  }))
  return fc.oneof({ weight: 1, arbitrary: e }, { weight: 4, arbitrary: root })
}

// ------------------------------------------------------------------ cases

export type Kind = "grad" | "valueAndGrad" | "vectorGrad" | "jacrev" | "jacfwd" | "hessian" | "jvp" | "vjp"

export type Fault =
  | "none"
  | "shape" // an add of an incompatible shape in the output expression
  | "argnums" // argnums out of range, negative, duplicated, fractional, a string, or empty
  | "int" // a differentiated argument is int32 without allowInt
  | "nonscalar" // grad / valueAndGrad of a non-scalar output
  | "aux" // hasAux but f does not return [out, aux]
  | "gradVars" // a gradVars entry that is not a Variable
  | "write" // a state write of the wrong shape (after a good write)
  | "options" // a flag that is not a boolean
  | "user" // f fails with the user's own tagged error (after its writes)

/** The tag each fault must end in. */
export const expectedTag: Record<Exclude<Fault, "none">, string> = {
  shape: "ShapeError",
  argnums: "ArgnumsError",
  int: "DTypeError",
  nonscalar: "NonScalarOutputError",
  aux: "AuxError",
  gradVars: "GradVarsError",
  write: "StateError",
  options: "OptionsError",
  user: "MyError"
}

export class MyError extends Data.TaggedError("MyError")<{ readonly at: string }> {}

export interface Case {
  readonly kind: Kind
  readonly fault: Fault
  readonly dtype: "float64" | "float32"
  readonly shape: ReadonlyArray<number>
  readonly nargs: number
  readonly nvars: number
  readonly expr: Expr
  readonly final: Final
  /** The argument positions differentiated (grad family), in the form given. */
  readonly argnums: number | ReadonlyArray<number> | undefined
  /** How gradVars are given: none, one Variable, an array, or a record (of these var indices). */
  readonly gradVars: { readonly form: "none" | "one" | "array" | "record"; readonly vars: ReadonlyArray<number> }
  readonly hasAux: boolean
  readonly returnValue: boolean
  /** allowInt with one int32 argument (not a fault: its gradient is zero). */
  readonly intArg: number | undefined
  /** Writes: each Variable index written, with the expression written to it. */
  readonly writes: ReadonlyArray<{ readonly j: number; readonly e: Expr }>
  /** Data: one array of values per argument and per Variable. */
  readonly argData: ReadonlyArray<ReadonlyArray<number>>
  readonly varData: ReadonlyArray<ReadonlyArray<number>>
  /** The junk planted by the fault, where it needs one. */
  readonly junk: number
}

const sizeOf = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

/** Values away from 0 and from each other (no kinks are used, but keep numbers tame). */
const value = fc.integer({ min: -24, max: 24 }).map((k) => k / 16 + 0.0371)

const shapeArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant<number[]>([]) },
  { weight: 2, arbitrary: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }) }
)

const kinds: ReadonlyArray<Kind> = ["grad", "valueAndGrad", "vectorGrad", "jacrev", "jacfwd", "hessian", "jvp", "vjp"]
const family = new Set<Kind>(["grad", "valueAndGrad", "vectorGrad", "jacrev", "jacfwd", "hessian"])

/** The faults a kind can have. */
const faultsFor = (kind: Kind, rank: number): ReadonlyArray<Fault> => {
  if (kind === "jvp" || kind === "vjp") return ["none", "none", "none", "shape", "write", "user"]
  if (kind === "hessian") return ["none", "none", "none", "shape", "argnums", "int", "aux", "gradVars", "write", "options", "user"]
  const common: Fault[] = ["none", "none", "none", "none", "shape", "argnums", "int", "aux", "gradVars", "write", "options", "user"]
  return (kind === "grad" || kind === "valueAndGrad") && rank > 0 ? [...common, "nonscalar", "nonscalar"] : common
}

export const caseArb: fc.Arbitrary<Case> = fc
  .record({
    kind: fc.constantFrom(...kinds),
    shape: shapeArb,
    nargs: fc.integer({ min: 1, max: 2 }),
    nvars: fc.integer({ min: 0, max: 2 }),
    f32: fc.integer({ min: 0, max: 4 }).map((k) => k === 0),
    pick: fc.nat(1000),
    flags: fc.record({ hasAux: fc.boolean(), returnValue: fc.boolean(), argnumsArray: fc.boolean(), withArgnums: fc.boolean(), allowInt: fc.integer({ min: 0, max: 5 }) }),
    gvForm: fc.constantFrom("none", "none", "one", "array", "record"),
    junk: fc.nat(5),
    finalPick: fc.nat(100)
  })
  .chain((base) => {
    // hessian: one small argument, no state differentiation
    const shape = base.kind === "hessian" ? (sizeOf(base.shape) > 4 ? [2] : base.shape) : base.shape
    const faults = faultsFor(base.kind, shape.length)
    const fault = faults[base.pick % faults.length]!
    const scalarOut = base.kind === "grad" || base.kind === "valueAndGrad" || base.kind === "hessian" ? fault !== "nonscalar" : base.finalPick % 3 === 0
    const finals = finalsFor(shape.length, scalarOut)
    const final = fault === "nonscalar" ? "none" : finals[Math.floor(base.finalPick / 3) % finals.length]!
    const n = sizeOf(shape)
    return fc.record({
      expr: exprArb(base.nargs, base.nvars),
      writeExprs: fc.array(exprArb(base.nargs, base.nvars), { minLength: base.nvars, maxLength: base.nvars }),
      writeMask: fc.array(fc.boolean(), { minLength: base.nvars, maxLength: base.nvars }),
      argData: fc.array(fc.array(value, { minLength: n, maxLength: n }), { minLength: base.nargs, maxLength: base.nargs }),
      varData: fc.array(fc.array(value, { minLength: n, maxLength: n }), { minLength: base.nvars, maxLength: base.nvars }),
      gvVars: fc.subarray(Array.from({ length: base.nvars }, (_, j) => j), { minLength: Math.min(1, base.nvars) })
    }).map((d): Case => {
      const isFamily = family.has(base.kind)
      const gradVars =
        !isFamily || base.kind === "hessian" || base.gvForm === "none" || base.nvars === 0
          ? { form: "none" as const, vars: [] }
          : base.gvForm === "one"
            ? { form: "one" as const, vars: [d.gvVars[0]!] }
            : { form: base.gvForm as "array" | "record", vars: d.gvVars }
      const positions = Array.from({ length: base.nargs }, (_, i) => i)
      const argnums: Case["argnums"] = !isFamily
        ? undefined
        : base.kind === "hessian"
          ? undefined
          : gradVars.form !== "none" && !base.flags.withArgnums
            ? undefined
            : base.flags.argnumsArray
              ? positions.filter((i) => i === 0 || base.flags.allowInt % 2 === 0)
              : base.nargs - 1
      const intArg = isFamily && base.kind !== "hessian" && fault !== "int" && base.flags.allowInt === 0 && argnums !== undefined ? (typeof argnums === "number" ? argnums : argnums[0]) : undefined
      const writes = (fault === "write" || fault === "user" || base.kind === "jvp" || base.kind === "vjp" || base.pick % 2 === 0)
        ? d.writeExprs.map((e, j) => ({ j, e })).filter((w, j) => d.writeMask[j] || (fault === "write" && j === base.nvars - 1))
        : []
      const differentiatesAnArg = argnums !== undefined || gradVars.form === "none"
      const planted =
        (fault === "write" && base.nvars === 0) || (fault === "int" && !differentiatesAnArg) ? "none" : fault
      return {
        kind: base.kind,
        fault: planted,
        dtype: base.f32 ? "float32" : "float64",
        shape,
        nargs: base.nargs,
        nvars: base.nvars,
        expr: d.expr,
        final,
        argnums,
        gradVars,
        hasAux: isFamily && base.flags.hasAux,
        returnValue: isFamily && base.kind !== "hessian" && base.kind !== "valueAndGrad" && base.flags.returnValue,
        intArg,
        writes,
        argData: d.argData,
        varData: d.varData,
        junk: base.junk
      }
    })
  })

// ------------------------------------------------------------------ running a case

export interface Live {
  readonly vars: ReadonlyArray<Variable.Variable<T>>
  readonly args: ReadonlyArray<T>
}

const f64 = (data: ReadonlyArray<number>, shape: ReadonlyArray<number>, dtype: "float64" | "float32" | "int32" = "float64") =>
  Tensor.make(Float64Array.from(dtype === "int32" ? data.map((x) => Math.round(x * 4)) : data), { shape, dtype })

/** The arguments of a case, as tensors of its dtype (and the int32 argument, if any). */
export const argTensors = (c: Case): T[] =>
  c.argData.map((d, i) => f64(d, c.shape, (c.fault === "int" && isDifferentiated(c, i)) || c.intArg === i ? "int32" : c.dtype))

/** Argument positions differentiated by a grad-family case. */
export const argPositions = (c: Case): number[] =>
  c.kind === "jvp" || c.kind === "vjp"
    ? Array.from({ length: c.nargs }, (_, i) => i)
    : c.argnums === undefined
      ? c.gradVars.form === "none"
        ? [0]
        : []
      : typeof c.argnums === "number"
        ? [c.argnums]
        : [...c.argnums]

const isDifferentiated = (c: Case, i: number) => argPositions(c).includes(i)

/**
 * The "shape" fault on an expression of the case's shape S: an add of
 * `[S_last + 1]` (which does not broadcast with S when S_last > 1), else a
 * reshape to one element more than S has.
 */
const misfit = (c: Case, x: T): T => {
  const last = c.shape[c.shape.length - 1] ?? 1
  return last > 1 ? Tensor.add(x, Tensor.ones([last + 1], { dtype: c.dtype })) : Tensor.reshape(x, [sizeOf(c.shape) + 1])
}

/** The output of the program (no state): used by `f` and by finite differences. */
export const outputOf = (c: Case, env: Env): T => {
  const e = build(c.expr, env)
  const x = c.fault === "shape" ? misfit(c, e) : e
  const y = build(c.writes[0]?.e ?? c.expr, env)
  return finish(c.final, x, y)
}

/** The program as a transformable function of the arguments. */
export const programOf = (c: Case, vars: ReadonlyArray<Variable.Variable<T>>) =>
  (...args: ReadonlyArray<T>) =>
    Effect.gen(function* () {
      const vals: T[] = []
      for (const v of vars) vals.push(yield* Variable.get(v))
      const env = { args: args.map((a) => Tensor.cast(a, c.dtype)), vars: vals }
      const out = outputOf(c, env)
      for (const w of c.writes) {
        const value = build(w.e, env)
        const bad = c.fault === "write" && w === c.writes[c.writes.length - 1]
        yield* Variable.set(vars[w.j]!, bad ? Tensor.concat([Tensor.reshape(value, [-1]), Tensor.reshape(value, [-1])]) : value)
      }
      if (c.fault === "user") return yield* Effect.fail(new MyError({ at: c.kind }))
      if (c.fault === "aux") return c.junk % 3 === 0 ? out : c.junk % 3 === 1 ? [out] : [out, out, out]
      if (!c.hasAux) return out
      return [out, Tensor.mul(out, 2)] as const
    })

/** The options of a grad-family case (with its fault planted). */
export const optionsOf = (c: Case, vars: ReadonlyArray<Variable.Variable<T>>): Record<string, unknown> => {
  const o: Record<string, unknown> = {}
  const vs = c.gradVars.vars.map((j) => vars[j]!)
  if (c.gradVars.form === "one") o.gradVars = vs[0]
  if (c.gradVars.form === "array") o.gradVars = vs
  if (c.gradVars.form === "record") o.gradVars = Object.fromEntries(c.gradVars.vars.map((j) => [`v${j}`, vars[j]!]))
  if (c.argnums !== undefined) o.argnums = c.argnums
  if (c.hasAux || c.fault === "aux") o.hasAux = true
  if (c.returnValue) o.returnValue = true
  if (c.intArg !== undefined) o.allowInt = true
  switch (c.fault) {
    case "argnums": {
      const bad: ReadonlyArray<unknown> = [c.nargs, -1, [0, 0], 0.5, "0", []]
      o.argnums = bad[c.junk % bad.length]
      if (Array.isArray(o.argnums) && o.argnums.length === 0) delete o.gradVars
      break
    }
    case "gradVars": {
      const junk: ReadonlyArray<unknown> = [Tensor.ones([2]), 3, "w", null, { w: 1 }, [undefined]]
      const j = junk[c.junk % junk.length]
      o.gradVars = c.junk % 2 === 0 ? [...vs, j] : j
      break
    }
    case "options":
      o[["hasAux", "allowInt", "holomorphic"][c.junk % 3]!] = ["yes", 1, null][c.junk % 3]
      break
  }
  return o
}
