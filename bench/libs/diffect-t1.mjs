// diffect on one thread (CpuBackend.layerWith({ threads: 1 })): the `diffect` row's thread scaling, same run.
import { withThreads } from "./diffect.mjs"
export default withThreads("diffect-t1", 1)
