/**
 * The CPU backend's worker pool: threads that share the WebAssembly memory
 * of `wasm.ts` and split a kernel's work into chunks (matmul by blocks of
 * output rows, the float32 sin/cos/exp kernels by ranges of elements, sums
 * and maxima by fixed blocks: `reduce.ts`, the direct float32 convolution
 * by images: `wasm-conv.ts`).
 *
 * - Node: node:worker_threads (taken with `process.getBuiltinModule`, so the
 *   package imports nothing Node-only); workers are `unref`'d and never keep
 *   a process alive.
 * - Browsers: Web Workers from a Blob URL, only where `crossOriginIsolated`
 *   allows sharing memory; elsewhere the pool is the main thread alone.
 * - Everywhere else (no workers, no shared WebAssembly memory) the chunks run
 *   on the calling thread: the same code, the same bits.
 *
 * A pool starts its workers lazily, on the first job big enough to split,
 * and the calling thread always takes part: it claims chunks too, so a job
 * never waits for a worker that is still starting. While the workers finish
 * their chunks the calling thread blocks in `Atomics.wait` (allowed on
 * Node's main thread and in workers); on a browser's main thread, where
 * blocking is not allowed, it spins on `Atomics.load` (the wait is one
 * chunk long at most).
 *
 * Results do not depend on the number of threads: a chunk computes a fixed
 * part of the output the same way whoever runs it; the only results
 * combined across chunks are a reduction's partials, whose blocks are fixed
 * in size and combined in block order on the calling thread.
 *
 * A worker that exits (killed, crashed) marks the pool broken: the next job
 * fails with a `BackendError` naming it, and the pool restarts with fresh
 * workers for the job after.
 */
import { BackendError } from "../../Errors.js"
import { cosF, expF, sinF, tanhF } from "./fastmath.js"
import { reduceSource } from "./reduce-blocks.js"
import { ACC, ARGS, AVAIL, CLAIM, CONTROL_INTS, DONE, ERR, FIN, FIN_CHUNKS, KIND, READY, SEQ, SLEEPERS, STOP, WORKED, claimSource, nodeWorkerSource, runnerSource, webWorkerSource } from "./worker-source.js"

/** What a pool needs of `wasm.ts`: the shared memory, the module and the calling thread's instance. */
export interface SharedWasm {
  readonly memory: WebAssembly.Memory
  readonly module: WebAssembly.Module
  readonly exports: object
}

/** The part of a worker the pool uses (a Node Worker or a Web Worker behind one interface). */
interface WorkerHandle {
  readonly post: (message: unknown) => void
  /** Terminates it as a crash would (tests). */
  readonly terminate: () => void
  /** Terminates it on purpose (its exit is not a failure). */
  readonly retire: () => void
}

type Run = (kind: number, chunk: number) => void
type ClaimAll = (ctl: Int32Array, run: Run, after?: (chunk: number) => void) => number

/**
 * The float32 sin, cos, exp, tanh of fastmath.ts as source, for the fused loops a
 * thread compiles (the same functions: built from their own text; expF's
 * and tanhF's table of powers of two is rebuilt with the same Math.pow), and the units
 * of the blocked reductions (reduce-blocks.ts).
 */
const mathSource = `const sinF = (${sinF.toString()}), cosF = (${cosF.toString()})
  const POW2 = new Float64Array(2100)
  for (let k = -1050; k < 1050; k++) POW2[k + 1050] = Math.pow(2, k)
  const expF = (${expF.toString()}), tanhF = (${tanhF.toString()})
  ${reduceSource}`

const claimAll = new Function(`${claimSource}; return claimAll`)() as ClaimAll
const makeRunner = new Function(`${runnerSource(mathSource)}; return makeRunner`)() as (ex: object, ctl: Int32Array, memory: WebAssembly.Memory) => Run

/** How many times the calling thread polls for the workers' last chunks before it sleeps (some 100 µs). */
const MAIN_SPIN = 20000

/** Restarts whose workers never became ready before the pool gives up on workers. */
const MAX_FAILED_STARTS = 3

/** Jobs with long waits for a worker before the pool backs off to one thread, and for how long (ms). */
const STRIKES = 3
const BACKOFF_MS = 1000

/** With no progress for this long, the job is abandoned (a worker died inside a chunk). */
const STALL_MS = 20000

