// `npm run test:browser`: the browser tests (vitest browser mode, headless
// Chromium) with a time limit. A run that gives no result within the limit
// (a wedged browser or GPU process: a blocked page cannot time out its own
// tests) is stopped and tried once more; a second timeout fails. A missing
// Chromium fails at once, like any other failure.
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const limitMs = Number(process.env.BROWSER_TEST_TIMEOUT_MS ?? 10 * 60_000)
const vitest = fileURLToPath(new URL("../../node_modules/vitest/vitest.mjs", import.meta.url))
const args = [vitest, "run", "--config", "vitest.browser.config.ts", ...process.argv.slice(2)]

const run = () =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: "inherit", detached: true })
    const stop = (signal) => {
      try {
        process.kill(-child.pid, signal)
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => {
      console.error(`\nbrowser tests: no result after ${limitMs / 1000} s, stopping them`)
      stop("SIGTERM")
      setTimeout(() => stop("SIGKILL"), 5000).unref()
      resolve("timeout")
    }, limitMs)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve(code ?? (signal ? 1 : 0))
    })
  })

let result = await run()
if (result === "timeout") {
  console.error("browser tests: trying once more")
  result = await run()
  if (result === "timeout") result = 1
}
process.exit(result)
