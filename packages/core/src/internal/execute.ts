/**
 * Executing a plan (see `plan.ts`): kernel calls in order over an array of
 * buffer slots. A buffer that a step made goes back to the backend (its
 * `dispose`, the CPU backend's pool) right after the last step that reads
 * it, so the memory an evaluation holds is what is live at each step.
 *
 * Execution is an Effect that cooperates with the runtime: it runs steps in
 * time slices of a few milliseconds and yields between them, so other
 * fibers keep running during a long evaluation, and an interrupted
 * evaluation stops at the next yield, releasing every buffer it made.
 */
import * as Effect from "effect/Effect"
import type { BackendShape, KernelArg } from "../Backend.js"
import type { HostArray } from "../DType.js"
import { BackendError, ConcretizationError, ControlFlowError, DTypeError, LinalgError, ShapeError, type TensorError } from "../Errors.js"
import { releaseHandle } from "./loop-result.js"
import { EvalFailure, type Plan } from "./plan.js"
import type { DeviceBuffer, Tensor } from "./tensor.js"

interface Held {
  readonly backend: BackendShape
  readonly handle: unknown
}
/** Releases a collected tensor's buffer on `backend` (if it is still there). */
const disposeCollected = (backend: BackendShape | undefined, handle: unknown): void => {
  try {
    backend?.dispose(handle)
  } catch {
    // the backend may be gone (context lost): nothing left to release
  }
}
const registry = new FinalizationRegistry<Held>((held) => disposeCollected(held.backend, held.handle))

/** Caches `handle` on `t` as its buffer (released when `t` is garbage collected). */
export const setBuffer = (t: Tensor, backend: BackendShape, handle: unknown): void => {
  if (t.buf !== undefined) {
    const old = t.buf as DeviceBuffer & { backend: BackendShape }
    if (!old.backend.hostBuffers) {
      registry.unregister(t)
      if (old.handle !== handle) old.backend.dispose(old.handle)
    }
    // a host buffer may still be the tensor's host data: the garbage collector reclaims it
  }
  t.buf = { backend, handle }
  // buffers the garbage collector owns need no finalizer (a registration costs more than a small op)
  if (!backend.hostBuffers) registry.register(t, { backend, handle }, t)
}

/** The host data of a const (downloading it from its device if needed). */
export const hostOf = (t: Tensor): HostArray => {
  if (t.host !== undefined) return t.host
  const buf = t.buf as (DeviceBuffer & { backend: BackendShape }) | undefined
  if (buf === undefined) throw new Error(`internal: const without data`)
  t.host = buf.backend.download(buf.handle, t)
  return t.host
}

/**
 * The buffers of consts on backends other than the one of their `buf`, by
 * backend. A const may be read by several backends at once (the scalars
 * that ops share, see `ops.ts`, are read by every program): each backend
 * keeps its own buffer, so a backend never reads a buffer that another
 * evaluation gave back to its own backend, nor one released when another
 * backend's Layer closed. Backends are held weakly (a closed one is not kept
 * alive by a long-lived const); each buffer is released when its const is
 * garbage collected.
 */
const elsewhere = new WeakMap<Tensor, WeakMap<BackendShape, unknown>>()

interface HeldElsewhere {
  readonly backend: WeakRef<BackendShape>
  readonly handle: unknown
}
const registryElsewhere = new FinalizationRegistry<HeldElsewhere>((held) => disposeCollected(held.backend.deref(), held.handle))

/** The buffer of a source tensor on `backend` (uploading and caching it the first time it is read there). */
export const sourceHandle = (backend: BackendShape, t: Tensor): unknown => {
  const buf = t.buf
  if (buf === undefined) {
    const handle = backend.upload(hostOf(t), t)
    setBuffer(t, backend, handle)
    return handle
  }
  if (buf.backend === backend) return buf.handle
  // realized on another backend: this backend's own buffer, kept beside that one's
  let byBackend = elsewhere.get(t)
  const kept = byBackend?.get(backend)
  if (kept !== undefined) return kept
  const handle = backend.upload(hostOf(t), t)
  if (byBackend === undefined) elsewhere.set(t, (byBackend = new WeakMap()))
  byBackend.set(backend, handle)
  if (!backend.hostBuffers) registryElsewhere.register(t, { backend: new WeakRef(backend), handle })
  return handle
}

/** The result of an execution: one handle per output, and whether the caller now owns it. */
export interface Executed {
  readonly handles: unknown[]
  readonly owned: boolean[]
}

/** A kernel's typed failure, carried through the run as an EvalFailure (anything else is thrown as it is). */
const carried = (e: unknown): unknown => (e instanceof BackendError || e instanceof LinalgError || e instanceof ControlFlowError ? new EvalFailure(e) : e)

/**
 * A kernel's answer that is not finished: a long loop that ran until the
 * slice's deadline. The execution yields to the runtime, then calls
 * `resume` with the next slice's deadline until it answers true, and then
 * takes `result()`. `cancel` releases what it made (an interrupted or failed
 * run). Only an execution that yields (`execute`, not `executeSync`) offers a
 * deadline to its kernels (`takeDeadline`), so only there may a kernel
 * answer this way.
 */
