/**
 * Control flow as higher-order primitives: a `loop` node holds sub-programs
 * (traced once) and runs them on the backend, step after step, without
 * building any graph per iteration.
 *
 * Kinds (the node's operands, in order, and its results):
 * - `scan`: operands `[...init, ...xs, ...consts]`; the body program takes
 *   `[...carry, ...x, ...consts]` (x one slice of each xs along axis 0) and
 *   gives `[...carry, ...y]`; results `[...final carry, ...ys]` with the
 *   ys stacked on a new axis 0 (index k holds step k's y, also when
 *   `reverse` runs the steps from the end);
 * - `while`: operands `[...init, ...consts]`; `cond` and `body` take
 *   `[...carry, ...consts]`, `cond` gives a bool scalar and `body` the next
 *   carry; results the final carry;
 * - `cond`: operands `[pred?, ...operands]`; every branch takes the
 *   operands and gives results of the same avals; `pred` (a bool scalar)
 *   picks branch 0 when true, branch 1 when false. Without `pred` there is
 *   one branch: a checkpointed call (its reverse mode recomputes it).
 *
 * A node has several results: `loopOut` nodes read them (see tensor.ts).
 * Its buffers: the carries of a step are freed when the next step has
 * used them; a scan's ys go into one stacked buffer per output on
 * backends whose buffers are host arrays (the CPU), or are stacked on the
 * device at the end (WebGL: no step reads anything back to the host).
 */
import type { BackendShape, KernelArg } from "../Backend.js"
import { allocHost, type DType, type HostArray } from "../DType.js"
import type { Aval } from "./bind.js"
import { BackendError, ControlFlowError, LinalgError } from "../Errors.js"
import { executeSync, type Resumable, resumable, sourceHandle, takeDeadline } from "./execute.js"
import { LoopResult, releaseHandle } from "./loop-result.js"
import { EvalFailure } from "./plan.js"
import { type Plan, planGraph } from "./plan.js"
import type { Program } from "./program.js"
import { sizeOf } from "./shape.js"
import { Tensor } from "./tensor.js"

type Run = (backend: BackendShape, params: never, args: ReadonlyArray<KernelArg>, out: Aval) => unknown

/** What reverse mode saved for a scan node it made store residuals (see loop-rules.ts). */
export interface ScanResiduals {
  /** The body before residuals were added, and which ys had cotangents. */
  readonly original: Program
  readonly key: string
  /** The index of the first residual among the node's results. */
  readonly first: number
}

export interface ScanParams {
  readonly kind: "scan"
  readonly run: Run
  readonly body: Program
  readonly length: number
  readonly reverse: boolean
  readonly numCarry: number
  readonly numX: number
  /** Reverse mode stores only the carries and recomputes the rest (`checkpoint`). */
  readonly checkpoint: boolean
  readonly residuals?: ScanResiduals | undefined
  /**
   * Carries that are sums: for these, the body's output is the increment
   * (carry ← carry + output), added in place where buffers are host arrays,
   * and the body does not read the carry. Reverse mode sums the cotangents
   * of the constants this way.
   */
  readonly accumulate?: ReadonlyArray<number> | undefined
}

export interface WhileParams {
  readonly kind: "while"
  readonly run: Run
  readonly cond: Program
  readonly body: Program
  readonly numCarry: number
}

export interface CondParams {
  readonly kind: "cond"
  readonly run: Run
  readonly branches: ReadonlyArray<Program>
  readonly hasPred: boolean
}

export type LoopParams = ScanParams | WhileParams | CondParams

/** The params of a `loopOut` node. */
export interface LoopOutParams {
  readonly index: number
  readonly run: Run
}

const isHostArray = (h: unknown): h is HostArray => ArrayBuffer.isView(h)

/** Host array elements per tensor element. */
const lanes = (dtype: DType): number => (dtype === "complex64" ? 2 : 1)

