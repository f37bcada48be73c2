/**
 * Reuse of CPU buffers. Allocating a large typed array is slow in V8 (the
 * memory is zeroed and counted as external memory, which triggers garbage
 * collections): a 256 KiB array costs about 50 µs. The evaluator disposes
 * the intermediate buffers of an evaluation when it ends (they are not
 * referenced by any tensor), and the CPU backend's `dispose` keeps them
 * here, so the next evaluation of the same shapes (a training step, a
 * benchmark loop) finds its buffers ready.
 *
 * Only whole buffers the evaluator owns come back here; the kernels that
 * take from the pool get a zeroed array, exactly as `allocHost` gives.
 */
import { allocHost, type DType, type HostArray } from "../../DType.js"

/** Smaller arrays are cheap to allocate: not pooled. */
const MIN_ELEMENTS = 16
/**
 * At most this many bytes are kept, and this many arrays per (type, length):
 * a fused group may read up to 48 operands of one shape (MAX_GROUP in
 * plan.ts: the 48 outer products a gradient accumulation sums), and with
 * fewer kept each group would allocate most of them afresh (a 16,000-step
 * Euler gradient allocated 13,000 arrays of 16 KiB with 8).
 */
const MAX_BYTES = 32 * 2 ** 20
const MAX_PER_KEY = 64

// the free arrays of each kind, by length (numbers for keys: no string made per call)
const free = {
  Float32Array: new Map<number, HostArray[]>(),
  Float64Array: new Map<number, HostArray[]>(),
  Int32Array: new Map<number, HostArray[]>(),
  Uint8Array: new Map<number, HostArray[]>()
}
let bytes = 0

/** A zeroed host array for `size` elements of `dtype` (reused when one is free). */
export const alloc = (dtype: DType, size: number): HostArray => allocFrom(dtype, size, true)

/**
 * A host array for `size` elements of `dtype` whose contents are arbitrary
 * when it is a reused one: for kernels that write every element.
 */
export const allocUninitialized = (dtype: DType, size: number): HostArray => allocFrom(dtype, size, false)

const allocFrom = (dtype: DType, size: number, zero: boolean): HostArray => {
  const length = dtype === "complex64" ? 2 * size : size
  if (length >= MIN_ELEMENTS) {
    const ctor = dtype === "float64" ? "Float64Array" : dtype === "int32" ? "Int32Array" : dtype === "bool" ? "Uint8Array" : "Float32Array"
    const list = free[ctor].get(length)
    const arr = list?.pop()
    if (arr !== undefined) {
      bytes -= arr.byteLength
      if (zero) arr.fill(0)
      return arr
    }
  }
  return allocHost(dtype, size)
}

/** Takes back a buffer nothing references any more (called by the backend's `dispose`). */
export const release = (handle: unknown): void => {
  if (!ArrayBuffer.isView(handle)) return
  const arr = handle as HostArray
  if (arr.length < MIN_ELEMENTS || arr.byteOffset !== 0 || arr.byteLength !== arr.buffer.byteLength) return
  if (bytes + arr.byteLength > MAX_BYTES) return
  const byLength = free[arr.constructor.name as keyof typeof free] as Map<number, HostArray[]> | undefined
  if (byLength === undefined) return
  let list = byLength.get(arr.length)
  if (list === undefined) byLength.set(arr.length, (list = []))
  if (list.length >= MAX_PER_KEY || list.includes(arr)) return
  list.push(arr)
  bytes += arr.byteLength
}

/** Forgets every pooled buffer (tests). */
export const clearPool = (): void => {
  for (const byLength of Object.values(free)) byLength.clear()
  bytes = 0
}
