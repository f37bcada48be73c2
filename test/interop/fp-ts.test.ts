import { Data, Effect, Layer } from "effect"
import * as E from "fp-ts/lib/Either.js"
import * as TE from "fp-ts/lib/TaskEither.js"
import { pipe } from "fp-ts/lib/function.js"
import { describe, expect, expectTypeOf, it } from "vitest"
import { Backend, type BackendShape, type DiffectError, type ShapeError, Tensor, type TensorError, TrainVar, Variable } from "@diffect/core"
import { WebGLBackend } from "@diffect/backend-webgl"
import { grad } from "@diffect/transforms"
import {
  fromEither,
  fromTE,
  gradTE,
  hessianTE,
  jacfwdTE,
  jacrevTE,
  releaseLayer,
  runEither,
  runTE,
  toTaskEither,
  valueAndGradTE,
  vectorGradTE,
  vmapTE
} from "@diffect/transforms/fp-ts"

const sq = (x: Tensor.Tensor) => Tensor.sum(Tensor.square(x))
const read = (t: Tensor.Tensor) => Effect.runPromise(Tensor.toArray(t))
const right = async <E, A>(te: TE.TaskEither<E, A>): Promise<A> => {
  const r = await te()
  if (E.isLeft(r)) throw new Error(`expected a Right, got Left ${JSON.stringify(r.left)}`)
  return r.right
}
const left = async <E, A>(te: TE.TaskEither<E, A>): Promise<E> => {
  const r = await te()
  if (E.isRight(r)) throw new Error("expected a Left")
  return r.left
}

interface Oops {
  readonly _tag: "Oops"
  readonly n: number
}