/** Reference counts of the buffers a loop made (disposed when the count drops to zero). */
class Owned {
  private readonly refs = new Map<unknown, number>()
  constructor(private readonly backend: BackendShape) {}
  /** A buffer the loop just made, held by nobody yet. */
  made(h: unknown): void {
    if (!this.refs.has(h)) this.refs.set(h, 0)
  }
  has(h: unknown): boolean {
    return this.refs.has(h)
  }
  hold(h: unknown): void {
    const c = this.refs.get(h)
    if (c !== undefined) this.refs.set(h, c + 1)
  }
  drop(h: unknown): void {
    const c = this.refs.get(h)
    if (c === undefined) return
    if (c <= 1) {
      this.refs.delete(h)
      this.backend.dispose(h)
    } else this.refs.set(h, c - 1)
  }
  /** Disposes the buffers nobody holds. */
  sweep(): void {
    for (const [h, c] of this.refs)
      if (c === 0) {
        this.refs.delete(h)
        this.backend.dispose(h)
      }
  }
  /** Stops tracking `h` (it is handed out). */
  give(h: unknown): void {
    this.refs.delete(h)
  }
  disposeAll(): void {
    for (const h of this.refs.keys()) this.backend.dispose(h)
    this.refs.clear()
  }
}

/** Plans of sub-programs, per backend: planned once, run at every step (so small elementwise chains are fused too). */
const bodyPlans = new WeakMap<Program, WeakMap<BackendShape, Plan>>()

const bodyPlan = (p: Program, backend: BackendShape): Plan => {
  let byBackend = bodyPlans.get(p)
  if (byBackend === undefined) bodyPlans.set(p, (byBackend = new WeakMap()))
  let plan = byBackend.get(backend)
  if (plan === undefined) byBackend.set(backend, (plan = planGraph(backend, p.outputs, p.inputs, undefined, { fuseMin: 1 })))
  return plan
}

/**
 * Runs a body's plan again and again (the steps of one loop): the slots,
 * the constants' buffers and the kernels' argument records are made once
 * and reused at every step; only the buffers change.
 */
class BodyRunner {
  private readonly slots: unknown[]
  private readonly args: KernelArg[][]
  private readonly refs = new Map<unknown, number>()
  constructor(private readonly plan: Plan) {
    this.slots = new Array<unknown>(plan.slots)
    for (const [s, t] of plan.consts) this.slots[s] = sourceHandle(plan.backend, t)
    const { count, argAt, args, views } = plan.steps
    this.args = []
    for (let i = 0; i < count; i++) {
      const list: KernelArg[] = []
      for (let j = 0; j < argAt[i + 1]! - argAt[i]!; j++) {
        const v = views.at(i)?.[j]
        const a = plan.slotAvals.at(args[argAt[i]! + j]!)
        list.push(v === undefined ? { handle: undefined, shape: a.shape, dtype: a.dtype } : { handle: undefined, shape: v.shape, dtype: v.dtype, strides: v.strides, offset: v.offset })
      }
      this.args.push(list)
    }
  }

  /** The outputs for `inputs`; the buffers it made are marked in `owned`. */
  run(inputs: ReadonlyArray<unknown>, owned: Owned): unknown[] {
    const { plan, slots, refs } = this
    const { backend, slotAvals } = plan
    const { count, out, run, params, argAt, args: argSlots, freeAt, free } = plan.steps
    const fusion = backend.fusion
    for (let k = 0; k < plan.inputs.length; k++) slots[plan.inputs[k]!] = inputs[k]
    try {
      for (let i = 0; i < count; i++) {
        const args = this.args[i]!
        const a0 = argAt[i]!
        for (let j = 0; j < args.length; j++) (args[j] as { handle: unknown }).handle = slots[argSlots[a0 + j]!]
        const r = run.at(i)
        const aval = slotAvals.at(out[i]!)
        let h: unknown
        try {
          h = typeof r === "function" ? r(args, params.at(i) as never, aval) : fusion!.kernel(r, args, aval)
        } catch (e) {
          if (e instanceof BackendError || e instanceof LinalgError || e instanceof ControlFlowError) throw new EvalFailure(e)
          throw e
        }
        if (h instanceof Promise)
          throw new EvalFailure(new BackendError({ message: `${backend.name} backend: a kernel inside a loop body answered asynchronously; loop bodies need synchronous kernels` }))
        slots[out[i]!] = h
        const c = refs.get(h)
        if (c !== undefined) refs.set(h, c + 1)
        else if (!args.some((a) => a.handle === h)) refs.set(h, 1)
        for (let k = freeAt[i]!; k < freeAt[i + 1]!; k++) {
          const s = free[k]!
          const fh = slots[s]
          slots[s] = undefined
          const n = refs.get(fh)
          if (n === undefined) continue
          if (n === 1) {
            refs.delete(fh)
            releaseHandle(backend, fh)
          } else refs.set(fh, n - 1)
        }
      }
    } catch (e) {
      for (const h of refs.keys()) releaseHandle(backend, h)
      refs.clear()
      throw e
    }
    const outs = plan.outputs.map((s) => slots[s])
    for (const h of refs.keys()) {
      if (outs.includes(h)) owned.made(h)
      else releaseHandle(backend, h)
    }
    refs.clear()
    return outs
  }
}

