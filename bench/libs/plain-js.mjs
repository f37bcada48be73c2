// The baseline of the control-flow row: backpropagation through time for
// x ← x + dt·(tanh(W x) − x) written by hand in plain JavaScript, as a user
// would without a library. Float32Array storage (as the libraries' float32
// tensors), one preallocated buffer of residuals for the whole run (the
// states and tanh outputs of every step), no allocation per step.
export default {
  name: "plain-js",
  async init() {},
  async prepare(id, I) {
    if (id !== "bptt") return undefined
    const { n, steps, dt } = I
    const w = Float32Array.from(I.w)
    const states = new Float32Array((steps + 1) * n) // x_0 … x_T
    const tanhs = new Float32Array(steps * n) // tanh(W x_t)
    const dW = new Float32Array(n * n)
    let adj = new Float32Array(n), back = new Float32Array(n)
    return () => {
      states.set(I.x0)
      for (let t = 0; t < steps; t++) {
        const x = t * n, y = x + n
        for (let i = 0; i < n; i++) {
          let s = 0
          const row = i * n
          for (let j = 0; j < n; j++) s += w[row + j] * states[x + j]
          const h = Math.tanh(s)
          tanhs[x + i] = h
          states[y + i] = states[x + i] + dt * (h - states[x + i])
        }
      }
      const last = steps * n
      let loss = 0
      for (let i = 0; i < n; i++) {
        const v = states[last + i]
        loss += v * v
        adj[i] = (2 * v) / n
      }
      loss /= n
      dW.fill(0)
      for (let t = steps - 1; t >= 0; t--) {
        const x = t * n
        for (let j = 0; j < n; j++) back[j] = adj[j] * (1 - dt)
        for (let i = 0; i < n; i++) {
          const h = tanhs[x + i], g = adj[i] * dt * (1 - h * h)
          const row = i * n
          for (let j = 0; j < n; j++) {
            dW[row + j] += g * states[x + j]
            back[j] += g * w[row + j]
          }
        }
        ;[adj, back] = [back, adj]
      }
      return [Float32Array.of(loss), Float32Array.from(dW)]
    }
  }
}
