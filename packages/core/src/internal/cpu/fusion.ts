/**
 * Elementwise fusion on the CPU (`BackendShape.fusion`): a group of
 * elementwise primitives over float32 / float64 data (comparisons giving
 * bool, `where` selecting with them) runs as one generated loop, one pass
 * over memory with no intermediate arrays. Every intermediate is rounded to
 * its dtype (`Math.fround` for float32) exactly where the separate kernels
 * would store it, so results are bit-identical to unfused evaluation.
 *
 * Operands may be strided views read in place when dense, scalar or
 * periodic (see `views.ts`); others are gathered first.
 *
 * A float32 group whose every operation has a WebAssembly form runs on the
 * kernel of `fused-wasm.ts` instead (the same bits) where that measured
 * faster: with sin, cos, exp, tanh, a select or a comparison at any size,
 * others from 256 elements; float32 sin, cos, exp and tanh are fusible for
 * that (a group that also has, say, a log runs them in the JavaScript loop,
 * with fastmath's functions: the same bits again).
 */
import { allocHost, type DType, type HostArray } from "../../DType.js"
import { allocUninitialized } from "./pool.js"
import type { Aval, FusedOp, Fusion, KernelArg } from "../../Backend.js"
import type { Prim } from "../primitives.js"
import { sizeOf } from "../shape.js"
import { binaryExpr, unaryExpr, unaryFormula } from "./elementwise.js"
import { cosF, expF, sinCosSource, sinF, tanhF } from "./fastmath.js"
import { type Access, access, dense, dtypeCode, kindCode } from "./views.js"
import { fusedOnThreads, fusedThreshold } from "./fused-threads.js"
import { fusedWasm } from "./fused-wasm.js"

const isFloat = (d: DType): boolean => d === "float32" || d === "float64"

const exprOf = (prim: Prim, dtype: DType = "float64"): string | undefined =>
  prim === "where"
    ? "(x ? y : z)"
    : prim in unaryExpr
      ? unaryFormula(prim as keyof typeof unaryExpr, dtype)
      : (binaryExpr as Record<string, string>)[prim]

const canFuse = (prim: Prim, dtype: DType, ins: ReadonlyArray<DType>): boolean => {
  if (exprOf(prim) === undefined || prim === "erf") return false
  if (prim === "where") return isFloat(dtype) && ins[0] === "bool" && ins[1] === dtype && ins[2] === dtype
  if (prim === "greater" || prim === "less" || prim === "equal") return dtype === "bool" && ins.every(isFloat)
  return isFloat(dtype) && ins.every((d) => d === dtype)
}

type Loop = (out: HostArray, ops: ReadonlyArray<HostArray>, offs: ReadonlyArray<number>, rows: number, period: number) => void

const comparisonOp = { greater: ">", less: "<", equal: "===" } as const
const isComparison = (prim: Prim): boolean => prim === "greater" || prim === "less" || prim === "equal"

const compile = (program: ReadonlyArray<FusedOp>, kinds: ReadonlyArray<Access["kind"]>, bools: ReadonlyArray<boolean>): Loop => {
  const n = kinds.length
  const name = (i: number) => (i < n ? `l${i}` : `t${i - n}`)
  const pre = kinds.map((k, i) => `const a${i} = ops[${i}], o${i} = offs[${i}];` + (k === "s" ? ` const s${i} = a${i}[o${i}];` : "")).join("\n")
  const at = { d: (i: number) => `a${i}[i]`, o: (i: number) => `a${i}[o${i} + i]`, s: (i: number) => `s${i}`, p: (i: number) => `a${i}[o${i} + j]` }
  const reads = kinds.map((k, i) => (bools[i] ? `const l${i} = (${at[k](i)} !== 0) | 0;` : `const l${i} = ${at[k](i)};`)).join(" ")
  // float32 sin and cos of one operand share their range reduction
  const partner = new Map<number, number>()
  program.forEach((op, k) => {
    if (op.dtype !== "float32" || (op.prim !== "sin" && op.prim !== "cos")) return
    const other = program.findIndex((o, j) => j !== k && o.dtype === "float32" && o.prim === (op.prim === "sin" ? "cos" : "sin") && o.operands[0] === op.operands[0])
    if (other >= 0) partner.set(k, other)
  })
  const body = program
    .map((op, k) => {
      const [x, y, z] = op.operands.map(name)
      const other = partner.get(k)
      if (other !== undefined) {
        if (other < k) return "" // computed with its partner
        const [sinAt, cosAt] = op.prim === "sin" ? [k, other] : [other, k]
        return `let t${sinAt}, t${cosAt}; { ${sinCosSource(x!, `t${sinAt}`, `t${cosAt}`)}; t${sinAt} = Math.fround(t${sinAt}); t${cosAt} = Math.fround(t${cosAt}); }`
      }
      if (op.prim === "where") {
        // a select through memory: no branch to mispredict on a mask that flips from element to element
        // (a condition is 0 or 1: a comparison computed here, or a bool operand read as 0 / 1)
        const stored = op.dtype === "float32" ? `Math.fround(sel[${x}])` : `sel[${x}]`
        return `let t${k}; sel[1] = ${y}; sel[0] = ${z}; t${k} = ${stored};`
      }
      const bind = [`const x = ${x}`, y !== undefined ? `y = ${y}` : "", z !== undefined ? `z = ${z}` : ""].filter(Boolean).join(", ")
      // a comparison as 0 / 1 without a branch
      const value = isComparison(op.prim) ? `((x ${comparisonOp[op.prim as "greater"]} y) | 0)` : `(${exprOf(op.prim, op.dtype)!})`
      const stored = op.dtype === "float32" ? `Math.fround${value}` : value
      return `let t${k}; { ${bind}; t${k} = ${stored}; }`
    })
    .join("\n")
  return new Function("sinF", "cosF", "expF", "tanhF", `return function (out, ops, offs, rows, period) { ${pre}
    const sel = new Float64Array(2)
    let i = 0
    for (let r = 0; r < rows; r++) for (let j = 0; j < period; j++, i++) {
      ${reads}
      ${body}
      out[i] = t${program.length - 1};
    } }`)(sinF, cosF, expF, tanhF) as Loop
}

