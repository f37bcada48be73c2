/**
 * The packages as users get them: every workspace package (read from the
 * root package.json, so a new package is covered without editing this file)
 * is built, packed with `npm pack`, and installed from its tarball (with
 * `effect` and the optional peers from the npm registry, or npm's cache)
 * into a temporary project outside the repository. That project is
 * typechecked under `strict` + `module: NodeNext` (test/packaging/project/
 * tsconfig.json, the one the README recommends) with the library's
 * declarations checked too (`skipLibCheck: false`), compiled, run in Node,
 * and its page is bundled with esbuild and run in headless Chromium.
 *
 * Before that, each package's metadata (name, version, license, type,
 * exports with types, files, sideEffects, effect as a peer dependency, its
 * imports declared as dependencies) and tarball contents (no build info, no
 * source map or declaration pointing at a file that is not shipped, no
 * README or API doc sending readers to a file that is not shipped) are
 * checked.
 */
import { execFile } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, normalize, relative } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chromiumArgs, chromiumPath } from "../browser/chromium.js"

const root = fileURLToPath(new URL("../../", import.meta.url))
const projectTemplate = fileURLToPath(new URL("./project/", import.meta.url))

interface PackageJson {
  readonly name?: string
  readonly version?: string
  readonly license?: string
  readonly type?: string
  readonly private?: boolean
  readonly exports?: Record<string, unknown>
  readonly files?: ReadonlyArray<string>
  readonly sideEffects?: unknown
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly workspaces?: ReadonlyArray<string>
}

interface Workspace {
  readonly dir: string
  readonly pkg: PackageJson
}

const readJson = <A>(path: string): A => JSON.parse(readFileSync(path, "utf8")) as A

/** The workspace packages of the root package.json (entries may end in `/*`). */
const workspaces: ReadonlyArray<Workspace> = (readJson<PackageJson>(join(root, "package.json")).workspaces ?? [])
  .flatMap((entry) =>
    entry.endsWith("/*")
      ? readdirSync(join(root, entry.slice(0, -2)), { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => join(entry.slice(0, -2), d.name))
      : [entry]
  )
  .filter((dir) => existsSync(join(root, dir, "package.json")))
  .map((dir) => ({ dir, pkg: readJson<PackageJson>(join(root, dir, "package.json")) }))
  .filter((w) => w.pkg.private !== true)

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const exec = (file: string, args: ReadonlyArray<string>, cwd: string, timeout = 180_000): Promise<Run> =>
  new Promise((resolve) =>
    execFile(file, [...args], { cwd, timeout, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: "1" } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr })
    )
  )

const ok = (what: string, r: Run): string => {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`)
  return r.stdout
}

const npm = (args: ReadonlyArray<string>, cwd: string) =>
  exec(process.platform === "win32" ? "npm.cmd" : "npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], cwd)

/** What `npm pack --json` says about one tarball. */
interface Packed {
  readonly name: string
  readonly version: string
  readonly filename: string
  readonly files: ReadonlyArray<{ readonly path: string }>
}

/** Bare module specifiers imported by a built file (comments are skipped). */
const importsOf = (code: string): ReadonlyArray<string> => {
  const out: string[] = []
  const re = /^\s*(?:import|export)\b[^"'`]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm
  for (const m of code.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3]!
    if (!spec.startsWith(".") && !spec.startsWith("node:")) out.push(spec)
  }
  return out
}

/** The package a bare specifier belongs to (`@scope/name/sub` → `@scope/name`). */
const packageOf = (spec: string): string => spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/")

/** The installed version of a package of the repository's own node_modules (so npm's cache has it). */
const repoVersion = (name: string): string => readJson<{ version: string }>(join(root, "node_modules", name, "package.json")).version

let work = ""
let tarballs: ReadonlyArray<Packed> = []

beforeAll(async () => {
  ok("npm run build", await npm(["run", "build"], root))
  work = mkdtempSync(join(tmpdir(), "diffect-install-"))
  mkdirSync(join(work, "tarballs"))
  const packed = ok("npm pack", await npm(["pack", "--workspaces", "--json", "--ignore-scripts", "--pack-destination", join(work, "tarballs")], root))
  tarballs = JSON.parse(packed) as ReadonlyArray<Packed>
}, 240_000)

// removing the installed project (its node_modules) takes more than vitest's 10 s default on a busy machine
afterAll(() => {
  if (work !== "" && process.env.DIFFECT_KEEP_INSTALL === undefined) rmSync(work, { recursive: true, force: true })
}, 120_000)

