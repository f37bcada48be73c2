/**
 * einsum from transpose, reshape, sum, broadcast and matmul: repeated
 * labels within an operand take its diagonal, labels needed nowhere else are
 * summed out first, then operands are contracted left to right, each pair as
 * one batched matmul `[batch, a-only, shared] @ [batch, shared, b-only]`.
 * Explicit (`ij,jk->ik`) and implicit (`ij,jk`: the labels that appear once,
 * sorted) forms; `...` stands for broadcast leading axes; size-1 axes
 * broadcast against their label's size.
 */
import { ShapeError } from "../Errors.js"
import { broadcastTo, cast, equal, mul, resultDType, type TensorLike, asTensor } from "./ops.js"
import { sum } from "./reduce.js"
import { matmul, reshape, transpose } from "./structural.js"
import { fmt, sizeOf } from "./shape.js"
import { errorTensor, firstError, type Tensor } from "./tensor.js"
import { rangeTensor } from "./stats.js"

interface Term {
  t: Tensor
  labels: string[]
}

const ELLIPSIS_BASE = 0x100

export const einsum = (spec: string, ...operands: ReadonlyArray<TensorLike>): Tensor => {
  const dtype = operands.length === 0 ? "float32" : resultDType(operands)
  const shapes = () => operands.map((o) => (typeof o === "number" ? "[]" : fmt(o.shape))).join(", ")
  const fail = (why: string) => errorTensor(new ShapeError({ message: `einsum: "${spec}" ${why} (operands ${shapes()})` }), dtype)
  if (typeof spec !== "string") return fail("is not a string")
  const ts = operands.map((o) => asTensor(o, dtype === "bool" ? "int32" : dtype))
  const bad = firstError(ts)
  if (bad) return bad
  const s = spec.replace(/\s+/g, "")
  const arrow = s.indexOf("->")
  const lhs = arrow < 0 ? s : s.slice(0, arrow)
  const rhs = arrow < 0 ? undefined : s.slice(arrow + 2)
  const inputs = lhs.split(",")
  if (inputs.length !== ts.length) return fail(`names ${inputs.length} operand${inputs.length === 1 ? "" : "s"}, got ${ts.length}`)
  const valid = /^([a-zA-Z]|\.\.\.)*$/
  if (!inputs.every((i) => valid.test(i)) || (rhs !== undefined && !valid.test(rhs))) return fail("has a character other than letters, ',', '->' and '...'")

  // labels of each operand, with "..." expanded to broadcast labels aligned on the right
  const parse = (term: string): string[] => term.match(/\.\.\.|[a-zA-Z]/g) ?? []
  const raw = inputs.map(parse)
  let ellipsisRank = 0
  for (let k = 0; k < ts.length; k++) {
    const explicit = raw[k]!.filter((l) => l !== "...").length
    const hasEllipsis = raw[k]!.includes("...")
    if (raw[k]!.filter((l) => l === "...").length > 1) return fail(`has more than one "..." in operand ${k}`)
    if (hasEllipsis ? explicit > ts[k]!.ndim : explicit !== ts[k]!.ndim)
      return fail(`gives operand ${k} ${explicit} label${explicit === 1 ? "" : "s"}, but it has ${ts[k]!.ndim} axes`)
    if (hasEllipsis) ellipsisRank = Math.max(ellipsisRank, ts[k]!.ndim - explicit)
  }
  const ellipsisLabels = Array.from({ length: ellipsisRank }, (_, i) => String.fromCharCode(ELLIPSIS_BASE + i))
  const expand = (labels: string[], rank: number): string[] =>
    labels.flatMap((l) => (l === "..." ? ellipsisLabels.slice(ellipsisRank - (rank - (labels.length - 1))) : [l]))
  const terms: Term[] = ts.map((t, k) => ({ t, labels: expand(raw[k]!, t.ndim) }))

  // the output labels
  const counts = new Map<string, number>()
  for (const term of terms) for (const l of term.labels) counts.set(l, (counts.get(l) ?? 0) + 1)
  let out: string[]
  if (rhs === undefined) {
    const once = [...counts.keys()].filter((l) => counts.get(l) === 1 && l.charCodeAt(0) < ELLIPSIS_BASE).sort()
    out = [...ellipsisLabels, ...once]
  } else {
    const r = parse(rhs)
    out = r.flatMap((l) => (l === "..." ? ellipsisLabels : [l]))
    if (new Set(out).size !== out.length) return fail("repeats a label in the output")
    const missing = out.find((l) => !counts.has(l))
    if (missing !== undefined) return fail(`has the output label "${missing}" that no operand has`)
  }

  // the size of each label (size-1 axes broadcast)
  const sizes = new Map<string, number>()
  for (const { t, labels } of terms)
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i]!, d = t.shape[i]!
      const prev = sizes.get(l)
      if (prev === undefined || prev === 1) sizes.set(l, d)
      else if (d !== 1 && d !== prev) return fail(`gives label "${l.charCodeAt(0) >= ELLIPSIS_BASE ? "..." : l}" the sizes ${prev} and ${d}`)
    }

  // diagonals of repeated labels, then broadcast to the label sizes
  for (const term of terms) {
    for (;;) {
      const q = term.labels.findIndex((l, i) => term.labels.indexOf(l) !== i)
      if (q < 0) break
      const p = term.labels.indexOf(term.labels[q]!)
      if (term.t.shape[p] !== term.t.shape[q]) return fail(`takes the diagonal of axes of sizes ${term.t.shape[p]} and ${term.t.shape[q]}`)
      const n = term.t.shape[p]!
      const ip = reshape(rangeTensor(n), term.t.shape.map((_, i) => (i === p ? n : 1)))
      const iq = reshape(rangeTensor(n), term.t.shape.map((_, i) => (i === q ? n : 1)))
      const mask = cast(equal(ip, iq), term.t.dtype)
      term.t = sum(mul(term.t, mask), { axis: q })
      term.labels.splice(q, 1)
    }
    const full = term.labels.map((l) => sizes.get(l)!)
    term.t = broadcastTo(term.t, full, "einsum")
  }

  const sumOut = (term: Term, keep: ReadonlySet<string>): Term => {
    const axes = term.labels.flatMap((l, i) => (keep.has(l) ? [] : [i]))
    if (axes.length === 0) return term
    return { t: sum(term.t, { axis: axes }), labels: term.labels.filter((l) => keep.has(l)) }
  }
  const neededAfter = (k: number): Set<string> => new Set([...out, ...terms.slice(k + 1).flatMap((t) => t.labels)])

  let acc = sumOut(terms[0]!, neededAfter(0))
  for (let k = 1; k < terms.length; k++) {
    const need = neededAfter(k)
    const b = sumOut(terms[k]!, new Set([...need, ...acc.labels]))
    acc = sumOut(acc, new Set([...need, ...b.labels]))
    const inB = new Set(b.labels), inA = new Set(acc.labels)
    const batch = acc.labels.filter((l) => inB.has(l) && need.has(l))
    const shared = acc.labels.filter((l) => inB.has(l) && !need.has(l))
    const aOnly = acc.labels.filter((l) => !inB.has(l))
    const bOnly = b.labels.filter((l) => !inA.has(l))
    const size = (ls: ReadonlyArray<string>) => sizeOf(ls.map((l) => sizes.get(l)!))
    const at = (term: Term, ls: ReadonlyArray<string>) => ls.map((l) => term.labels.indexOf(l))
    const a3 = reshape(transpose(acc.t, at(acc, [...batch, ...aOnly, ...shared])), [size(batch), size(aOnly), size(shared)])
    const b3 = reshape(transpose(b.t, at(b, [...batch, ...shared, ...bOnly])), [size(batch), size(shared), size(bOnly)])
    const labels = [...batch, ...aOnly, ...bOnly]
    acc = { t: reshape(matmul(a3, b3), labels.map((l) => sizes.get(l)!)), labels }
  }
  acc = sumOut(acc, new Set(out))
  return transpose(acc.t, out.map((l) => acc.labels.indexOf(l)))
}
