// Whether this JavaScript engine validates WebAssembly relaxed SIMD, asked of
// the smallest module that uses it: one function returning
// f32x4.relaxed_madd of three zero vectors. The library itself does not ask
// (wasm.ts tries the relaxed build and falls back); the test configuration
// and the benchmark harnesses do, to know which build to expect and which
// Node flag a child process needs (Node 20: --experimental-wasm-relaxed-simd).

const zeros = new Array(16).fill(0)

/** The probe module's bytes. */
export const relaxedSimdProbe = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // function 0 of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code: one body of 0x3b bytes, no locals
  0xfd, 0x0c, ...zeros, // v128.const 0
  0xfd, 0x0c, ...zeros,
  0xfd, 0x0c, ...zeros,
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd (0x105)
  0x0b // end
])

/** Whether this process validates relaxed SIMD. */
export const relaxedSimdValidates = WebAssembly.validate(relaxedSimdProbe)
