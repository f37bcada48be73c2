/**
 * Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as
 * easy as 1, 2, 3", SC 2011): a keyed bijection of 64-bit counters, used as
 * a counter-based random number generator. All words are unsigned 32-bit
 * numbers; arithmetic wraps with `| 0` / `>>> 0`.
 */

/** The rotation distances of Threefry-2x32, cycled every 8 rounds. */
const ROT = [13, 15, 26, 6, 17, 29, 16, 24] as const
/** The key schedule parity constant of Threefish. */
const PARITY = 0x1bd11bda

/** Where `hash` writes its two output words (reused: no allocation per block). */
export const out = new Uint32Array(2)

/**
 * Hashes the counter `(x0, x1)` under the key `(k0, k1)`; the two result
 * words are left in `out[0]`, `out[1]`.
 */
export const hash = (k0: number, k1: number, x0: number, x1: number): void => {
  const ks0 = k0 | 0
  const ks1 = k1 | 0
  const ks2 = (ks0 ^ ks1 ^ PARITY) | 0
  const ks = [ks0, ks1, ks2]
  let a = (x0 + ks0) | 0
  let b = (x1 + ks1) | 0
  for (let group = 0; group < 5; group++) {
    const base = (group & 1) * 4
    for (let r = 0; r < 4; r++) {
      const rot = ROT[base + r]!
      a = (a + b) | 0
      b = (b << rot) | (b >>> (32 - rot))
      b ^= a
    }
    // key injection after every 4 rounds
    const s = group + 1
    a = (a + ks[s % 3]!) | 0
    b = (b + ks[(s + 1) % 3]! + s) | 0
  }
  out[0] = a
  out[1] = b
}

/** `hash` returning a fresh pair (for the few places that need two at once). */
export const hashPair = (k0: number, k1: number, x0: number, x1: number): [number, number] => {
  hash(k0, k1, x0, x1)
  return [out[0]!, out[1]!]
}

/** `n` words of the stream of a key: the hashes of counters (0, 0), (0, 1), ... */
export const words = (k0: number, k1: number, n: number): Uint32Array => {
  const w = new Uint32Array(n + (n & 1))
  for (let c = 0; 2 * c < n; c++) {
    hash(k0, k1, 0, c)
    w[2 * c] = out[0]!
    w[2 * c + 1] = out[1]!
  }
  return n & 1 ? w.subarray(0, n) : w
}

const TWO_M24 = 2 ** -24
const TWO_M53 = 2 ** -53

/** A float in [0, 1) with 24 random bits (exact in float32) from one word. */
export const unit24 = (w: number): number => (w >>> 8) * TWO_M24

/** A float in [0, 1) with 53 random bits from two words. */
export const unit53 = (hi: number, lo: number): number => ((hi >>> 5) * 67108864 + (lo >>> 6)) * TWO_M53

/** A 53-bit integer in [0, 2^53) from two words. */
export const int53 = (hi: number, lo: number): number => (hi >>> 11) * 4294967296 + (lo >>> 0)

const LIMIT53 = 2 ** 53

/**
 * An unbiased integer in [0, span) for the counter `(attempt, index)` under a
 * key, by rejection on 53-bit values (a retry is needed with probability
 * below span / 2^53, so at most 2^-21 for span <= 2^32).
 */
export const below = (k0: number, k1: number, index: number, span: number): number => {
  const limit = LIMIT53 - (LIMIT53 % span)
  for (let attempt = 0; ; attempt++) {
    hash(k0, k1, attempt, index)
    const v = int53(out[0]!, out[1]!)
    if (v < limit) return v % span
  }
}
