/**
 * What a `loop` node's kernel leaves in its slot: the handles of all its
 * results, read one by one by its `loopOut` nodes. A result is `fresh` when
 * the loop made its buffer; a `loopOut` that takes a fresh one hands it to
 * the execution, and those not taken go back to the backend when the slot
 * is released.
 */
import type { BackendShape } from "../Backend.js"

export class LoopResult {
  private readonly taken = new Set<unknown>()
  constructor(
    readonly handles: ReadonlyArray<unknown>,
    readonly fresh: ReadonlyArray<boolean>
  ) {}

  /** The handle of result `i` (a fresh one now belongs to the caller). */
  take(i: number): unknown {
    const h = this.handles[i]
    if (this.fresh[i]) this.taken.add(h)
    return h
  }

  /** Gives back the fresh buffers no `loopOut` took. */
  release(backend: BackendShape): void {
    const done = new Set<unknown>()
    this.handles.forEach((h, i) => {
      if (!this.fresh[i] || this.taken.has(h) || done.has(h)) return
      done.add(h)
      backend.dispose(h)
    })
  }
}

/** Disposes a slot's handle: a buffer, or a loop's results. */
export const releaseHandle = (backend: BackendShape, h: unknown): void => {
  if (h instanceof LoopResult) h.release(backend)
  else backend.dispose(h)
}