describe("@diffect/transforms/fp-ts", () => {
  it("runTE / runEither: success on the Right, typed failure on the Left", async () => {
    const ok = runTE(Tensor.toArray(Tensor.make([1, 2])))
    expectTypeOf(ok).toEqualTypeOf<TE.TaskEither<TensorError, Tensor.Nested>>()
    expect(await right(ok)).toEqual([1, 2])
    const bad = await left(runTE(Tensor.data(Tensor.add(Tensor.ones([2]), Tensor.ones([3])))))
    expect(bad._tag).toBe("ShapeError")
    expect(runEither(Tensor.item(Tensor.make(7)))).toEqual(E.right(7))
    const e = runEither(Effect.fail({ _tag: "Oops", n: 1 } as Oops))
    expect(e).toEqual(E.left({ _tag: "Oops", n: 1 }))
  })

  it("runTE: every call of the task runs the effect again", async () => {
    let runs = 0
    const task = runTE(Effect.sync(() => ++runs))
    await task()
    await task()
    expect(runs).toBe(2)
  })

  it("runTE: a defect rejects the promise instead of becoming a Left", async () => {
    await expect(runTE(Effect.die(new Error("bug")))()).rejects.toThrow("bug")
  })

  it("fromTE / fromEither: a Left becomes a typed failure of the Effect", async () => {
    const e = await Effect.runPromise(Effect.flip(fromTE(TE.left<Oops, number>({ _tag: "Oops", n: 2 }))))
    expect(e).toEqual({ _tag: "Oops", n: 2 })
    expect(await Effect.runPromise(fromEither(E.right(3)))).toBe(3)
    expect(await Effect.runPromise(fromTE(TE.right(4)))).toBe(4)
  })

  it("gradTE: the gradient, with grad's options and return structure", async () => {
    const x = Tensor.make([1, 2, 3])
    const g = await right(gradTE(sq)(x))
    expectTypeOf(g).toEqualTypeOf<Tensor.Tensor>()
    expect(await read(g)).toEqual([2, 4, 6])
    const [gs, value] = await right(gradTE((a: Tensor.Tensor, b: Tensor.Tensor) => Tensor.sum(Tensor.mul(a, b)), { argnums: [0, 1], returnValue: true })(x, Tensor.make([4, 5, 6])))
    expect(await read(gs[0])).toEqual([4, 5, 6])
    expect(await read(gs[1])).toEqual([1, 2, 3])
    expect(await read(value)).toBe(32)
  })

  it("gradTE with gradVars: Variables read by an Effect-returning function", async () => {
    const w = await Effect.runPromise(TrainVar.make(Tensor.make([1, -1])))
    const loss = (x: Tensor.Tensor) => Effect.map(Variable.get(w), (wv) => Tensor.sum(Tensor.mul(wv, x)))
    const [gw, gx] = await right(gradTE(loss, { gradVars: w, argnums: 0 })(Tensor.make([3, 4])))
    expect(await read(gw)).toEqual([3, 4])
    expect(await read(gx)).toEqual([1, -1])
  })

  it("a Left returned by the function is the transform's typed failure", async () => {
    const checked = (x: Tensor.Tensor): E.Either<Oops, Tensor.Tensor> => (x.size > 2 ? E.left({ _tag: "Oops", n: x.size }) : E.right(sq(x)))
    const task = gradTE(checked)(Tensor.make([1, 2, 3]))
    expectTypeOf(task).toEqualTypeOf<TE.TaskEither<DiffectError | Oops, Tensor.Tensor>>()
    expect(await left(task)).toEqual({ _tag: "Oops", n: 3 })
    expect(await read(await right(gradTE(checked)(Tensor.make([1, 2]))))).toEqual([2, 4])
  })

  it("diffect's errors are on the Left, with their tags", async () => {
    const e1 = await left(gradTE((x: Tensor.Tensor) => Tensor.square(x))(Tensor.make([1, 2])))
    expect(e1._tag).toBe("NonScalarOutputError")
    const e2 = await left(gradTE(sq, { argnums: 3 })(Tensor.make([1])))
    expect(e2._tag).toBe("ArgnumsError")
    const e3 = await left(gradTE((x: Tensor.Tensor) => Tensor.sum(Tensor.matmul(Tensor.ones([2, 5]), x)))(Tensor.ones([3])))
    expect(e3._tag).toBe("ShapeError")
  })

  it("valueAndGradTE, vectorGradTE, jacrevTE, jacfwdTE, hessianTE, vmapTE", async () => {
    const x = Tensor.make([1, 2])
    const [v, g] = await right(valueAndGradTE(sq)(x))
    expect(await read(v)).toBe(5)
    expect(await read(g)).toEqual([2, 4])
    expect(await read(await right(vectorGradTE((t: Tensor.Tensor) => Tensor.square(t))(x)))).toEqual([2, 4])
    const A = Tensor.make([[1, 2], [3, 4]])
    const lin = (t: Tensor.Tensor) => Tensor.matmul(A, t)
    expect(await read(await right(jacrevTE(lin)(x)))).toEqual([[1, 2], [3, 4]])
    expect(await read(await right(jacfwdTE(lin)(x)))).toEqual([[1, 2], [3, 4]])
    expect(await read(await right(hessianTE(sq)(x)))).toEqual([[2, 0], [0, 2]])
    const rows = await right(vmapTE(sq)(Tensor.make([[1, 2], [3, 4]])))
    expect(await read(rows)).toEqual([5, 25])
  })

  it("toTaskEither lifts any Effect-returning function (a nested transform)", async () => {
    const perExample = toTaskEither((xs: Tensor.Tensor) => Effect.flatMap(Effect.succeed(xs), (ys) => Effect.map(grad(sq)(ys), Tensor.sum)))
    expect(await read(await right(perExample(Tensor.make([1, 2]))))).toBe(6)
  })

  it("composes in a pipe", async () => {
    const program = pipe(
      gradTE(sq)(Tensor.make([1, 2, 3])),
      TE.chainW((g) => runTE(Tensor.toArray(g)))
    )
    expectTypeOf(program).toEqualTypeOf<TE.TaskEither<DiffectError | TensorError, Tensor.Nested>>()
    expect(await program()).toEqual(E.right([2, 4, 6]))
    const failing: TE.TaskEither<DiffectError | ShapeError, number> = pipe(
      runTE(Tensor.item(Tensor.ones([2]))),
      TE.map((n) => n + 1)
    )
    expect(E.isLeft(await failing())).toBe(true)
  })

  describe("the layer option", () => {
    class ConfigError extends Data.TaggedError("ConfigError")<{ readonly message: string }> {}
    /** A layer providing the CPU backend under another name, counting its builds, releases and kernel calls. */
    const counting = () => {
      const counts = { builds: 0, releases: 0, kernels: 0 }
      const layer = Layer.effect(
        Backend,
        Effect.gen(function* () {
          const cpu = yield* Backend
          yield* Effect.acquireRelease(
            Effect.sync(() => counts.builds++),
            () => Effect.sync(() => counts.releases++)
          )
          const kernels = Object.fromEntries(
            Object.entries(cpu.kernels).map(([k, f]) => [k, (...a: Parameters<typeof f>) => (counts.kernels++, (f as (...b: typeof a) => unknown)(...a))])
          ) as unknown as BackendShape["kernels"]
          const { viewKernels: _v, fusion: _f, ...rest } = cpu
          return { ...rest, name: "counting-cpu", kernels }
        })
      )
      return { layer, counts }
    }

    it("every TaskEither form runs on the layer it is given", async () => {
      const { layer, counts } = counting()
      const x = Tensor.make([1, 2])
      const g = await right(gradTE(sq, { layer })(x))
      expect(counts.kernels).toBeGreaterThan(0)
      for (const task of [
        valueAndGradTE(sq, { layer })(x),
        vectorGradTE((t: Tensor.Tensor) => Tensor.sin(t), { layer })(x),
        jacrevTE((t: Tensor.Tensor) => Tensor.sin(t), { layer })(x),
        jacfwdTE((t: Tensor.Tensor) => Tensor.sin(t), { argnums: 0, layer })(x),
        hessianTE(sq, { layer })(x),
        vmapTE(sq, { inAxes: 0, layer })(Tensor.make([[1, 2], [3, 4]])),
        toTaskEither((t: Tensor.Tensor) => Tensor.toArray(Tensor.exp(t)), { layer })(x)
      ] as ReadonlyArray<TE.TaskEither<unknown, unknown>>) {
        const before = counts.kernels
        await right(task)
        expect(counts.kernels).toBeGreaterThan(before)
      }
      // built once for all the tasks given this layer object: what one returns, the next reads
      expect(counts.builds).toBe(1)
      expect(await right(runTE(Tensor.toArray(g), { layer }))).toEqual([2, 4])
      expect(runEither(Tensor.item(Tensor.sum(g)), { layer })).toEqual(E.right(6))
      expect(counts.builds).toBe(1)
      await releaseLayer(layer)
      expect(counts.releases).toBe(1)
      await right(gradTE(sq, { layer })(x))
      expect(counts.builds).toBe(2)
      await releaseLayer(layer)
    })

    it("the layer's own failure is the Left, with its type", async () => {
      const failing: Layer.Layer<never, ConfigError> = Layer.effect(Backend, Effect.fail(new ConfigError({ message: "no config" })))
      const e = await left(gradTE(sq, { layer: failing })(Tensor.make([1, 2])))
      expectTypeOf(e).toEqualTypeOf<DiffectError | ConfigError>()
      expect(e).toBeInstanceOf(ConfigError)
      expect(runEither(Tensor.item(Tensor.make(1)), { layer: failing })).toEqual(E.left(new ConfigError({ message: "no config" })))
    })

    it("WebGLBackend.layer() where there is no WebGL2 (Node): a BackendError on the Left", async () => {
      const gpu = WebGLBackend.layer()
      const e = await left(gradTE(sq, { layer: gpu })(Tensor.make([1, 2])))
      expect(e._tag).toBe("BackendError")
      const r = await runTE(Tensor.toArray(Tensor.make([1])), { layer: gpu })()
      expect(E.isLeft(r) && r.left._tag).toBe("BackendError")
    })

    it("the transform still checks its own options next to layer", async () => {
      const e = await left(gradTE(sq, { layer: counting().layer, argnum: 0 } as never)(Tensor.make([1])))
      expect((e as DiffectError)._tag).toBe("OptionsError")
      expect((e as DiffectError).message).toContain("unknown option argnum")
    })
  })
})
