import { CpuBackend } from "@diffect/core"
import { conformanceSuite } from "./suite.js"

conformanceSuite("cpu", CpuBackend.layer)
