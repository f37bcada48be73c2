// diffect-jit on one thread (CpuBackend.layerWith({ threads: 1 })): the `diffect-jit` row's thread scaling, same run.
import { withThreads } from "./diffect-jit.mjs"
export default withThreads("diffect-jit-t1", 1)