interface NodeWorkerThreads {
  readonly Worker: new (source: string, options: { eval: true }) => {
    postMessage(m: unknown): void
    terminate(): Promise<number>
    unref(): void
    on(event: "exit", f: (code: number) => void): void
    on(event: "error", f: (e: unknown) => void): void
  }
}

const g = globalThis as unknown as {
  process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown }
  navigator?: { hardwareConcurrency?: number }
  crossOriginIsolated?: boolean
  document?: unknown
  Worker?: new (url: string) => { postMessage(m: unknown): void; terminate(): void; onerror: ((e: unknown) => void) | null }
}

const nodeThreads = (): NodeWorkerThreads | undefined => {
  try {
    return g.process?.versions?.node !== undefined ? (g.process.getBuiltinModule?.("node:worker_threads") as NodeWorkerThreads | undefined) : undefined
  } catch {
    return undefined
  }
}

/** Whether this environment can run workers on a shared memory at all. */
export const workersAvailable = (): boolean =>
  typeof SharedArrayBuffer === "function" && (nodeThreads() !== undefined || (typeof g.Worker === "function" && g.crossOriginIsolated === true))

/** The number of cores (the default size of a pool). */
export const coreCount = (): number => {
  const os = g.process?.versions?.node !== undefined ? (g.process.getBuiltinModule?.("node:os") as { availableParallelism?: () => number; cpus?: () => unknown[] } | undefined) : undefined
  const n = os?.availableParallelism?.() ?? os?.cpus?.().length ?? g.navigator?.hardwareConcurrency ?? 1
  return Math.max(1, Math.floor(n))
}

/** The calling thread may block in Atomics.wait (not on a browser's main thread). */
const canBlock = g.document === undefined

interface Started {
  readonly shared: SharedWasm
  readonly ctl: Int32Array
  readonly run: Run
  readonly workers: ReadonlyArray<WorkerHandle>
}

/** A worker pool of `threads` threads in all (the calling one included). */
export class Pool {
  /** The pools whose workers are running (tests). */
  static readonly running = new Set<Pool>()
  private state: Started | undefined
  private broken: string | undefined
  private closed = false
  /** Restarts in a row whose workers never became ready. */
  private failedStarts = 0
  /** Jobs lately in which the calling thread waited for a worker longer than it computed. */
  private strikes = 0
  /** Until then (performance.now()), jobs run on the calling thread alone. */
  private soloUntil = 0

  /** `backoff: false` keeps the workers in every job, however long the waits (tests). */
  constructor(readonly threads: number, private readonly backoff = true) {}

  /** Workers that have instantiated the module and take chunks (tests, benchmarks). */
  get ready(): number {
    return this.state !== undefined ? Atomics.load(this.state.ctl, READY) : 0
  }

  /** How many chunks workers (not the calling thread) have run since the pool started (tests). */
  get workerChunks(): number {
    return this.state !== undefined ? Atomics.load(this.state.ctl, WORKED) : 0
  }

  /** How many worker threads are started (tests). */
  get started(): number {
    return this.state?.workers.length ?? 0
  }

  /** Terminates one worker as if it had crashed (tests). */
  killOne(): void {
    this.state?.workers[0]?.terminate()
  }

  private start(shared: SharedWasm): Started {
    const ctl = new Int32Array(typeof SharedArrayBuffer === "function" ? new SharedArrayBuffer(4 * CONTROL_INTS) : new ArrayBuffer(4 * CONTROL_INTS))
    const workers: WorkerHandle[] = []
    const state: Started = { shared, ctl, run: makeRunner(shared.exports, ctl, shared.memory), workers }
    this.broken = undefined
    const wanted = this.closed || !(shared.memory.buffer instanceof SharedArrayBuffer) ? 0 : this.threads - 1
    const init = { module: shared.module, memory: shared.memory, control: ctl.buffer }
    const node = wanted > 0 ? nodeThreads() : undefined
    for (let i = 0; i < wanted; i++) {
      let retired = false
      const died = (why: string) => {
        if (!retired && this.state === state && this.broken === undefined) this.broken = why
      }
      try {
        if (node !== undefined) {
          const w = new node.Worker(nodeWorkerSource(mathSource), { eval: true })
          w.unref()
          w.on("exit", (code) => died(`a worker thread of the CPU backend exited (code ${code})`))
          w.on("error", (e) => died(`a worker thread of the CPU backend failed: ${String(e)}`))
          w.postMessage(init)
          workers.push({ post: (m) => w.postMessage(m), terminate: () => void w.terminate(), retire: () => ((retired = true), void w.terminate()) })
        } else if (typeof g.Worker === "function" && g.crossOriginIsolated === true) {
          const url = URL.createObjectURL(new Blob([webWorkerSource(mathSource)], { type: "text/javascript" }))
          const w = new g.Worker(url)
          URL.revokeObjectURL(url)
          w.onerror = (e) => died(`a worker of the CPU backend failed: ${String((e as { message?: string }).message ?? e)}`)
          w.postMessage(init)
          workers.push({ post: (m) => w.postMessage(m), terminate: () => w.terminate(), retire: () => ((retired = true), w.terminate()) })
        }
      } catch {
        break // fewer workers: the calling thread does their share
      }
    }
    this.state = state
    if (workers.length > 0) Pool.running.add(this)
    return state
  }

