/** End-to-end transform cases (filled in once @diffect/transforms is available). */
import type { Case } from "./cases.js"

export const transformCases: ReadonlyArray<Case> = []
