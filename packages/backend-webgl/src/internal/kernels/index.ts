/**
 * The kernel table: one entry per primitive (the `{ [P in Prim]: Kernel<P> }`
 * type makes a missing one a compile error). Every kernel returns a new
 * handle, never one of its arguments: reshape-like primitives share the
 * texture through a new, reference-counted handle.
 */
import { BackendError, type BackendShape, CpuBackend, DType, type Kernel, type KernelArg, type Prim } from "@diffect/core"
import type { Device, Handle } from "../device.js"
import { binary, cast, unary, where, zeros } from "./elementwise.js"
import { broadcast, concat, pad, slice, transpose } from "./gather.js"
import { conv } from "./conv.js"
import { matmul } from "./matmul.js"
import { reduce } from "./reduce.js"
import { argsort, cumsum, gather, scatterAdd } from "./indexing.js"
import { cholesky, lu, triangularSolve } from "./linalg.js"

const h = (x: KernelArg | undefined): Handle => x!.handle as Handle

const complexUnsupported = (what: string): never => {
  throw new BackendError({ message: `webgl backend: ${what} needs complex64, which is not supported` })
}

const cpu = CpuBackend.backend.kernels as { readonly [P in Prim]: Kernel<any> }

/** Whether every operand has host values (or is empty). */
const onHost = (args: ReadonlyArray<KernelArg>): boolean =>
  args.every((a) => (a.handle as Handle).host !== undefined || (a.handle as Handle).layout.n === 0)

/**
 * The kernel table. Small results of host operands are computed by the CPU
 * backend's kernel (the reference) and stay on the host: a draw call and
 * a later upload cost far more than the arithmetic at that size.
 */
