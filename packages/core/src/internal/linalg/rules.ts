/**
 * The rules of the linear-algebra primitives (see `primitives.ts` for their
 * packed outputs): forward-mode derivatives (the standard
 * formulas, as JAX's `lax/linalg.py`; Murray 2016 for cholesky). Reverse mode is the transpose of each forward rule (see
 * `vjpOfJvp` in `rules/vjp.ts`), so a derivative is written once. The rules
 * use differentiable ops only, so they can be differentiated again.
 */
import { type DType } from "../../DType.js"
import { LinalgError } from "../../Errors.js"
import { bind } from "../bind.js"
import * as O from "../ops.js"
import type { JvpRule } from "../rules/jvp.js"
import type { LinalgPrim } from "./abstract.js"
import { errorTensor, type Tensor } from "../tensor.js"
import { asRow, cols, diagonal, eye, mm, mT, permutationMatrix, row, rows, stackRows, tril, triu } from "./matrix.js"

/** Solves op(a) x = b with the triangular primitive. */
export const trisolve = (a: Tensor, b: Tensor, lower: boolean, transpose = false, unitDiagonal = false): Tensor =>
  bind("triangularSolve", [a, b], { lower, transpose, unitDiagonal })

const zeros = (like: Tensor): Tensor => O.broadcastTo(O.scalar(0, like.dtype), like.shape)
const inst = (t: Tensor | null, like: Tensor): Tensor => t ?? zeros(like)
const n2 = (x: Tensor): number => x.shape[x.ndim - 2]!
const n1 = (x: Tensor): number => x.shape[x.ndim - 1]!

/** Φ(X): the strict lower triangle plus half the diagonal. */
const phi = (x: Tensor): Tensor => O.add(tril(x, -1), O.mul(triu(tril(x, 0), 0), 0.5))

/** Q and R of the square-or-tall case from the packed `qr` output. */
const qrParts = (out: Tensor, m: number): [Tensor, Tensor] => [rows(out, 0, m), mT(rows(out, m, n2(out)))]

/** dQ, dR of a = QR for m ≥ n (JAX's qr_jvp_rule). */
const qrTall = (q: Tensor, r: Tensor, da: Tensor): [Tensor, Tensor] => {
  const daRinv = mT(trisolve(mT(r), mT(da), true)) // da R⁻¹
  const qtDaRinv = mm(mT(q), daRinv)
  const low = tril(qtDaRinv, -1)
  const omega = O.sub(low, mT(low)) // skew-symmetric
  const dq = O.add(mm(q, O.sub(omega, qtDaRinv)), daRinv)
  const dr = mm(O.sub(qtDaRinv, omega), r)
  return [dq, dr]
}

/** 1/x where x ≠ 0, else 0 (the divisor of the degenerate cases, as JAX). */
const safeReciprocal = (x: Tensor): Tensor => {
  const z = O.cast(O.equal(x, 0), x.dtype)
  return O.sub(O.reciprocal(O.add(x, z)), z)
}

