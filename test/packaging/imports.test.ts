/**
 * What importing the packages loads: the indexes of @diffect/core and
 * @diffect/transforms must not load effect/Schema (or any Schema module),
 * which only the checkpoint codec (`@diffect/core/Codec`) needs; loading it
 * costs every process some 7 MB of memory (bench/README.md). The built
 * packages load their bundles (dist/bundle/), not one module per source file.
 * Each case runs a fresh Node process that imports the packages (from their
 * sources, or as built) with module hooks recording every module loaded
 * (test/packaging/imports/).
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../", import.meta.url))
const child = fileURLToPath(new URL("./imports/child.mjs", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "diffect-imports-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let runs = 0
/** The URLs of the modules a fresh process loads importing `specifiers`. */
const loadedBy = (...specifiers: ReadonlyArray<string>): Promise<ReadonlyArray<string>> => {
  const log = join(dir, `loaded-${runs++}.txt`)
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ["--import", "tsx", child, log, ...specifiers], { cwd: root, timeout: 60_000 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(readFileSync(log, "utf8").split("\n").filter((l) => l !== ""))
    )
  )
}

/** The effect modules among `urls`, by their path inside effect's dist (e.g. "Schema.js"). */
const effectModules = (urls: ReadonlyArray<string>): ReadonlyArray<string> =>
  urls.flatMap((u) => {
    const m = /\/node_modules\/effect\/dist\/(.+)$/.exec(u)
    return m ? [m[1]!] : []
  })

const isSchema = (path: string): boolean => /(^|\/)Schema[A-Za-z]*\.js$/.test(path)

describe("imports", () => {
  it("the core and transforms indexes load no Schema module", async () => {
    const urls = await loadedBy("@diffect/core", "@diffect/transforms")
    // the packages were loaded from their sources, and effect with them
    expect(urls.some((u) => u.endsWith("/packages/core/src/index.ts"))).toBe(true)
    expect(urls.some((u) => u.endsWith("/packages/transforms/src/index.ts"))).toBe(true)
    const effect = effectModules(urls)
    expect(effect).toContain("Effect.js")
    expect(effect.filter(isSchema)).toEqual([])
  })

  it("the built packages load their bundles: a few modules of diffect's own, not one per source file, and still no Schema", async () => {
    // (Node keeps a cost per ES module: the 88 compiled modules of core and transforms cost about twice the memory of their bundles, bench/README.md)
    const urls = await loadedBy("--built", "@diffect/core", "@diffect/transforms")
    const own = urls.filter((u) => u.includes("/packages/"))
    expect(own.some((u) => u.endsWith("/packages/core/dist/bundle/index.js"))).toBe(true)
    expect(own.some((u) => u.endsWith("/packages/transforms/dist/bundle/index.js"))).toBe(true)
    expect(own.filter((u) => !u.includes("/dist/bundle/"))).toEqual([])
    expect(own.length).toBeLessThanOrEqual(8)
    expect(effectModules(urls).filter(isSchema)).toEqual([])
  })

  it("the Codec subpath does load effect/Schema (the check above sees it when it is there)", async () => {
    const effect = effectModules(await loadedBy("@diffect/core", "@diffect/core/Codec"))
    expect(effect).toContain("Schema.js")
  })
})