export const makeKernels = (device: Device, cpuThreshold: number, linalgOnHost = false): BackendShape["kernels"] => {
  const guard =
    <P extends Prim>(name: P, k: Kernel<P>): Kernel<P> =>
    (args, params, out) => {
      device.check(name)
      if (cpuThreshold > 0 && out.shape.reduce((x, y) => x * y, 1) <= cpuThreshold && onHost(args)) {
        const hostArgs = args.map((a) => ({ ...a, handle: (a.handle as Handle).host ?? DType.allocHost(a.dtype, 0) }))
        return device.hostHandle(cpu[name](hostArgs, params, out) as DType.HostArray)
      }
      // int32 results are written to int32 textures, exactly
      const before = device.outInt
      device.outInt = out.dtype === "int32"
      try {
        return k(args, params, out)
      } finally {
        device.outInt = before
      }
    }
  const un = (op: "neg" | "exp" | "log" | "sin" | "cos" | "tanh" | "sqrt" | "abs" | "sign" | "log1p" | "expm1" | "erf" | "floor"): Kernel<any> =>
    guard(op, ([a], _p, out) => unary(device, op, h(a), out.dtype))
  const bin = (op: "add" | "sub" | "mul" | "div" | "pow" | "max" | "min" | "atan2" | "greater" | "less" | "equal"): Kernel<any> =>
    guard(op, ([a, b], _p, out) => binary(device, op, h(a), h(b), out.dtype))
  const share = (name: Prim): Kernel<any> => guard(name, ([a]) => device.share(h(a)))
  /**
   * qr, eigh and svd (and, with `linalgOnHost`, cholesky, triangularSolve
   * and lu): sequential algorithms (Householder steps, Jacobi sweeps) run as
   * the CPU reference kernels on the operands read back from their textures
   * (in float64, rounded to float32 once), and the result is uploaded again.
   */
  const viaHost =
    <P extends Prim>(name: P): Kernel<P> =>
    (args, params, out) => {
      device.check(name)
      const hostArgs = args.map((a) => ({ ...a, handle: (a.handle as Handle).host ?? device.download(a.handle as Handle) }))
      const res = cpu[name](hostArgs, params, out) as DType.HostArray
      return res.length <= cpuThreshold ? device.hostHandle(res) : device.upload(res)
    }
  return {
    neg: un("neg"),
    exp: un("exp"),
    log: un("log"),
    sin: un("sin"),
    cos: un("cos"),
    tanh: un("tanh"),
    sqrt: un("sqrt"),
    abs: un("abs"),
    sign: un("sign"),
    log1p: un("log1p"),
    expm1: un("expm1"),
    erf: un("erf"),
    floor: un("floor"),
    add: bin("add"),
    sub: bin("sub"),
    mul: bin("mul"),
    div: bin("div"),
    pow: bin("pow"),
    max: bin("max"),
    min: bin("min"),
    atan2: bin("atan2"),
    greater: bin("greater"),
    less: bin("less"),
    equal: bin("equal"),
    where: guard("where", ([c, x, y], _p, out) => where(device, h(c), h(x), h(y), out.dtype)),
    sum: guard("sum", ([a], { axes }) => reduce(device, "sum", h(a), a!.shape, axes)),
    reduceMax: guard("reduceMax", ([a], { axes }) => reduce(device, "max", h(a), a!.shape, axes)),
    reshape: share("reshape"),
    broadcast: guard("broadcast", ([a], { shape, dims }) => broadcast(device, h(a), a!.shape, shape, dims)),
    transpose: guard("transpose", ([a], { perm }) => transpose(device, h(a), a!.shape, perm)),
    slice: guard("slice", ([a], { starts, stops }) => slice(device, h(a), a!.shape, starts, stops)),
    pad: guard("pad", ([a], { before, after }) => pad(device, h(a), a!.shape, before, after)),
    concat: guard("concat", (args, { axis }, out) =>
      concat(device, args.map((x) => ({ handle: h(x), shape: x.shape })), axis, out.shape)
    ),
    matmul: guard("matmul", ([a, b]) => {
      const r = a!.shape.length
      const m = a!.shape[r - 2]!, k = a!.shape[r - 1]!, n = b!.shape[r - 1]!
      const batch = a!.shape.slice(0, r - 2).reduce((x, y) => x * y, 1)
      return matmul(device, h(a), h(b), batch, m, k, n)
    }),
    // bool is stored in float textures and int32 in int32 ones: a cast between float32 and bool of 0s and 1s keeps the texture
    cast: guard("cast", ([a], { dtype }) =>
      a!.dtype === dtype || (dtype === "float32" && a!.dtype === "bool") ? device.share(h(a)) : cast(device, h(a), a!.dtype, dtype)
    ),
    stopGradient: share("stopGradient"),
    // real dtypes only (complex64 is refused before a kernel runs)
    real: guard("real", ([a]) => (a!.dtype === "complex64" ? complexUnsupported("real") : device.share(h(a)))),
    imag: guard("imag", ([a]) => (a!.dtype === "complex64" ? complexUnsupported("imag") : zeros(device, h(a).layout.n))),
    complex: guard("complex", () => complexUnsupported("complex")),
    conj: guard("conj", ([a]) => (a!.dtype === "complex64" ? complexUnsupported("conj") : device.share(h(a)))),
    // draws run Random's host loops (the definition of their numbers) on the key's words
    random: ([k], params, out) => {
      device.check("random")
      const key = h(k)
      const words = Int32Array.from(key.host ?? device.download(key))
      return device.hostHandle(cpu.random([{ ...k!, handle: words }], params, out) as DType.HostArray)
    },
    gather: guard("gather", ([x, i], { axis, batchDims }, out) =>
      gather(device, h(x), h(i), x!.shape, i!.shape, axis, batchDims, out.shape.reduce((p, d) => p * d, 1))
    ),
    scatterAdd: guard("scatterAdd", ([x, i, u], { axis, batchDims }) => scatterAdd(device, h(x), h(i), h(u), x!.shape, i!.shape, axis, batchDims)),
    argsort: guard("argsort", ([x], { descending }) => argsort(device, h(x), x!.shape, descending)),
    cumsum: guard("cumsum", ([x], { axis, reverse }) => cumsum(device, h(x), x!.shape, axis, reverse)),
    // shaders (kernels/linalg.ts): one draw per step, in float32
    cholesky: linalgOnHost ? viaHost("cholesky") : guard("cholesky", ([a], _p, out) => cholesky(device, h(a), a!.shape, out.dtype)),
    triangularSolve: linalgOnHost
      ? viaHost("triangularSolve")
      : guard("triangularSolve", ([a, b], { lower, transpose, unitDiagonal }) =>
          triangularSolve(device, h(a), h(b), a!.shape, b!.shape[b!.shape.length - 1]!, lower, transpose, unitDiagonal)
        ),
    lu: linalgOnHost ? viaHost("lu") : guard("lu", ([a]) => lu(device, h(a), a!.shape)),
    qr: viaHost("qr"),
    eigh: viaHost("eigh"),
    svd: viaHost("svd"),
    conv: guard("conv", ([x, w], params, out) => conv(device, h(x), h(w), x!.shape, w!.shape, out.shape, params))
  }
}
