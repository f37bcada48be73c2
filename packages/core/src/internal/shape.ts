/** Shape arithmetic shared by ops, rules and kernels. */

export type Shape = ReadonlyArray<number>

export const sizeOf = (shape: Shape): number => {
  let n = 1
  for (const d of shape) n *= d
  return n
}

export const stridesOf = (shape: Shape): number[] => {
  const s = new Array<number>(shape.length)
  let acc = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc
    acc *= shape[i]!
  }
  return s
}

export const shapeEq = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i])

export const fmt = (shape: Shape): string => `[${shape.join(", ")}]`

/** NumPy broadcasting of two shapes, or undefined when they do not broadcast. */
export const broadcastShapes = (a: Shape, b: Shape): number[] | undefined => {
  const n = Math.max(a.length, b.length)
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1
    const db = b[b.length - n + i] ?? 1
    if (da === db || db === 1) out[i] = da
    else if (da === 1) out[i] = db
    else return undefined
  }
  return out
}

/** Normalizes an axis (negative counts from the end); undefined when out of range. */
export const normAxis = (axis: number, ndim: number): number | undefined => {
  if (!Number.isInteger(axis)) return undefined
  const a = axis < 0 ? axis + ndim : axis
  return a >= 0 && a < ndim ? a : undefined
}

export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

export const isPermutation = (perm: ReadonlyArray<number>, n: number): boolean =>
  perm.length === n && range(n).every((i) => perm.includes(i))

export const invertPerm = (perm: ReadonlyArray<number>): number[] => {
  const inv = new Array<number>(perm.length)
  perm.forEach((p, i) => (inv[p] = i))
  return inv
}