describe("every workspace package", () => {
  it("is found (the root package.json's workspaces)", () => {
    expect(workspaces.map((w) => w.pkg.name)).toEqual(expect.arrayContaining(["@diffect/core", "@diffect/transforms", "@diffect/backend-webgl", "@diffect/backend-webgpu"]))
    expect(tarballs.map((t) => t.name).sort()).toEqual(workspaces.map((w) => w.pkg.name).sort())
  })

  describe.each(workspaces.map((w) => [w.pkg.name ?? w.dir, w] as const))("%s", (_name, { dir, pkg }) => {
    const shipped = () => {
      const t = tarballs.find((p) => p.name === pkg.name)
      if (t === undefined) throw new Error(`${pkg.name} was not packed`)
      return new Set(t.files.map((f) => f.path))
    }

    it("has the fields users need: name, version, license, type, exports with types, files, sideEffects, effect as a peer", () => {
      expect(pkg.name).toMatch(/^@diffect\/[a-z0-9-]+$/)
      expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/)
      expect(typeof pkg.license === "string" && pkg.license.length > 0).toBe(true)
      expect(pkg.type).toBe("module")
      expect(pkg.files?.length ?? 0).toBeGreaterThan(0)
      expect(typeof pkg.sideEffects === "boolean" || Array.isArray(pkg.sideEffects)).toBe(true)
      expect(pkg.peerDependencies?.effect).toBeDefined()
      expect(pkg.dependencies?.effect).toBeUndefined()
      const exports = Object.entries(pkg.exports ?? {})
      expect(exports.length).toBeGreaterThan(0)
      const files = shipped()
      for (const [key, target] of exports) {
        expect(key === "." || key.startsWith("./"), `exports key ${key}`).toBe(true)
        const conditions = target as Record<string, string>
        // "types" first: resolvers take the first condition that matches
        expect(Object.keys(conditions)[0], `exports["${key}"]`).toBe("types")
        for (const [condition, path] of Object.entries(conditions)) {
          expect(files.has(normalize(path)), `exports["${key}"].${condition} = ${path} is shipped`).toBe(true)
        }
      }
    })

    it("declares every package its built code imports (dependencies or peers)", () => {
      const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}), pkg.name])
      for (const file of shipped()) {
        if (!file.startsWith("dist/") || !/\.(js|d\.ts)$/.test(file)) continue
        for (const spec of importsOf(readFileSync(join(root, dir, file), "utf8")))
          expect(declared.has(packageOf(spec)), `${pkg.name}/${file} imports ${spec}`).toBe(true)
      }
    })

    it("ships no build info, and no source map or declaration that points at a missing file", () => {
      const files = shipped()
      expect([...files].filter((f) => f.includes("tsbuildinfo"))).toEqual([])
      for (const file of files) {
        const text = () => readFileSync(join(root, dir, file), "utf8")
        if (file.endsWith(".map")) {
          const map = JSON.parse(text()) as { sources: ReadonlyArray<string> }
          for (const source of map.sources)
            expect(files.has(normalize(join(dirname(file), source))), `${file} maps to ${source}`).toBe(true)
        } else if (/\.(js|d\.ts)$/.test(file)) {
          const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text())?.[1]
          if (url !== undefined) expect(files.has(normalize(join(dirname(file), url))), `${file} points at ${url}`).toBe(true)
        }
      }
    })

    it("has a README, and neither it nor the API docs send readers to files that are not shipped", () => {
      const files = shipped()
      expect(files.has("README.md")).toBe(true)
      for (const file of files) {
        if (!/\.(md|d\.ts)$/.test(file)) continue
        const text = readFileSync(join(root, dir, file), "utf8")
        const mentioned = [
          ...[...text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((p) => !/^[a-z]+:/.test(p)),
          ...[...text.matchAll(/`([\w.@-]+(?:\/[\w.@-]+)*\.(?:md|ts|mts|mjs|js|json|html))`/g)].map((m) => m[1]!)
        ]
        for (const ref of mentioned) {
          // a path relative to the file or to the package's root, or the end of a shipped file's path
          // (prose names `rules/jvp.ts` or `matmul.ts` once the folder is said)
          const found =
            [join(dirname(file), ref), ref].some((p) => files.has(normalize(p))) || [...files].some((f) => f.endsWith(`/${ref}`))
          expect(found, `${pkg.name}/${file} mentions ${ref}, which is not in the package`).toBe(true)
        }
        expect(text, `${pkg.name}/${file}`).not.toMatch(/SPEC\.md/)
      }
    })
  })
})

