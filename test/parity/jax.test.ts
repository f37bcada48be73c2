/**
 * JAX parity on the CPU backend in float64 (the suite: jaxSuite.ts).
 * `DIFFECT_JAX_FIXTURE=path` reads another file, e.g. the closed-form numpy
 * numbers of `generate_jax.py --numpy-reference`; only a `"source": "jax"`
 * file is accepted at the default path. A missing fixture fails.
 */
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { type Fixture, GENERATE, jaxParitySuite, type Loaded, validate } from "./jaxSuite.js"

const DEFAULT_PATH = fileURLToPath(new URL("../fixtures/jax.json", import.meta.url))
const FIXTURE_PATH = process.env["DIFFECT_JAX_FIXTURE"] || DEFAULT_PATH

const load = (): Loaded => {
  if (!existsSync(FIXTURE_PATH))
    return { error: `JAX parity fixture not found: ${FIXTURE_PATH}. Generate it with:\n  ${GENERATE}\nthen commit test/fixtures/jax.json.` }
  let fixture: Fixture
  try {
    fixture = JSON.parse(readFileSync(FIXTURE_PATH, "utf8")) as Fixture
  } catch (e) {
    return { error: `JAX parity fixture ${FIXTURE_PATH} is not valid JSON (${String(e)}); regenerate it with:\n  ${GENERATE}` }
  }
  return validate(fixture, FIXTURE_PATH, FIXTURE_PATH === DEFAULT_PATH)
}

jaxParitySuite({ loaded: load(), path: FIXTURE_PATH })