/**
 * Compiled loops by program (its text: equal programs of separate eager
 * evaluations share their loops), then by the operands' layout and types:
 * a number (5 bits an operand) for groups of up to 10 operands, a string
 * beyond. A program array remembers its table, so a plan's replay (the
 * same arrays at every run) finds its loop with one WeakMap and one Map
 * lookup, no string built.
 */
const loops = new Map<string, Map<number | string, Loop>>()
const tableOf = new WeakMap<ReadonlyArray<FusedOp>, Map<number | string, Loop>>()
/** Programs kept (cleared when full), and loops per program (a program meets few layouts). */
const MAX_PROGRAMS = 512
const MAX_LAYOUTS = 64

const loopFor = (program: ReadonlyArray<FusedOp>, args: ReadonlyArray<KernelArg>, acc: ReadonlyArray<Access>): Loop => {
  let byLayout = tableOf.get(program)
  if (byLayout === undefined) {
    const text = program.map((op) => `${op.prim}:${op.dtype}:${op.operands.join(",")}`).join(";")
    byLayout = loops.get(text)
    if (byLayout === undefined) {
      if (loops.size >= MAX_PROGRAMS) loops.clear()
      loops.set(text, (byLayout = new Map()))
    }
    tableOf.set(program, byLayout)
  }
  let key: number | string
  if (args.length <= 10) {
    key = 0
    for (let i = 0; i < args.length; i++) key = key * 32 + kindCode[acc[i]!.kind] * 5 + dtypeCode[args[i]!.dtype]
  } else key = args.map((a, i) => `${acc[i]!.kind}${dtypeCode[a.dtype]}`).join("")
  let loop = byLayout.get(key)
  if (loop === undefined) {
    if (byLayout.size >= MAX_LAYOUTS) byLayout.clear()
    byLayout.set(key, (loop = compile(program, acc.map((a) => a.kind), args.map((a) => a.dtype === "bool"))))
  }
  return loop
}

const kernel = (program: ReadonlyArray<FusedOp>, args: ReadonlyArray<KernelArg>, out: Aval): HostArray => {
  const n = sizeOf(out.shape)
  // every element is written (by the WebAssembly kernel or the loop)
  const res = allocUninitialized(out.dtype, n)
  if (n === 0) return res
  const acc: Access[] = []
  const arrays: HostArray[] = []
  let period = 0
  for (const x of args) {
    let a = access(x, n)
    let data = x.handle as HostArray
    if (a !== undefined && a.kind === "p" && period !== 0 && period !== a.period) a = undefined
    if (a === undefined) {
      data = dense(x)
      a = { kind: "d", off: 0, period: n }
    }
    if (a.kind === "p") period = a.period
    acc.push(a)
    arrays.push(data)
  }
  if (period === 0) period = n
  // a float32 group the WebAssembly kernel runs faster (see fused-wasm.ts): one pass there
  if (out.dtype === "float32" && fusedWasm(program, res, arrays, acc, n, period, fusedThreshold())) return res
  const loop = loopFor(program, args, acc)
  if (!fusedOnThreads(loop, res, arrays, acc, n, period)) loop(res, arrays, acc.map((a) => a.off), n / period, period)
  return res
}

export const cpuFusion: Fusion = { canFuse, kernel }
