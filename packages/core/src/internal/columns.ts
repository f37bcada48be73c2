/**
 * Growable columns for walks over long graphs (an unrolled loop of 10⁵
 * steps has 10⁶ nodes). A JavaScript array grown by `push` copies itself
 * at every 1.5× growth: the copies it leaves behind come to twice its final
 * size, and a long walk keeps them long enough for V8 to move them to its
 * old space, where they stay until the next full collection (they set the
 * peak memory, not the live data). These columns grow by fixed chunks
 * instead, and give their values back as one array of the exact length.
 */

/**
 * A column of int32 grown by doubling (a JS array of numbers costs twice the
 * bytes). It starts at 16 elements, 64 bytes: V8 keeps a typed array that
 * small in its heap, while a larger one is a separate allocation (a plan of
 * a one-op graph made seven of 1 KiB: 7% of an eager 64 × 64 matmul).
 */
export class IntColumn {
  data = new Int32Array(16)
  length = 0
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(2 * this.data.length)
      grown.set(this.data)
      this.data = grown
    }
    this.data[this.length++] = v
  }
  pop(): number {
    return this.data[--this.length]!
  }
  /** The values, exactly (a copy of the used part). */
  done(): Int32Array {
    return this.data.slice(0, this.length)
  }
}

const CHUNK = 4096

/** Values read by index (a Column, as a plan keeps its steps). */
export interface Indexed<T> {
  readonly length: number
  at(i: number): T
}

/** A column (or stack) of values, stored in chunks of CHUNK (no copy as it grows). */
export class Column<T> implements Indexed<T> {
  private readonly chunks: Array<Array<T | undefined>> = []
  length = 0
  push(v: T): void {
    const c = this.length >>> 12
    // (the first chunk grows as an array does: a small walk allocates little)
    if (c === this.chunks.length) this.chunks.push(c === 0 ? [] : new Array<T | undefined>(CHUNK))
    this.chunks[c]![this.length & (CHUNK - 1)] = v
    this.length++
  }
  /** The value at `i` (< length). */
  at(i: number): T {
    return this.chunks[i >>> 12]![i & (CHUNK - 1)] as T
  }
  /** The last value (length > 0). */
  top(): T {
    return this.at(this.length - 1)
  }
  /** Removes and returns the last value (length > 0); the chunks stay for the next pushes. */
  pop(): T {
    const i = --this.length
    const chunk = this.chunks[i >>> 12]!
    const v = chunk[i & (CHUNK - 1)] as T
    chunk[i & (CHUNK - 1)] = undefined
    return v
  }
  /** The values in one array of the exact length. */
  toArray(): T[] {
    const out = new Array<T>(this.length)
    for (let i = 0; i < this.length; i++) out[i] = this.chunks[i >>> 12]![i & (CHUNK - 1)] as T
    return out
  }
}
