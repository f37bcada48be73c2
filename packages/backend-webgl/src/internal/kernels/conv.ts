/**
 * `conv` as one fragment shader: each output element [b, o, ...p] sums
 * x[b, g·C/g + c, ...pos] · w[o, c, ...t] over its group's input channels c
 * and the kernel taps t, with pos = p·stride − lo + t·rhsDilation read only
 * where it falls on an input element (pos divisible by lhsDilation and in
 * range). The loops are unrolled bounds known when the shader is built, so
 * each shape and set of options compiles once.
 */
import { Internal, type PrimParams } from "@diffect/core"
import type { Device, Handle } from "../device.js"
import { mainOfValue } from "../glsl.js"

const { sizeOf, stridesOf } = Internal

export const conv = (
  device: Device,
  x: Handle,
  w: Handle,
  xShape: ReadonlyArray<number>,
  wShape: ReadonlyArray<number>,
  outShape: ReadonlyArray<number>,
  { strides, padding, lhsDilation, rhsDilation, groups }: PrimParams["conv"]
): Handle => {
  const sd = xShape.length - 2
  const [, c, ...xs] = xShape as [number, number, ...number[]]
  const [o, cg, ...ks] = wShape as [number, number, ...number[]]
  const os = outShape.slice(2)
  const og = o / groups
  const xStr = stridesOf(xShape), wStr = stridesOf(wShape)
  const key = `conv:${xShape}|${wShape}|${strides}|${padding.flat()}|${lhsDilation}|${rhsDilation}|${groups}`
  return device.run(key, [x, w], sizeOf(outShape), () => {
    const dims = Array.from({ length: sd }, (_, d) => d)
    const decompose = [`int r = o;`, ...dims.reverse().map((d) => `int p${d} = r % ${os[d]}; r /= ${os[d]};`), `int oc = r % ${o}; int b = r / ${o};`].join("\n  ")
    dims.reverse()
    const loops = dims.map((d) => `for (int t${d} = 0; t${d} < ${ks[d]}; t${d}++) {
    int q${d} = p${d} * ${strides[d]} - ${padding[d]![0]} + t${d} * ${rhsDilation[d]};
    ${lhsDilation[d] === 1 ? "" : `if (q${d} < 0 || q${d} % ${lhsDilation[d]} != 0) continue; q${d} /= ${lhsDilation[d]};`}
    if (q${d} < 0 || q${d} >= ${xs[d]}) continue;`)
    const xIdx = [`(b * ${xStr[0]} + (g * ${cg} + ci) * ${xStr[1]})`, ...dims.map((d) => `q${d} * ${xStr[d + 2]}`)].join(" + ")
    const wIdx = [`(oc * ${wStr[0]} + ci * ${wStr[1]})`, ...dims.map((d) => `t${d} * ${wStr[d + 2]}`)].join(" + ")
    return `
float value(int o) {
  ${decompose}
  int g = oc / ${og};
  float acc = 0.0;
  for (int ci = 0; ci < ${cg}; ci++) {
  ${loops.join("\n  ")}
    acc += elem0(${xIdx}) * elem1(${wIdx});
  ${dims.map(() => "}").join(" ")}
  }
  return acc;
}
${mainOfValue(sizeOf(outShape))}`
  })
}