const runnerOf = (backend: BackendShape, p: Program): BodyRunner => new BodyRunner(bodyPlan(p, backend))

/** Runs one program on `inputs`, marking the buffers it made. */
const runProgram = (backend: BackendShape, p: Program, inputs: ReadonlyArray<unknown>, owned: Owned): unknown[] => {
  const r = executeSync(bodyPlan(p, backend), inputs)
  r.handles.forEach((h, i) => {
    if (r.owned[i]) owned.made(h)
  })
  return r.handles
}

/**
 * The loop's results: buffers it made are fresh; one that is an operand's
 * is handed on as it is (the `loopOut` reading it also reads the operands,
 * so the execution sees the alias); any other (a constant of a body, a view
 * into an operand) is copied, so every fresh buffer is the loop's own.
 */
const finish = (backend: BackendShape, handles: ReadonlyArray<unknown>, avals: ReadonlyArray<Aval>, args: ReadonlyArray<KernelArg>, owned: Owned): LoopResult => {
  const operands = new Set(args.map((a) => a.handle))
  const fresh = handles.map(() => true)
  const out = handles.map((h, i) => {
    if (owned.has(h)) return h
    if (operands.has(h)) {
      fresh[i] = false
      return h
    }
    const a = avals[i]!
    if (isHostArray(h) && backend.hostBuffers === true) return h.slice()
    // a backend that reads only asynchronously (WebGPU) shares the buffer instead of copying it through the host
    return backend.share !== undefined ? backend.share(h, a) : backend.upload(backend.download(h, a).slice() as HostArray, a)
  })
  for (const h of out) owned.give(h)
  owned.disposeAll()
  return new LoopResult(out, fresh)
}

// ------------------------------------------------------------------ scan

/** The avals of a loop's results. */
export const loopAvals = (p: LoopParams): Aval[] => {
  switch (p.kind) {
    case "scan":
      return p.body.outputs.map((t, i) => (i < p.numCarry ? { shape: t.shape, dtype: t.dtype } : { shape: [p.length, ...t.shape], dtype: t.dtype }))
    case "while":
      return p.body.outputs.map((t) => ({ shape: t.shape, dtype: t.dtype }))
    case "cond":
      return p.branches[0]!.outputs.map((t) => ({ shape: t.shape, dtype: t.dtype }))
  }
}

/** Slice k of a stacked operand (axis 0), on a device backend: a slice and a reshape kernel. */
const sliceAt = (backend: BackendShape, x: KernelArg, k: number, owned: Owned): unknown => {
  const inner = x.shape.slice(1)
  const one = { shape: [1, ...inner], dtype: x.dtype }
  const s = backend.kernels.slice([x], { starts: x.shape.map((_, d) => (d === 0 ? k : 0)), stops: x.shape.map((n, d) => (d === 0 ? k + 1 : n)) }, one)
  owned.made(s)
  owned.hold(s)
  const r = backend.kernels.reshape([{ handle: s, shape: one.shape, dtype: x.dtype }], { shape: inner }, { shape: inner, dtype: x.dtype })
  if (r !== s) {
    owned.made(r)
    owned.hold(r)
    owned.drop(s)
  }
  return r
}