export const linalgJvp: { readonly [P in LinalgPrim]: JvpRule<P> } = {
  // dL = L Φ(L⁻¹ dA L⁻ᵀ) (Murray 2016)
  cholesky: ([t], _a, _p, l) => {
    if (t == null) return null
    const y = trisolve(l, t, true) // L⁻¹ dA
    const x = mT(trisolve(l, mT(y), true)) // L⁻¹ dA L⁻ᵀ
    return mm(l, phi(x))
  },
  // x = op(A)⁻¹ b: dx = op(A)⁻¹ (db − op(dA) x), dA restricted to the triangle that is read
  triangularSolve: ([ta, tb], [a, b], { lower, transpose, unitDiagonal }, x) => {
    if (ta == null && tb == null) return null
    let rhs = inst(tb ?? null, b!)
    if (ta != null) {
      const k = unitDiagonal ? 1 : 0
      const masked = lower ? tril(ta, -k) : triu(ta, k)
      rhs = O.sub(rhs, mm(transpose ? mT(masked) : masked, x))
    }
    return bind("triangularSolve", [a!, rhs], { lower, transpose, unitDiagonal })
  },
  // P A = L U: with X = L⁻¹ P dA U⁻¹, dL = L tril(X, −1), dU = triu(X) U (JAX's lu_jvp_rule)
  lu: ([t], [a], _p, out) => {
    if (t == null) return null
    const n = n1(a!)
    const lu = rows(out, 0, n)
    const p = permutationMatrix(row(out, n), a!.dtype)
    const la = trisolve(lu, mm(p, t), true, false, true) // L⁻¹ P dA
    const x = mT(trisolve(lu, mT(la), false, true)) // · U⁻¹
    const l = O.add(tril(lu, -1), eye(n, a!.dtype))
    const dlu = O.add(mm(l, tril(x, -1)), mm(triu(x), triu(lu)))
    return stackRows([dlu, zeros(rows(out, n, n + 2))])
  },
  qr: ([t], [a], _p, out) => {
    if (t == null) return null
    const m = n2(a!), n = n1(a!)
    if (m >= n) {
      const [q, r] = qrParts(out, m)
      const [dq, dr] = qrTall(q, r, t)
      return stackRows([dq, mT(dr)])
    }
    // wide: A = Q [R₁ R₂] with X = A[:, :m] = Q R₁ square and R₂ = Qᵀ Y
    const q = rows(out, 0, m)
    const rt = rows(out, m, m + n) // Rᵀ, n × m
    const r1 = mT(rows(rt, 0, m))
    const [dq, dr1] = qrTall(q, r1, cols(t, 0, m))
    const y = cols(a!, m, n)
    const dr2 = O.add(mm(mT(dq), y), mm(mT(q), cols(t, m, n)))
    return stackRows([dq, mT(dr1), mT(dr2)])
  },
  // A = V diag(w) Vᵀ: dw = diag(Vᵀ dA V), dV = V (F ∘ Vᵀ dA V), F_ij = 1/(w_j − w_i) off the diagonal
  eigh: ([t], [a], _p, out) => {
    if (t == null) return null
    const n = n1(a!)
    const w = row(out, 0)
    const v = rows(out, 1, n + 1)
    const i = eye(n, a!.dtype)
    const f = O.sub(O.reciprocal(O.add(i, O.sub(asRow(w), mT(asRow(w))))), i)
    const vdv = mm(mT(v), mm(t, v))
    return stackRows([asRow(diagonal(vdv)), mm(v, O.mul(f, vdv))])
  },
  // JAX's svd_jvp_rule (reduced), in the packed layout [U; s; V]
  svd: ([t], [a], _p, out) => {
    if (t == null) return null
    const m = n2(a!), n = n1(a!), k = Math.min(m, n)
    const u = rows(out, 0, m)
    const s = row(out, m)
    const v = rows(out, m + 1, m + 1 + n)
    const sRow = asRow(s) // [..., 1, k]
    const ds = mm(mT(u), mm(t, v)) // Uᵀ dA V, k × k
    const dsv = diagonal(ds)
    const sDiffs = O.mul(O.add(sRow, mT(sRow)), O.sub(sRow, mT(sRow))) // s_j² − s_i²
    const f = safeReciprocal(sDiffs)
    const dss = O.mul(sRow, ds) // dS diag(s)
    const sds = O.mul(mT(sRow), ds) // diag(s) dS
    const sInvMat = O.mul(eye(k, a!.dtype), asRow(safeReciprocal(s)))
    const dudvDiag = O.mul(O.mul(O.sub(ds, mT(ds)), 0.5), sInvMat)
    let du = mm(u, O.add(O.mul(f, O.add(dss, mT(dss))), dudvDiag))
    let dv = mm(v, O.mul(f, O.add(sds, mT(sds))))
    if (m > n) {
      const dav = mm(t, v)
      du = O.add(du, O.div(O.sub(dav, mm(u, mm(mT(u), dav))), sRow))
    }
    if (n > m) {
      const dau = mm(mT(t), u)
      dv = O.add(dv, O.div(O.sub(dau, mm(v, mm(mT(v), dau))), sRow))
    }
    return stackRows([du, asRow(dsv), dv])
  }
}

/**
 * The reverse rule of triangularSolve, which is linear in b (so it cannot be
 * the transpose of its own forward rule): b̄ = op(A)⁻ᵀ x̄, and Ā = −b̄ xᵀ
 * (−x b̄ᵀ when transposed), restricted to the triangle that is read.
 */
export const triangularSolveVjp = (
  ct: Tensor,
  [a]: ReadonlyArray<Tensor>,
  { lower, transpose, unitDiagonal }: { readonly lower: boolean; readonly transpose: boolean; readonly unitDiagonal: boolean },
  x: Tensor
): ReadonlyArray<Tensor | null> => {
  const bbar = bind("triangularSolve", [a!, ct], { lower, transpose: !transpose, unitDiagonal })
  const outer = transpose ? mm(x, mT(bbar)) : mm(bbar, mT(x))
  const k = unitDiagonal ? 1 : 0
  return [O.neg(lower ? tril(outer, -k) : triu(outer, k)), bbar]
}

/** An error tensor for the public functions. */
export const linalgError = (message: string, dtype: DType = "float32"): Tensor => errorTensor(new LinalgError({ message }), dtype)