describe("a project outside the repository that installs the tarballs", () => {
  beforeAll(async () => {
    cpSync(projectTemplate, join(work, "project"), { recursive: true })
    const peers = new Set(workspaces.flatMap((w) => Object.keys(w.pkg.peerDependencies ?? {})))
    const dependencies: Record<string, string> = {}
    for (const t of tarballs) dependencies[t.name] = `file:../tarballs/${t.filename}`
    for (const name of peers) if (!name.startsWith("@diffect/")) dependencies[name] = repoVersion(name)
    writeFileSync(
      join(work, "project", "package.json"),
      JSON.stringify({ name: "diffect-user-project", private: true, type: "module", dependencies }, null, 2)
    )
    ok("npm install", await npm(["install", "--prefer-offline", "--ignore-scripts", "--no-package-lock"], join(work, "project")))
    // every entry point of every package, so a new package or subpath is imported too
    const entries = workspaces.flatMap((w) => Object.keys(w.pkg.exports ?? {}).map((k) => (k === "." ? w.pkg.name! : `${w.pkg.name}/${k.slice(2)}`)))
    writeFileSync(
      join(work, "project", "src", "entries.ts"),
      `// Generated: imports every entry point of every installed package.\n` +
        entries.map((e, i) => `import * as m${i} from "${e}"\n`).join("") +
        `const modules: Record<string, object> = { ${entries.map((e, i) => `"${e}": m${i}`).join(", ")} }\n` +
        `console.log(JSON.stringify(Object.fromEntries(Object.entries(modules).map(([k, m]) => [k, Object.keys(m).length]))))\n`
    )
  }, 240_000)

  it("uses the tsconfig that the README recommends", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8")
    expect(readme).toContain("```json\n" + readFileSync(join(projectTemplate, "tsconfig.json"), "utf8").trim() + "\n```")
  })

  it("installs them from the tarballs (not from the repository)", () => {
    for (const t of tarballs) {
      const installed = join(work, "project", "node_modules", t.name)
      expect(existsSync(join(installed, "package.json")), t.name).toBe(true)
      expect(relative(root, installed).startsWith("..")).toBe(true)
      expect(readJson<PackageJson>(join(installed, "package.json")).version).toBe(t.version)
    }
  })

  it("typechecks under strict + NodeNext (declarations included) and runs in Node", async () => {
    const project = join(work, "project")
    ok("tsc", await exec(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", project], project))
    const entries = JSON.parse(ok("node out/entries.js", await exec(process.execPath, ["out/entries.js"], project))) as Record<string, number>
    for (const [entry, count] of Object.entries(entries)) expect(count, `${entry} exports something`).toBeGreaterThan(0)
    const out = JSON.parse(ok("node out/main.js", await exec(process.execPath, ["out/main.js"], project)).trim().split("\n").at(-1)!) as {
      loss: number
      hessian: ReadonlyArray<ReadonlyArray<number>>
      printed: string
      gpu: string
      webgpu: string
      fpts: unknown
      checked: boolean
    }
    expect(out.loss).toBeLessThan(0.5)
    expect(out.hessian).toEqual([[6, 0], [0, 12]])
    expect(out.printed).toBe("Tensor(float32[2], [1.5, 2])")
    expect(out.gpu).toBe("BackendError")
    expect(out.webgpu).toBe("BackendError")
    expect(out.fpts).toEqual([2, 4])
    expect(out.checked).toBe(true)
  })

  it("bundles for the browser with esbuild, and the page runs in headless Chromium on WebGL and on WebGPU", { timeout: 120_000 }, async () => {
    const project = join(work, "project")
    const { build } = await import("esbuild")
    await build({
      entryPoints: [join(project, "src", "page.ts")],
      absWorkingDir: project,
      bundle: true,
      format: "iife",
      platform: "browser",
      target: "es2022",
      outfile: join(project, "page", "page.js"),
      logLevel: "silent"
    })
    writeFileSync(join(project, "page", "index.html"), `<!doctype html><meta charset="utf-8"><title>diffect</title><script src="page.js"></script>`)
    const { chromium } = await import("playwright-core")
    const browser = await chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs] })
    try {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on("pageerror", (e) => errors.push(String(e)))
      await page.goto(pathToFileURL(join(project, "page", "index.html")).href)
      await page.waitForFunction(() => (globalThis as { diffectResult?: unknown }).diffectResult !== undefined, undefined, { timeout: 90_000 })
      const result = (await page.evaluate(() => (globalThis as { diffectResult?: unknown }).diffectResult)) as {
        backend: string
        first: number
        last: number
        printed: string
        webgpu: { backend: string; first: number; last: number }
      }
      expect(errors).toEqual([])
      expect(result.backend).toBe("webgl")
      expect(result.webgpu.backend).toBe("webgpu")
      expect(result.webgpu.last).toBeLessThan(result.webgpu.first / 2)
      expect(result.last).toBeLessThan(result.first / 2)
      expect(result.printed).toBe("Tensor(float32[2], [1, 2])")
    } finally {
      await browser.close()
    }
  })
})