/** Stacks per-step buffers of one aval on a new axis 0 on the device (concat of reshapes, in groups). */
const stackOnDevice = (backend: BackendShape, hs: ReadonlyArray<unknown>, a: Aval, owned: Owned): unknown => {
  if (hs.length === 0) {
    const h = backend.upload(allocHost(a.dtype, 0), { shape: [0, ...a.shape], dtype: a.dtype })
    owned.made(h)
    return h
  }
  const GROUP = 16
  let level: Array<{ h: unknown; n: number }> = hs.map((h) => {
    const r = backend.kernels.reshape([{ handle: h, shape: a.shape, dtype: a.dtype }], { shape: [1, ...a.shape] }, { shape: [1, ...a.shape], dtype: a.dtype })
    if (r !== h) {
      owned.made(r)
      owned.hold(r)
    } else owned.hold(h)
    return { h: r, n: 1 }
  })
  while (level.length > 1) {
    const next: Array<{ h: unknown; n: number }> = []
    for (let i = 0; i < level.length; i += GROUP) {
      const group = level.slice(i, i + GROUP)
      if (group.length === 1) {
        next.push(group[0]!)
        continue
      }
      const n = group.reduce((s, g) => s + g.n, 0)
      const h = backend.kernels.concat(
        group.map((g) => ({ handle: g.h, shape: [g.n, ...a.shape], dtype: a.dtype })),
        { axis: 0 },
        { shape: [n, ...a.shape], dtype: a.dtype }
      )
      owned.made(h)
      owned.hold(h)
      for (const g of group) owned.drop(g.h)
      next.push({ h, n })
    }
    level = next
  }
  return level[0]!.h
}

/**
 * Runs a loop's steps (`step` does one and says whether there was one to
 * do), then `done` for its result: all of them when `deadline` is undefined
 * (a synchronous evaluation, or a loop inside a loop's body); otherwise
 * until the deadline passes, answering then with a Resumable that the
 * execution resumes after yielding to the runtime (a long loop lets other
 * fibers run, and an interruption stops it between two steps, releasing
 * what it made).
 */
const stepped = (owned: Owned, step: () => boolean, done: () => LoopResult, deadline: number | undefined): LoopResult | Resumable => {
  let n = 0
  /** Runs steps until there are none left (true) or `until` has passed (false). */
  const advance = (until: number): boolean => {
    while (step()) if ((++n & 3) === 0 && performance.now() > until) return false
    return true
  }
  if (advance(deadline ?? Infinity)) return done()
  const guard = <A>(f: () => A): A => {
    try {
      return f()
    } catch (e) {
      owned.disposeAll()
      throw e
    }
  }
  return resumable({
    resume: (until) => guard(() => advance(until)),
    result: () => guard(done),
    cancel: () => owned.disposeAll()
  })
}