export interface Resumable {
  readonly resume: (deadline: number) => boolean
  readonly result: () => unknown
  readonly cancel: () => void
}

const RESUMABLE: unique symbol = Symbol.for("diffect/Resumable")

/** Marks `r` as a resumable answer (see {@link Resumable}). */
export const resumable = (r: Resumable): Resumable => Object.assign(r, { [RESUMABLE]: true })

const isResumable = (h: unknown): h is Resumable => typeof h === "object" && h !== null && RESUMABLE in h

/** The current slice's deadline, offered to the kernel being called by an execution that yields. */
let offered: number | undefined = undefined

/**
 * The deadline (a `performance.now()` time) by which the kernel being called
 * should answer, `undefined` if it must finish synchronously. Taking it
 * withdraws the offer, so kernels the caller runs inside (a loop's body)
 * finish synchronously.
 */
export const takeDeadline = (): number | undefined => {
  const d = offered
  offered = undefined
  return d
}

/**
 * Whether the kernel being called may answer with a Promise: it is called
 * by an execution that yields (an Effect), not inside a loop's body nor by
 * a synchronous evaluation, which refuse Promises. A backend that can check
 * a kernel's result only by reading it back asynchronously (WebGPU's
 * cholesky: is every matrix positive-definite?) does so where this is true.
 * Unlike `takeDeadline`, asking does not withdraw the offer.
 */
export const mayAnswerAsync = (): boolean => offered !== undefined

/** One run of a plan, resumable between steps. */
export class Execution {
  private readonly slots: unknown[]
  /**
   * Whether each slot holds a buffer this run made (a number per slot, not a
   * Map of buffers: a long plan would leave the Map's rehashed tables behind).
   */
  private readonly mine: Uint8Array
  /** The buffers this run made that more than one live slot holds (a kernel that answered with its operand), with how many. */
  private readonly shared = new Map<unknown, number>()
  private next = 0

  constructor(
    readonly plan: Plan,
    inputs: ReadonlyArray<unknown>
  ) {
    this.slots = new Array<unknown>(plan.slots)
    this.mine = new Uint8Array(plan.slots)
    for (const [s, t] of plan.consts) this.slots[s] = sourceHandle(plan.backend, t)
    plan.inputs.forEach((s, k) => (this.slots[s] = inputs[k]))
  }

  /**
   * A kernel that answered with a Promise (a backend that must read its
   * operands back first): the run continues once it settles (see `execute`).
   */
  waiting: Promise<void> | undefined = undefined
  private aborted = false
  /** A kernel that answered with a Resumable, to resume in the next slice. */
  private pending: { readonly i: number; readonly args: ReadonlyArray<KernelArg>; readonly r: Resumable } | undefined = undefined

  /**
   * Runs steps until all are done (true), or `deadline` (a `performance.now()`
   * time) has passed or a kernel is `waiting` (false).
   */
  run(deadline: number): boolean {
    const { steps, backend, slotAvals } = this.plan
    const { count, out, run, params, argAt, args: argSlots, views } = steps
    const fusion = backend.fusion
    const slots = this.slots
    const pending = this.pending
    if (pending !== undefined) {
      let done: boolean, h: unknown
      try {
        done = pending.r.resume(deadline)
        h = done ? pending.r.result() : undefined
      } catch (e) {
        this.pending = undefined
        throw carried(e)
      }
      if (!done) return false
      this.pending = undefined
      this.complete(pending.i, pending.args, h)
    }
    while (this.next < count) {
      const i = this.next++
      const a0 = argAt[i]!
      const n = argAt[i + 1]! - a0
      const args: KernelArg[] = new Array(n)
      const vs = views.at(i)
      for (let j = 0; j < n; j++) {
        const s = argSlots[a0 + j]!
        const v = vs?.[j]
        const a = slotAvals.at(s)
        args[j] = v === undefined ? { handle: slots[s], shape: a.shape, dtype: a.dtype } : { handle: slots[s], shape: v.shape, dtype: v.dtype, strides: v.strides, offset: v.offset }
      }
      const r = run.at(i)
      const aval = slotAvals.at(out[i]!)
      let h: unknown
      offered = deadline === Infinity ? undefined : deadline
      try {
        h = typeof r === "function" ? r(args, params.at(i) as never, aval) : fusion!.kernel(r, args, aval)
      } catch (e) {
        throw carried(e)
      } finally {
        offered = undefined
      }
      if (isResumable(h)) {
        // a long loop stopped at the deadline: yield, then resume it
        this.pending = { i, args, r: h }
        return false
      }
      if (h instanceof Promise) {
        this.waiting = h.then(
          (v: unknown) => {
            this.waiting = undefined
            if (this.aborted) releaseHandle(backend, v)
            else this.complete(i, args, v)
          },
          (e: unknown) => {
            this.waiting = undefined
            throw carried(e)
          }
        )
        // an interrupted run no longer waits for it: its failure then concerns nobody
        this.waiting.catch(() => undefined)
        return false
      }
      this.complete(i, args, h)
      if ((this.next & 7) === 0 && performance.now() > deadline) return this.next >= count
    }
    return true
  }

