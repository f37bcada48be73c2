// Module hooks for imports.test.ts: resolves the workspace packages to their
// TypeScript sources (so no build is needed) and appends the URL of every
// module Node loads to the file named by `data.log`.
import { appendFileSync } from "node:fs"

let log
let sources = {}
export const initialize = (data) => {
  log = data.log
  sources = data.sources
}

export const resolve = (specifier, context, next) => {
  const src = sources[specifier]
  return next(src ?? specifier, context)
}

export const load = async (url, context, next) => {
  const result = await next(url, context)
  appendFileSync(log, `${url}\n`)
  return result
}