/** Runs a scan (see {@link stepped} for `deadline`). */
const runScan = (backend: BackendShape, p: ScanParams, args: ReadonlyArray<KernelArg>, deadline: number | undefined): LoopResult | Resumable => {
  const { body, length: T, reverse, numCarry: nc, numX: nx } = p
  const owned = new Owned(backend)
  try {
    const host = backend.hostBuffers === true
    const xs = args.slice(nc, nc + nx)
    const consts = args.slice(nc + nx).map((a) => a.handle)
    const ny = body.outputs.length - nc
    const yAvals = body.outputs.slice(nc).map((t) => ({ shape: t.shape, dtype: t.dtype }))
    const yLen = yAvals.map((a) => sizeOf(a.shape) * lanes(a.dtype))
    const xLen = xs.map((x) => sizeOf(x.shape.slice(1)) * lanes(x.dtype))
    const stacks: HostArray[] = host ? yAvals.map((a) => allocHost(a.dtype, T * sizeOf(a.shape))) : []
    const perStep: unknown[][] = host ? [] : yAvals.map(() => new Array<unknown>(T))
    let carry: unknown[] = args.slice(0, nc).map((a) => a.handle)
    const acc = p.accumulate ?? []
    for (const i of acc) {
      if (host) {
        // the sum, in a buffer of the loop's own, updated in place
        const own = (carry[i] as HostArray).slice()
        owned.made(own)
        owned.hold(own)
        carry[i] = own
      }
    }
    const inputs = new Array<unknown>(body.inputs.length)
    for (let j = 0; j < consts.length; j++) inputs[nc + nx + j] = consts[j]
    const slices: unknown[] = []
    const runner = T > 0 ? runnerOf(backend, body) : undefined
    let s = 0
    const step = (): boolean => {
      if (s >= T) return false
      const k = reverse ? T - 1 - s : s
      for (let i = 0; i < nc; i++) inputs[i] = carry[i]
      slices.length = 0
      for (let j = 0; j < nx; j++) {
        const x = xs[j]!
        const h = host && isHostArray(x.handle) ? x.handle.subarray(k * xLen[j]!, (k + 1) * xLen[j]!) : sliceAt(backend, x, k, owned)
        if (!host) slices.push(h)
        inputs[nc + j] = h
      }
      const out = runner!.run(inputs, owned)
      for (const i of acc) {
        const inc = out[i]
        if (host) {
          const sum = carry[i] as HostArray as Float64Array, d = inc as HostArray as Float64Array
          for (let e = 0; e < sum.length; e++) sum[e]! += d[e]!
          out[i] = sum
        } else {
          const a = body.outputs[i]!
          const h = backend.kernels.add([{ handle: carry[i], shape: a.shape, dtype: a.dtype }, { handle: inc, shape: a.shape, dtype: a.dtype }], {}, { shape: a.shape, dtype: a.dtype })
          owned.made(h)
          out[i] = h
        }
      }
      for (let i = 0; i < nc; i++) owned.hold(out[i])
      for (let j = 0; j < ny; j++) {
        const y = out[nc + j]
        if (host) stacks[j]!.set(y as HostArray, k * yLen[j]!)
        else {
          owned.hold(y)
          perStep[j]![k] = y
        }
      }
      for (const h of carry) owned.drop(h)
      for (const h of slices) owned.drop(h)
      owned.sweep()
      carry = out.slice(0, nc)
      s++
      return true
    }
    const done = (): LoopResult => {
      const ys: unknown[] = host ? stacks.map((st, j) => backend.upload(st, { shape: [T, ...yAvals[j]!.shape], dtype: yAvals[j]!.dtype })) : perStep.map((hs, j) => stackOnDevice(backend, hs, yAvals[j]!, owned))
      for (const y of ys) owned.made(y)
      if (!host) for (const hs of perStep) for (const h of hs) owned.drop(h)
      return finish(backend, [...carry, ...ys], loopAvals(p), args, owned)
    }
    return stepped(owned, step, done, deadline)
  } catch (e) {
    owned.disposeAll()
    throw e
  }
}

// ------------------------------------------------------------------ while and cond

/** Reads a bool scalar buffer. */
const truth = (backend: BackendShape, h: unknown): boolean => backend.download(h, { shape: [], dtype: "bool" })[0] !== 0

/**
 * Reads a bool scalar buffer where the backend reads only asynchronously
 * (WebGPU): the loop then answers with a Promise, which the execution awaits.
 */
const truthAsync = async (backend: BackendShape, h: unknown): Promise<boolean> =>
  (await backend.downloadAsync!(h, { shape: [], dtype: "bool" }))[0] !== 0

const runWhileAsync = async (backend: BackendShape, p: WhileParams, args: ReadonlyArray<KernelArg>): Promise<LoopResult> => {
  const owned = new Owned(backend)
  try {
    const nc = p.numCarry
    let carry = args.slice(0, nc).map((a) => a.handle)
    const consts = args.slice(nc).map((a) => a.handle)
    for (;;) {
      const inputs = [...carry, ...consts]
      const [pred] = runProgram(backend, p.cond, inputs, owned)
      const go = await truthAsync(backend, pred)
      owned.sweep()
      if (!go) break
      const out = runProgram(backend, p.body, inputs, owned)
      for (const h of out) owned.hold(h)
      for (const h of carry) owned.drop(h)
      owned.sweep()
      carry = out
    }
    return finish(backend, carry, loopAvals(p), args, owned)
  } catch (e) {
    owned.disposeAll()
    throw e
  }
}