  /** Stores the result `h` of step `i` and releases the buffers read for the last time. */
  private complete(i: number, args: ReadonlyArray<KernelArg>, h: unknown): void {
    const { steps } = this.plan
    const s = steps.out[i]!
    this.slots[s] = h
    // an argument's handle returned as is is ours only if that argument's buffer is (else it belongs to a source)
    const a0 = steps.argAt[i]!
    let from = -1
    for (let j = 0; j < args.length && from < 0; j++) if (args[j]!.handle === h) from = steps.args[a0 + j]!
    if (from < 0) this.mine[s] = 1
    else if (this.mine[from] === 1) {
      this.mine[s] = 1
      this.shared.set(h, (this.shared.get(h) ?? 1) + 1)
    }
    const { freeAt, free } = steps
    for (let k = freeAt[i]!; k < freeAt[i + 1]!; k++) this.drop(free[k]!)
  }

  /** Empties slot `s`, releasing its buffer when it is ours and no other slot holds it. */
  private drop(s: number): void {
    const h = this.slots[s]
    this.slots[s] = undefined
    if (this.mine[s] === 0) return
    this.mine[s] = 0
    const c = this.shared.get(h)
    if (c === undefined) releaseHandle(this.plan.backend, h)
    else if (c === 2) this.shared.delete(h)
    else this.shared.set(h, c - 1)
  }

  /** The outputs; buffers made by this run that are not outputs are released. */
  finish(): Executed {
    const outs = this.plan.outputs
    const handles = outs.map((s) => this.slots[s])
    const owned = outs.map((s) => this.mine[s] === 1)
    // (every other slot of ours was emptied after its last read: only slots holding an output's buffer can be left)
    for (let s = 0; s < this.mine.length; s++) if (this.mine[s] === 1 && !outs.includes(s) && !handles.includes(this.slots[s])) this.drop(s)
    this.mine.fill(0)
    this.shared.clear()
    return { handles, owned }
  }

  /** Releases every buffer this run made (after a failure or an interruption). */
  abort(): void {
    this.aborted = true
    if (this.pending !== undefined) {
      this.pending.r.cancel()
      this.pending = undefined
    }
    for (let s = 0; s < this.mine.length; s++) if (this.mine[s] === 1) this.drop(s)
  }
}

/** Turns what evaluation throws into a typed failure (anything else is a defect). */
export const failureOf = (e: unknown): Effect.Effect<never, TensorError> => {
  if (e instanceof EvalFailure) return Effect.fail(e.error)
  if (e instanceof BackendError || e instanceof ShapeError || e instanceof DTypeError || e instanceof ConcretizationError || e instanceof LinalgError || e instanceof ControlFlowError)
    return Effect.fail(e)
  return Effect.die(e)
}

/** How long a run goes on before it yields to other fibers. */
export const SLICE_MS = 4

/** Runs a plan to its end synchronously (no yielding). */
export const executeSync = (plan: Plan, inputs: ReadonlyArray<unknown>): Executed => {
  const ex = new Execution(plan, inputs)
  try {
    ex.run(Infinity)
    if (ex.waiting !== undefined)
      throw new EvalFailure(new BackendError({ message: `${plan.backend.name} backend: this evaluation reads values back asynchronously; run it as an Effect` }))
  } catch (e) {
    ex.abort()
    throw e
  }
  return ex.finish()
}

/**
 * Runs a plan as an Effect: steps in slices of SLICE_MS, yielding to the
 * runtime between slices. Interruption stops it at the next yield and
 * releases the buffers it made.
 */
export const execute = (plan: Plan, inputs: ReadonlyArray<unknown>): Effect.Effect<Executed, TensorError> =>
  Effect.suspend(() => {
    let ex: Execution
    try {
      ex = new Execution(plan, inputs)
    } catch (e) {
      return failureOf(e)
    }
    const slice = (): boolean | Effect.Effect<never, TensorError> => {
      try {
        return ex.run(performance.now() + SLICE_MS)
      } catch (e) {
        ex.abort()
        return failureOf(e)
      }
    }
    const first = slice()
    if (first === true) return Effect.succeed(ex.finish()) // short: no yield, nothing to interrupt
    if (first !== false) return first
    // a kernel that answered with a Promise: wait for it without blocking, then go on
    const pause = (): Effect.Effect<unknown, TensorError> => {
      const waiting = ex.waiting
      if (waiting === undefined) return Effect.yieldNow
      return Effect.tryPromise({ try: () => waiting, catch: (e) => e }).pipe(
        Effect.catch((e) => {
          ex.abort()
          return failureOf(e)
        })
      )
    }
    const loop = (): Effect.Effect<Executed, TensorError> =>
      Effect.flatMap(pause(), () => {
        const done = slice()
        return done === true ? Effect.succeed(ex.finish()) : done === false ? loop() : done
      })
    return loop().pipe(Effect.onInterrupt(() => Effect.sync(() => ex.abort())))
  })