  /** Stops the workers (they leave their wait and are terminated); the next job starts new ones. */
  private stop(): void {
    const s = this.state
    this.state = undefined
    Pool.running.delete(this)
    if (s === undefined) return
    Atomics.store(s.ctl, STOP, 1)
    Atomics.add(s.ctl, SEQ, 1)
    if (s.workers.length > 0) Atomics.notify(s.ctl, SEQ)
    for (const w of s.workers) w.retire()
  }

  /** Shuts the pool down for good (the Layer's finalizer); later jobs run on the calling thread alone. */
  close(): void {
    this.closed = true
    this.stop()
  }

  /**
   * Backs off when the machine is oversubscribed: a worker that was
   * descheduled while holding a chunk makes the calling thread wait longer
   * than it took to compute its own share. After STRIKES such jobs in a row
   * (roughly: a wait is a strike, a quick job takes one back), the next
   * jobs run on the calling thread alone for BACKOFF_MS, then the workers
   * are tried again. The bits do not change: only who computes the chunks.
   */
  private pace(own: number, waited: number): void {
    if (waited > Math.max(own, 0.2)) this.strikes++
    else if (this.strikes > 0) this.strikes--
    if (this.strikes >= STRIKES) {
      this.strikes = 0
      this.soloUntil = performance.now() + BACKOFF_MS
    }
  }