const runCondAsync = async (backend: BackendShape, p: CondParams, args: ReadonlyArray<KernelArg>): Promise<LoopResult> => {
  const owned = new Owned(backend)
  try {
    const operands = args.slice(1).map((a) => a.handle)
    const branch = (await truthAsync(backend, args[0]!.handle)) ? p.branches[0]! : p.branches[1]!
    const out = runProgram(backend, branch, operands, owned)
    return finish(backend, out, loopAvals(p), args, owned)
  } catch (e) {
    owned.disposeAll()
    throw e
  }
}

/** Runs a while loop (see {@link stepped} for `deadline`). */
const runWhile = (backend: BackendShape, p: WhileParams, args: ReadonlyArray<KernelArg>, deadline: number | undefined): LoopResult | Resumable => {
  const owned = new Owned(backend)
  try {
    const nc = p.numCarry
    let carry = args.slice(0, nc).map((a) => a.handle)
    const consts = args.slice(nc).map((a) => a.handle)
    const condRunner = runnerOf(backend, p.cond)
    const bodyRunner = runnerOf(backend, p.body)
    const step = (): boolean => {
      const inputs = [...carry, ...consts]
      const [pred] = condRunner.run(inputs, owned)
      const go = truth(backend, pred)
      owned.sweep()
      if (!go) return false
      const out = bodyRunner.run(inputs, owned)
      for (const h of out) owned.hold(h)
      for (const h of carry) owned.drop(h)
      owned.sweep()
      carry = out
      return true
    }
    return stepped(owned, step, () => finish(backend, carry, loopAvals(p), args, owned), deadline)
  } catch (e) {
    owned.disposeAll()
    throw e
  }
}

const runCond = (backend: BackendShape, p: CondParams, args: ReadonlyArray<KernelArg>): LoopResult => {
  const owned = new Owned(backend)
  try {
    const operands = (p.hasPred ? args.slice(1) : args).map((a) => a.handle)
    const branch = p.hasPred && !truth(backend, args[0]!.handle) ? p.branches[1]! : p.branches[0]!
    const out = runProgram(backend, branch, operands, owned)
    return finish(backend, out, loopAvals(p), args, owned)
  } catch (e) {
    owned.disposeAll()
    throw e
  }
}

const runLoop: Run = (backend, params, args) => {
  const p = params as LoopParams
  // every loop takes the offer, so that the loops inside its bodies run to their end
  const deadline = takeDeadline()
  if (p.kind === "scan") return runScan(backend, p, args, deadline)
  // predicates are read back: asynchronously where the backend reads only so (the execution awaits the Promise)
  const readsAsync = backend.downloadAsync !== undefined
  if (p.kind === "while") return readsAsync ? runWhileAsync(backend, p, args) : runWhile(backend, p, args, deadline)
  return readsAsync && p.hasPred ? runCondAsync(backend, p, args) : runCond(backend, p, args)
}

const takeOut: Run = (_backend, params, args) => (args[0]!.handle as LoopResult).take((params as LoopOutParams).index)

// ------------------------------------------------------------------ nodes

type WithoutRun<P> = P extends unknown ? Omit<P, "run"> : never

/**
 * A loop node over `operands` and its results (the `loopOut` nodes users
 * see; the loop node itself is never a result).
 */
export const loopNode = (params: WithoutRun<LoopParams>, operands: ReadonlyArray<Tensor>): Tensor[] => {
  const p = { ...params, run: runLoop } as LoopParams
  const node = new Tensor({ shape: [], dtype: "float32", op: "loop", params: p, inputs: operands })
  return loopAvals(p).map((a, index) => loopOut(node, index, a))
}

/** Result `index` of a loop node. */
export const loopOut = (node: Tensor, index: number, a: Aval = loopAvals(node.params as LoopParams)[index]!): Tensor =>
  new Tensor({ shape: a.shape, dtype: a.dtype, op: "loopOut", params: { index, run: takeOut } satisfies LoopOutParams, inputs: [node, ...node.inputs] })

/** The number of results of a loop node. */
export const loopArity = (node: Tensor): number => loopAvals(node.params as LoopParams).length
