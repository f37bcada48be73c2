/**
 * The Tensor value: an immutable node of a lazy expression graph.
 *
 * A tensor is one of
 * - `const`: data on the host and/or a device buffer,
 * - a primitive application (`op` is a {@link Prim}) of other tensors,
 * - `input`: a fresh symbol introduced by one transform call (bound to the
 *   argument's value, or unbound under `vmap`),
 * - `error`: a shape or dtype mistake, carried until the value is read or the
 *   tensor reaches a transform boundary.
 *
 * Pure ops only build nodes; evaluation happens in an Effect that uses the
 * current Backend. A node that does not depend on any `input` is replaced in
 * place by its buffer once evaluated, so histories do not accumulate.
 */
import { type Inspectable, NodeInspectSymbol } from "effect/Inspectable"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type { DType, HostArray } from "../DType.js"
import type { TensorError } from "../Errors.js"
import { tensorJson, tensorText } from "./format.js"
import type { Prim, PrimParams } from "./primitives.js"
import { type Shape, sizeOf } from "./shape.js"

/** A buffer owned by a backend. */
export interface DeviceBuffer {
  readonly backend: object
  readonly handle: unknown
}

/**
 * `loop`: a control-flow primitive (scan, while, cond, a checkpointed call)
 * holding its sub-programs in its params (see `loop.ts`); its several
 * results are read by `loopOut` nodes (params `{ index }`, inputs the loop
 * node and then the loop's own operands).
 */
export type NodeOp = Prim | "const" | "input" | "error" | "custom" | "loop" | "loopOut"

/**
 * The rules of a `custom` node: a function of `inputs` whose value is the
 * graph `value`, differentiated by these rules instead of through `value`.
 */
export interface CustomRules {
  readonly name: string
  readonly jvp?: ((primals: ReadonlyArray<Tensor>, tangents: ReadonlyArray<Tensor>, out: Tensor) => Tensor) | undefined
  readonly vjp?: ((primals: ReadonlyArray<Tensor>, out: Tensor, cotangent: Tensor) => ReadonlyArray<Tensor | null>) | undefined
}

const noInputs: ReadonlyArray<Tensor> = []

export const TensorTypeId: unique symbol = Symbol.for("diffect/Tensor")

/** An immutable n-dimensional array (see the `Tensor` module for its API). */
export class Tensor implements Pipeable, Inspectable {
  // (on the prototype, like the methods: a graph of a long loop has millions of nodes, each field costs)
  declare readonly [TensorTypeId]: typeof TensorTypeId
  /** The size of each axis. */
  readonly shape: ReadonlyArray<number>
  /** The element type. */
  readonly dtype: DType
  /** @internal */ op: NodeOp
  /** @internal */ params: unknown
  /**
   * @internal the operands (see `inputs`): up to two are kept in these two
   * fields, more as one array in `in0`. A graph of a long loop has one node
   * per operation of every step, nearly all with one or two operands; an
   * array of them would cost each node 56 to 64 bytes more.
   */
  private in0: Tensor | ReadonlyArray<Tensor> | undefined
  /** @internal the second operand of a node of two */
  private in1: Tensor | undefined
  /** @internal host data of a const */ host: HostArray | undefined
  /** @internal cached device buffer */ buf: DeviceBuffer | undefined
  /** @internal the error of an `error` node, the value of an `input` or `custom` node */
  private readonly extra: TensorError | Tensor | undefined
  /** @internal bit 0: symbolic, bit 1: live; the number of operands from bit 2 on */
  private flags: number
  /**
   * @internal the walk (see `newPass`) that last marked this node; `slot`
   * is that walk's number for it. A walk over a graph of a long loop keeps
   * its per-node numbers here instead of in a Map of every node it reaches
   * (the Map and the copies it leaves as it grows are garbage that V8 keeps
   * in its old space until its next full collection).
   */
  mark: number
  /** @internal a number for this node in the walk `mark` (planning: its buffer slot) */
  slot: number

  /** @internal use the constructors of the Tensor module. */
  constructor(fields: {
    shape: Shape
    dtype: DType
    op: NodeOp
    params?: unknown
    inputs?: ReadonlyArray<Tensor>
    host?: HostArray
    buf?: DeviceBuffer
    error?: TensorError
    value?: Tensor
  }) {
    this.shape = fields.shape
    this.dtype = fields.dtype
    this.op = fields.op
    this.params = fields.params
    const inputs = fields.inputs ?? noInputs
    const n = inputs.length
    this.in0 = n === 0 ? undefined : n <= 2 ? inputs[0] : inputs.slice()
    this.in1 = n === 2 ? inputs[1] : undefined
    this.host = fields.host
    this.buf = fields.buf
    this.extra = fields.op === "error" ? fields.error : fields.value
    let symbolic = fields.op === "input" || (fields.op === "custom" && fields.value!.symbolic)
    for (let i = 0; i < inputs.length && !symbolic; i++) symbolic = inputs[i]!.symbolic
    this.flags = (symbolic ? 1 : 0) | (fields.op === "input" ? 2 : 0) | (n << 2)
    this.mark = 0
    this.slot = 0
  }

  /** @internal the operands, as a fresh array (walks over large graphs use `arity` and `input`, which allocate nothing) */
  get inputs(): ReadonlyArray<Tensor> {
    const n = this.flags >>> 2
    if (n === 0) return noInputs
    if (n === 1) return [this.in0 as Tensor]
    if (n === 2) return [this.in0 as Tensor, this.in1!]
    return (this.in0 as ReadonlyArray<Tensor>).slice()
  }

