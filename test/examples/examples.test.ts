/**
 * Runs every example as a user would (`node --import tsx examples/X.ts`, a
 * child process importing the built packages, so `npm run build` first, as
 * `npm test` does), with `DIFFECT_EXAMPLE_FAST=1` for shorter training, and
 * checks what it prints. `examples/*.test.ts` are vitest files and run with
 * the suite itself.
 */
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../", import.meta.url))

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const runExample = (file: string): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", `examples/${file}`],
      { cwd: root, env: { ...process.env, DIFFECT_EXAMPLE_FAST: "1", NO_COLOR: "1" }, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr })
    )
  })

/** The number after `label` (e.g. "test accuracy: 98.5%" → 98.5). */
const numberAfter = (text: string, label: string): number => {
  const m = new RegExp(`${label}:? ([-+0-9.e]+)`).exec(text)
  return m ? Number(m[1]) : Number.NaN
}

const expectSuccess = (r: Run) => {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`)
}

describe("examples", () => {
  it("the packages are built (the examples import dist/, as users do)", () => {
    for (const p of ["core/dist/index.js", "transforms/dist/index.js", "transforms/dist/interop/fp-ts.js", "backend-webgl/dist/index.js", "nn/dist/index.js"])
      expect(existsSync(`${root}packages/${p}`), `packages/${p} is missing: run npm run build (npm test does)`).toBe(true)
  })

  it("the examples typecheck (tsc -p tsconfig.examples.json): the README's snippets compile", { timeout: 180_000 }, async () => {
    const r = await new Promise<Run>((resolve) =>
      execFile(
        process.execPath,
        [`${root}node_modules/typescript/bin/tsc`, "-p", "tsconfig.examples.json"],
        { cwd: root, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr })
      )
    )
    expectSuccess(r)
  })

  it("main.ts: the spirals classifier beats 90%, the checkpoint restores, Newton's loss drops", { timeout: 180_000 }, async () => {
    const r = await runExample("main.ts")
    expectSuccess(r)
    const out = r.stdout
    expect(out).not.toContain("\x1b[") // not a TTY: plain progress lines, no ANSI codes
    expect(out).toMatch(/training 100% 250\/250/)
    expect(numberAfter(out, "train accuracy")).toBeGreaterThan(90)
    expect(numberAfter(out, "test accuracy")).toBeGreaterThan(90)
    expect(numberAfter(out, "restored into a fresh model: test accuracy")).toBe(numberAfter(out, "test accuracy"))
    expect(out).toMatch(/restore into a 16-unit layer: ShapeError: .*expected shape \[2, 16\], got float32\[2, 32\]/)
    const losses = [...out.matchAll(/step (\d): loss ([0-9.]+)/g)].map((m) => Number(m[2]))
    expect(losses).toHaveLength(6)
    for (let i = 1; i < losses.length; i++) expect(losses[i]!).toBeLessThanOrEqual(losses[i - 1]! + 1e-12)
    expect(losses[5]!).toBeLessThan(losses[0]! - 0.3)
    expect(Number(/step 5: .*\|grad\| ([0-9.e+-]+)/.exec(out)?.[1])).toBeLessThan(1e-4) // converged
  })

  it("iris.ts: the classifier on the Iris flowers beats 85% on the 30 held-out flowers", { timeout: 180_000 }, async () => {
    const r = await runExample("iris.ts")
    expectSuccess(r)
    const out = r.stdout
    expect(out).toMatch(/training 100% 320\/320/)
    expect(out).toContain("setosa, versicolor, virginica")
    expect(numberAfter(out, "train accuracy")).toBeGreaterThan(85)
    expect(numberAfter(out, "held-out accuracy")).toBeGreaterThan(85)
  })

  it("fp-ts.ts: the pipeline fits the line, finds the outliers, and reports typed failures", { timeout: 120_000 }, async () => {
    const r = await runExample("fp-ts.ts")
    expectSuccess(r)
    const out = r.stdout
    const refit = /refit without them: w = \[([-0-9.]+), ([-0-9.]+)\]/.exec(out)
    expect(refit).not.toBeNull()
    expect(Math.abs(Number(refit![1]) - 3)).toBeLessThan(0.05)
    expect(Math.abs(Number(refit![2]) + 2)).toBeLessThan(0.05)
    expect(out).toContain("worst rows by their own loss (vmapTE): 7, 23")
    expect(out).toContain("our ParseError: row 1")
    expect(out).toContain("our DataError: x has 3 rows but y has 4")
    expect(out).toContain("diffect's NonScalarOutputError")
    expect(out).toContain("diffect's ShapeError")
  })

  it("cnn.ts: the conv net learns horizontal from vertical bars (above 90% on held-out images)", { timeout: 120_000 }, async () => {
    const r = await runExample("cnn.ts")
    expectSuccess(r)
    const losses = [...r.stdout.matchAll(/step \d+: loss ([0-9.]+)/g)].map((m) => Number(m[1]))
    expect(losses).toHaveLength(4)
    expect(losses[3]!).toBeLessThan(losses[0]!)
    expect(Number(/^test accuracy ([0-9.]+)%/m.exec(r.stdout)?.[1])).toBeGreaterThan(90)
  })

  it("rate-network.ts: the gradient through 300 simulated steps (scan) fits the readout; the state Variable holds the last step", { timeout: 150_000 }, async () => {
    const r = await runExample("rate-network.ts")
    expectSuccess(r)
    const out = r.stdout
    expect(out).toMatch(/training 100% 150\/150/)
    const initial = numberAfter(out, "initial loss"), final = numberAfter(out, "final loss")
    expect(initial).toBeGreaterThan(0.05) // the untrained network does not trace the sine
    expect(final).toBeLessThan(initial / 50)
    const state = /x\[300\] has shape \[32\], readout ([-0-9.]+) \(the trajectory's last value ([-0-9.]+)\)/.exec(out)
    expect(state, out).not.toBeNull()
    expect(state![1]).toBe(state![2]) // the committed state is the scan's last carry
  })

  it("gp.ts: the covariance gradient matches its closed form; fitting the GP hyperparameters lowers the NLL and the test error", { timeout: 120_000 }, async () => {
    const r = await runExample("gp.ts")
    expectSuccess(r)
    const out = r.stdout
    expect(numberAfter(out, "max difference from the closed form")).toBeLessThan(1e-12)
    const before = /before fitting: NLL ([-0-9.]+), test RMSE ([0-9.]+)/.exec(out)!
    const after = /after fitting: NLL ([-0-9.]+), test RMSE ([0-9.]+)/.exec(out)!
    expect(Number(after[1])).toBeLessThan(Number(before[1]) - 20)
    expect(Number(after[2])).toBeLessThan(0.1)
    expect(Number(after[2])).toBeLessThan(Number(before[2]))
    const noise = numberAfter(out, "noise")
    expect(noise).toBeGreaterThan(0.03) // the data's noise is 0.1
    expect(noise).toBeLessThan(0.3)
  })

  it("tour.ts: every README snippet runs and prints what the README says", { timeout: 120_000 }, async () => {
    const r = await runExample("tour.ts")
    expectSuccess(r)
    const line = (label: string): unknown => JSON.parse(new RegExp(`^${label}: (.*)$`, "m").exec(r.stdout)![1]!)
    expect(line("tensors")).toEqual([10, 14])
    expect(line("variables")).toEqual({ w: [1, 1, 1], error: "set w: expected float32[3], got float32[4]" })
    const g = line("grad") as Record<string, any>
    expect(g.g).toEqual([2, 4, 6])
    expect(g.sameW).toBe(true)
    expect(g.loss).toBeCloseTo(19 / 12, 5)
    expect(g.value).toBeCloseTo(19 / 12, 5)
    expect(g.aux.predictions).toEqual([-0.5, -0.5, -0.5])
    expect(line("hessian")).toEqual({ H: [[6, 0], [0, 12]], J: [[1, 2], [3, 4]] })
    expect(line("vmap")).toEqual([[6, 12], [42, 56], [110, 132]])
    expect(line("backends")).toEqual([[1, 2], [3, 4]])
    expect(line("threads")).toEqual([[1, 2], [3, 4]])
    expect(line("errors")).toEqual({
      message: expect.stringMatching(/^grad: output must be a scalar, got shape \[2\]; use vectorGrad or jacrev/),
      handled: "ShapeError: matmul: inner dimensions differ: [2, 3] @ [2, 3]"
    })
  })
})
