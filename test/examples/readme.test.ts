/**
 * Every TypeScript snippet of README.md is real: each of its blank-line
 * separated chunks appears, line for line (ignoring indentation), in one of
 * the examples, which test/examples/examples.test.ts runs.
 */
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../", import.meta.url))
const readme = readFileSync(`${root}README.md`, "utf8")

const normalize = (text: string): string[] =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("// #region") && l !== "// #endregion")

const examples = readdirSync(`${root}examples`)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => ({ file: f, lines: normalize(readFileSync(`${root}examples/${f}`, "utf8")) }))

const containsRun = (haystack: ReadonlyArray<string>, needle: ReadonlyArray<string>): boolean => {
  for (let i = 0; i + needle.length <= haystack.length; i++) if (needle.every((l, j) => haystack[i + j] === l)) return true
  return false
}

const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)

describe("README.md", () => {
  it("has TypeScript snippets", () => {
    expect(snippets.length).toBeGreaterThan(10)
  })

  it.each(snippets.map((s, i) => [i, s] as const))("snippet %i is copied from an example", (_i, snippet) => {
    const chunks = snippet.split(/\n\s*\n/).map(normalize).filter((c) => c.length > 0)
    for (const chunk of chunks) {
      const found = examples.some((e) => containsRun(e.lines, chunk))
      expect(found, `not found in examples/*.ts:\n${chunk.join("\n")}`).toBe(true)
    }
  })
})
