/**
 * @diffect/nn: the training kit. Optimizers whose state lives in Variables
 * (`Optim`), losses (`Loss`), layers made of TrainVars (`Layer`), their
 * initializers (`Init`), parameter collections (`Module`), batching
 * (`Data`), metrics (`Metrics`) and a training loop (`Train`).
 * @module @diffect/nn
 */
export * as Optim from "./Optim.js"
export * as Loss from "./Loss.js"
export * as Layer from "./Layer.js"
export * as Init from "./Init.js"
export * as Module from "./Module.js"
export * as Data from "./Data.js"
export * as Metrics from "./Metrics.js"
export * as Train from "./Train.js"
