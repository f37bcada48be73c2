// A minimal Web Worker API over node:worker_threads, so that jax-js (which
// starts its wasm worker pool only where `Worker` and SharedArrayBuffer
// exist: browsers) runs multi-threaded in Node too. Installed by
// jax-js-workers.mjs before jax-js is imported. It supports what jax-js
// uses: `new Worker(blobUrl, { type: "module" })` of a Blob holding the
// worker's source, `postMessage`, `onmessage`, `onerror`, `terminate`; in
// the worker, `self.onmessage` and `postMessage`.
import os from "node:os"
import { Worker as NodeWorker } from "node:worker_threads"

const sources = new Map()
const NodeBlob = globalThis.Blob
globalThis.Blob = class extends NodeBlob {
  constructor(parts, options) {
    super(parts, options)
    if (parts.every((p) => typeof p === "string")) this.source = parts.join("")
  }
}
const createObjectURL = URL.createObjectURL
URL.createObjectURL = (blob) => {
  const url = createObjectURL(blob)
  if (blob.source !== undefined) sources.set(url, blob.source)
  return url
}

const prelude = `
const { parentPort } = require("node:worker_threads")
globalThis.self = globalThis
globalThis.postMessage = (m) => parentPort.postMessage(m)
parentPort.on("message", (m) => globalThis.onmessage && globalThis.onmessage({ data: m }))
`

globalThis.Worker = class Worker {
  constructor(url) {
    const source = sources.get(String(url))
    if (source === undefined) throw new Error(`web-worker-shim: no source for ${url}`)
    this.onmessage = null
    this.onerror = null
    this.worker = new NodeWorker(prelude + source, { eval: true })
    globalThis.webWorkerShimStarted = (globalThis.webWorkerShimStarted ?? 0) + 1
    this.worker.unref()
    this.worker.on("message", (m) => this.onmessage?.({ data: m }))
    this.worker.on("error", (e) => this.onerror?.(e))
  }
  postMessage(m) {
    this.worker.postMessage(m)
  }
  terminate() {
    this.worker.terminate()
  }
}
// jax-js sizes its pool from navigator.hardwareConcurrency (Node 20 has no navigator)
if (globalThis.navigator === undefined) globalThis.navigator = { hardwareConcurrency: os.availableParallelism() }