  /** @internal the number of operands */
  get arity(): number {
    return this.flags >>> 2
  }

  /** @internal operand `i` (< arity) */
  input(i: number): Tensor {
    const n = this.flags >>> 2
    if (n > 2) return (this.in0 as ReadonlyArray<Tensor>)[i]!
    return i === 0 ? (this.in0 as Tensor) : this.in1!
  }

  /** @internal forgets the operands (a node replaced by its value: see `settleRoots`) */
  clearInputs(): void {
    this.in0 = undefined
    this.in1 = undefined
    this.flags &= 3
  }

  /** @internal whether the value depends on an `input` node */
  get symbolic(): boolean {
    return (this.flags & 1) !== 0
  }

  /** @internal whether the transform call that made this `input` is running */
  get live(): boolean {
    return (this.flags & 2) !== 0
  }
  set live(on: boolean) {
    this.flags = on ? this.flags | 2 : this.flags & ~2
  }

  /** @internal the failure an `error` node carries */
  get error(): TensorError | undefined {
    return this.op === "error" ? (this.extra as TensorError | undefined) : undefined
  }

  /** @internal the value an `input` node is bound to (a `custom` node: its graph value) */
  get value(): Tensor | undefined {
    return this.op === "input" || this.op === "custom" ? (this.extra as Tensor | undefined) : undefined
  }

  /** The number of elements (computed from the shape: a field would cost every node of a long graph 8 bytes). */
  get size(): number {
    return sizeOf(this.shape)
  }

  /** The number of axes. */
  get ndim(): number {
    return this.shape.length
  }

  /**
   * The dtype, the shape and, when they are known without computing
   * anything, the values (summarized around `...` when there are many):
   * `Tensor(float32[2, 2], [[1, 2], [3, 4]])`. A value not computed yet
   * shows `lazy` (read it with `Tensor.toArray`), one that depends on a
   * transform's inputs `traced`, one held by a GPU `on webgl`; an invalid
   * tensor shows its error.
   */
  toString(): string {
    return tensorText(this)
  }

  /** `{ _id: "Tensor", dtype, shape, values }` (values summarized as in `toString`), for JSON and Effect's logs. */
  toJSON(): unknown {
    return tensorJson(this)
  }

  /** What Node's `util.inspect` and `console.log` print: the same text as `toString`. */
  [NodeInspectSymbol](): string {
    return tensorText(this)
  }
}

Object.defineProperty(Tensor.prototype, TensorTypeId, { value: TensorTypeId })

// `pipe` is declared through the interface (not as a class method) so that it
// keeps Pipeable's typed overloads: `x.pipe(Tensor.mul(2), Tensor.sum())`.
export interface Tensor extends Pipeable {}
Tensor.prototype.pipe = function (this: Tensor) {
  // eslint-disable-next-line prefer-rest-params
  return pipeArguments(this, arguments)
}

let passes = 0

/**
 * A fresh number for one synchronous walk over a graph that marks the nodes
 * it reaches (`t.mark === pass`) and may keep a number on each (`t.slot`).
 * A walk must not call anything that starts another walk over the same
 * nodes before it is done with its marks. (Numbers beyond 2³¹ are still
 * exact: only faster fields are lost.)
 */
export const newPass = (): number => ++passes

/** The number of the last walk started (a walk's marks are intact while this is still its number). */
export const lastPass = (): number => passes

/** Whether `u` is a Tensor. */
export const isTensor = (u: unknown): u is Tensor => typeof u === "object" && u !== null && TensorTypeId in u

/** Builds a primitive application node (no checking: see `bind`). */
export const makeNode = <P extends Prim>(
  prim: P,
  inputs: ReadonlyArray<Tensor>,
  params: PrimParams[P],
  shape: Shape,
  dtype: DType
): Tensor => new Tensor({ shape, dtype, op: prim, params, inputs })

export const constTensor = (host: HostArray, shape: Shape, dtype: DType): Tensor =>
  new Tensor({ shape, dtype, op: "const", host })

export const errorTensor = (error: TensorError, dtype: DType = "float32", shape: Shape = []): Tensor =>
  new Tensor({ shape, dtype, op: "error", error })

/** A fresh symbol standing for `value` (or for an unknown value of that shape under vmap). */
export const inputTensor = (shape: Shape, dtype: DType, value?: Tensor, origin?: string): Tensor =>
  new Tensor(
    value === undefined ? { shape, dtype, op: "input", params: origin === undefined ? undefined : { origin } } : { shape, dtype, op: "input", value }
  )

/** Which transform made an unbound input node ("jit", or undefined for vmap). */
export const originOf = (t: Tensor): string | undefined => (t.params as { origin?: string } | undefined)?.origin

/** A function application with its own differentiation rules (see CustomRules). */
export const customTensor = (inputs: ReadonlyArray<Tensor>, value: Tensor, rules: CustomRules): Tensor =>
  new Tensor({ shape: value.shape, dtype: value.dtype, op: "custom", inputs, value, params: rules })

/** The first error among `ts`, if any. */
export const firstError = (ts: ReadonlyArray<Tensor>): Tensor | undefined => ts.find((t) => t.op === "error")