  /**
   * Runs chunks 0 … chunks − 1 of a job (`kind`, integer `args`) on
   * `shared`'s memory, on every thread of the pool; returns the job's ACC
   * slot. A chunk that threw (unless `tolerant`: then the result is NaN), or
   * a worker that died since the last job, is a BackendError (the pool
   * restarts for the next job).
   *
   * `feed(c)`, when given, places chunk c's input in the shared memory: the
   * calling thread runs it for c = 0, 1, … after publishing the job, and
   * chunk c may be claimed once it has run, so the workers compute the first
   * chunks while the rest is copied. `during()` runs after the feeds,
   * before the calling thread claims chunks (work of its own the job does
   * not read). `drain(c)` copies chunk c's result out of the shared memory:
   * the calling thread runs it after each chunk it computed, and for the
   * others once the job is done (not after a failure).
   */
  exec(
    shared: SharedWasm, kind: number, args: ReadonlyArray<number>, chunks: number, tolerant = false,
    io: { readonly feed?: (chunk: number) => void; readonly during?: () => void; readonly drain?: (chunk: number) => void } = {}
  ): number {
    if (this.broken !== undefined) {
      const why = this.broken
      // workers that die before ever taking a job (they cannot start here): after a few tries, none are started again
      this.failedStarts = this.ready > 0 ? 0 : this.failedStarts + 1
      this.stop()
      this.broken = undefined
      if (this.failedStarts >= MAX_FAILED_STARTS) this.closed = true
      throw new BackendError({ message: `${why}; the CPU backend's worker pool was ${this.closed ? "stopped (its workers never started), kernels run on the calling thread" : "restarted"}` })
    }
    let s = this.state
    if (s === undefined || s.shared !== shared) {
      this.stop()
      s = this.start(shared)
    }
    const ctl = s.ctl
    for (let i = 0; i < args.length; i++) ctl[ARGS + i] = args[i]!
    ctl[KIND] = kind
    ctl[ERR] = 0
    ctl[ACC] = 0
    const feed = io.feed
    const drain = io.drain
    const t0 = performance.now()
    const together = s.workers.length > 0 && chunks > 1 && t0 >= this.soloUntil
    // the finished flags of the chunks that have one (see FIN), where workers take part
    const flagged = drain !== undefined && together ? Math.min(chunks, FIN_CHUNKS) : 0
    if (flagged > 0) ctl.fill(0, FIN, FIN + flagged)
    Atomics.store(ctl, AVAIL, feed === undefined ? chunks : 0)
    Atomics.store(ctl, DONE, 0)
    Atomics.store(ctl, CLAIM, chunks << 16)
    if (together) {
      Atomics.add(ctl, SEQ, 1)
      if (Atomics.load(ctl, SLEEPERS) > 0) Atomics.notify(ctl, SEQ)
    }
    let failure: { readonly e: unknown } | undefined
    try {
      if (feed !== undefined)
        for (let c = 0; c < chunks; c++) {
          feed(c)
          Atomics.store(ctl, AVAIL, c + 1)
          if (together) Atomics.notify(ctl, AVAIL)
        }
      io.during?.()
    } catch (e) {
      // the job still runs to its end (on whatever is in place), then the failure is the caller's
      failure = { e }
      Atomics.store(ctl, AVAIL, chunks)
    }
    const drained = drain !== undefined ? new Uint8Array(chunks) : undefined
    let draining: unknown
    const drainOne = (c: number) => {
      try {
        drain!(c)
        drained![c] = 1
      } catch (e) {
        draining = e
      }
    }
    // the first flagged chunk not copied out yet
    let first = 0
    /** Copies out the chunks the workers have finished (their FIN slot set) and this thread has not. */
    const drainFinished = () => {
      while (first < flagged && drained![first] === 1) first++
      // chunks not claimed yet cannot be finished
      const end = Math.min(flagged, Atomics.load(ctl, CLAIM) & 0xffff)
      for (let c = first; c < end && draining === undefined; c++)
        if (drained![c] === 0 && Atomics.load(ctl, FIN + c) === 1) drainOne(c)
    }
    const after =
      drain !== undefined
        ? (c: number) => {
            if (draining !== undefined) return
            drainOne(c)
            // and the workers' results so far, while they compute the next chunks
            if (flagged > 0) drainFinished()
          }
        : undefined
    claimAll(ctl, s.run, after)
    const t1 = performance.now()
    let done = Atomics.load(ctl, DONE)
    // the last chunks are usually a fraction of a chunk away: poll for a while (copying out what is finished) before sleeping
    for (let i = 0; done < chunks && i < MAIN_SPIN; i++) {
      if (flagged > 0 && draining === undefined) drainFinished()
      done = Atomics.load(ctl, DONE)
    }
    let last = Date.now()
    while (done < chunks) {
      if (canBlock) Atomics.wait(ctl, DONE, done, 1000)
      const now = Atomics.load(ctl, DONE)
      if (now !== done) {
        done = now
        last = Date.now()
      } else if (Date.now() - last > STALL_MS) {
        this.stop()
        throw new BackendError({ message: `a worker thread of the CPU backend did not finish its part of a kernel in ${STALL_MS / 1000} s; the worker pool was restarted` })
      }
    }
    if (together && this.backoff) this.pace(t1 - t0, performance.now() - t1)
    if (failure !== undefined) throw failure.e
    if (ctl[ERR] !== 0 && tolerant) return Number.NaN
    if (ctl[ERR] !== 0) throw new BackendError({ message: `a CPU kernel failed in a thread of the worker pool (job kind ${kind})` })
    if (draining !== undefined) throw draining
    if (drain !== undefined && drained !== undefined) for (let c = 0; c < chunks; c++) if (drained[c] === 0) drain(c)
    return ctl[ACC]!
  }
}

/** Runs jobs on the calling thread alone (no pool, or one thread). */
export const solo = new Pool(1)

/** The pool the running kernel uses (set around each kernel call by the backend). */
let current: Pool = solo

/** The pool of the running kernel. */
export const currentPool = (): Pool => current

/** Runs `f` with `pool` as the current pool. */
export const withPool = <A>(pool: Pool, f: () => A): A => {
  const prev = current
  current = pool
  try {
    return f()
  } finally {
    current = prev
  }
}
