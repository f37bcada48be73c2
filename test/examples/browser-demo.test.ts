/**
 * The browser demo (examples/browser, `npm run demo`), as a visitor sees it:
 * bundled with esbuild, served on 127.0.0.1, loaded in headless Chromium.
 * It trains on WebGL2 (SwiftShader here) until it says it is done, with the
 * accuracy it shows above 90%, and a screenshot of the finished page is
 * taken (written to examples/browser/screenshot.png, the README's picture,
 * when DIFFECT_UPDATE_SCREENSHOT=1). Where WebGL2 is missing, the same page
 * trains on the CPU and says so.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chromiumArgs, chromiumPath } from "../browser/chromium.js"

const root = fileURLToPath(new URL("../../", import.meta.url))

interface Shown {
  readonly backend: string
  readonly step: string
  readonly accuracy: string
  readonly testAccuracy: string
  readonly status: string
}

type Browser = Awaited<ReturnType<(typeof import("playwright-core"))["chromium"]["launch"]>>
type Page = Awaited<ReturnType<Browser["newPage"]>>

let out = ""
let url = ""
let close: () => void = () => {}
let browser: Browser | undefined

beforeAll(async () => {
  const demo = (await import(`${root}examples/browser/serve.mjs`)) as {
    buildDemo: (dir: string) => Promise<string>
    serve: (dir: string, port: number) => Promise<{ server: { close: () => void }; url: string }>
  }
  out = mkdtempSync(join(tmpdir(), "diffect-demo-"))
  await demo.buildDemo(out)
  const served = await demo.serve(out, 0)
  url = served.url
  close = () => served.server.close()
  const { chromium } = await import("playwright-core")
  browser = await chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs] })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  close()
  if (out !== "") rmSync(out, { recursive: true, force: true })
})

/** Loads the demo with `query`, waits until it has finished, and reads what it shows. */
const runDemo = async (page: Page, query: string): Promise<Shown> => {
  const errors: string[] = []
  page.on("pageerror", (e) => errors.push(String(e)))
  await page.goto(`${url}?${query}`)
  await page.waitForFunction(() => document.getElementById("status")?.dataset.state !== "running", undefined, { timeout: 150_000 })
  const text = (id: string) => page.locator(`#${id}`).innerText()
  const shown = {
    backend: await text("backend"),
    step: await text("step"),
    accuracy: await text("accuracy"),
    testAccuracy: await text("test-accuracy"),
    status: await text("status")
  }
  expect(errors).toEqual([])
  return shown
}

const percent = (s: string) => Number(/([\d.]+)%/.exec(s)?.[1] ?? Number.NaN)

describe("the browser demo (examples/browser)", () => {
  it("trains live on WebGL2, plots, and reaches more than 90% accuracy; a screenshot of it", { timeout: 180_000 }, async () => {
    const page = await browser!.newPage({ viewport: { width: 920, height: 640 } })
    const shown = await runDemo(page, "steps=300")
    expect(shown.status).toBe("done")
    expect(shown.backend).toMatch(/^WebGL2/)
    expect(shown.step).toBe("300 / 300")
    expect(percent(shown.accuracy)).toBeGreaterThan(90)
    expect(percent(shown.testAccuracy)).toBeGreaterThan(90)
    // the canvases were drawn: the boundary is not one flat colour
    const colours = await page.evaluate(() => {
      const c = document.getElementById("boundary") as HTMLCanvasElement
      const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data
      const seen = new Set<number>()
      for (let i = 0; i < px.length; i += 4 * 97) seen.add((px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!)
      return seen.size
    })
    expect(colours).toBeGreaterThan(10)
    const png = await page.screenshot({ fullPage: true })
    expect(png.length).toBeGreaterThan(20_000)
    if (process.env.DIFFECT_UPDATE_SCREENSHOT === "1") writeFileSync(join(root, "examples/browser/screenshot.png"), png)
    await page.close()
  })

  it("falls back to the CPU where there is no WebGL2, and says so", { timeout: 120_000 }, async () => {
    const page = await browser!.newPage()
    // a browser without WebGL2: every canvas refuses a webgl2 context
    await page.addInitScript(() => {
      for (const proto of [HTMLCanvasElement.prototype, OffscreenCanvas.prototype] as Array<{ getContext: (...a: unknown[]) => unknown }>) {
        const original = proto.getContext
        proto.getContext = function (this: unknown, kind: unknown, ...rest: unknown[]) {
          return kind === "webgl2" || kind === "webgl" ? null : original.call(this, kind, ...rest)
        }
      }
    })
    const shown = await runDemo(page, "steps=20")
    expect(shown.status).toBe("done")
    expect(shown.backend).toBe("CPU (no WebGL2 here)")
    expect(shown.step).toBe("20 / 20")
    await page.close()
  })

  it("the README shows the committed screenshot", async () => {
    const { readFileSync } = await import("node:fs")
    expect(readFileSync(join(root, "README.md"), "utf8")).toContain("](examples/browser/screenshot.png)")
    expect(statSync(join(root, "examples/browser/screenshot.png")).size).toBeGreaterThan(20_000)
  })
})
