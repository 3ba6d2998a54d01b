/**
 * 2-D convolution (shaders/conv2d.wgsl): ONNX Conv on NCHW f32 tensors with strides, dilations,
 * asymmetric pads and groups, the bias, an optional residual and an activation fused, and its CPU
 * twin.
 */
import { InvalidInputError } from '../errors.js'
import type { Program } from '../gpu/program.js'
import { grid } from '../gpu/program.js'
import { type Activation, activate, activationCode } from './activation.js'
import { loadShader } from './shaders.js'
import { checkBuffer, checkElements, checkInt, checkInts, windowOut, windowUniforms } from './window.js'

/** The geometry of one convolution. Pads: top, left, bottom, right (ONNX order: begins, then ends). */
export interface Conv2dShape {
  batch: number
  inC: number
  inH: number
  inW: number
  outC: number
  kH: number
  kW: number
  strides: [number, number]
  pads: [number, number, number, number]
  dilations: [number, number]
  group: number
}

/** The buffers of one convolution: out = act(conv(input, weight) + bias + residual). */
export interface Conv2dArgs extends Conv2dShape {
  /** [batch, inC, inH, inW] */
  input: GPUBuffer
  /** [outC, inC / group, kH, kW] */
  weight: GPUBuffer
  /** [outC] */
  bias: GPUBuffer
  /** [batch, outC, outH, outW], added before the activation. */
  residual?: GPUBuffer
  /** [batch, outC, outH, outW] */
  out: GPUBuffer
  /** Default 'none'. */
  activation?: Activation
}

const NAME = 'conv2d'
/** Threads per workgroup (the GEMM path's tile is WG/2 output pixels × 32 output channels). */
const WG = 64
const TM = WG / 2
const TN = 32
/** Groups with at most this many output channels take the direct path (a thread per output). */
const DIRECT_MAX_COUT = 4

/**
 * The output's spatial size by the ONNX formula (floor mode), after checking the whole shape:
 * positive integer dims, strides and dilations, pads >= 0, channels divisible by `group`, the
 * window fitting the padded input, tensor sizes within the kernel's 32-bit indexing. Throws
 * `InvalidInputError` otherwise.
 */
export function conv2dOutSize(s: Conv2dShape): { outH: number; outW: number } {
  for (const k of ['batch', 'inC', 'inH', 'inW', 'outC', 'kH', 'kW', 'group'] as const) checkInt(NAME, k, s[k], 1)
  checkInts(NAME, 'strides', s.strides, 2, 1)
  checkInts(NAME, 'dilations', s.dilations, 2, 1)
  checkInts(NAME, 'pads', s.pads, 4, 0)
  if (s.inC % s.group !== 0 || s.outC % s.group !== 0) {
    throw new InvalidInputError(`${NAME}: inC (${s.inC}) and outC (${s.outC}) must be multiples of group (${s.group})`)
  }
  const [sh, sw] = s.strides
  const [pt, pl, pb, pr] = s.pads
  const [dh, dw] = s.dilations
  const outH = windowOut(NAME, 'vertical', s.inH, s.kH, sh, pt, pb, dh)
  const outW = windowOut(NAME, 'horizontal', s.inW, s.kW, sw, pl, pr, dw)
  checkElements(NAME, 'the input', s.batch * s.inC * s.inH * s.inW)
  checkElements(NAME, 'the weight', s.outC * (s.inC / s.group) * s.kH * s.kW)
  checkElements(NAME, 'the output', s.batch * s.outC * outH * outW)
  return { outH, outW }
}

/** The dispatch of one convolution; checks the shape and that every buffer is large enough. */
export function conv2dProgram(a: Conv2dArgs): Program {
  const { outH, outW } = conv2dOutSize(a)
  const cinG = a.inC / a.group
  const coutG = a.outC / a.group
  const red = cinG * a.kH * a.kW
  const rows = a.batch * outH * outW
  const outCount = rows * a.outC
  checkBuffer(NAME, 'input', a.input, a.batch * a.inC * a.inH * a.inW, a.out)
  checkBuffer(NAME, 'weight', a.weight, a.outC * red, a.out)
  checkBuffer(NAME, 'bias', a.bias, a.outC, a.out)
  if (a.residual) checkBuffer(NAME, 'residual', a.residual, outCount, a.out)
  checkBuffer(NAME, 'out', a.out, outCount)
  const direct = coutG <= DIRECT_MAX_COUT
  const tilesM = Math.ceil(rows / TM)
  const tilesN = Math.ceil(coutG / TN)
  const count = direct ? outCount : tilesM * tilesN * a.group
  return {
    shader: loadShader(NAME),
    label: `conv2d [${a.batch},${a.inC},${a.inH},${a.inW}]→[${a.outC},${outH},${outW}] k${a.kH}×${a.kW} g${a.group}`,
    constants: {
      WG,
      ACT: activationCode(a.activation ?? 'none'),
      HAS_RESIDUAL: a.residual ? 1 : 0,
      DIRECT: direct ? 1 : 0,
    },
    uniforms: {
      in_c: a.inC,
      out_c: a.outC,
      ...windowUniforms(a, outH, outW),
      cin_g: cinG,
      cout_g: coutG,
      red,
      rows,
      tiles_m: tilesM,
      tiles_n: tilesN,
      count,
    },
    bindings: {
      input: a.input,
      weight: a.weight,
      bias: a.bias,
      residual: a.residual ?? a.bias,
      out: a.out,
    },
    workgroups: grid(direct ? Math.ceil(outCount / WG) : count),
  }
}

/**
 * The same convolution on the CPU: float64 sums, float32 results. Checks the shape and every
 * array's length.
 */
export function conv2dCpu(
  input: Float32Array,
  weight: Float32Array,
  bias: Float32Array,
  s: Conv2dShape,
  residual?: Float32Array,
  activation: Activation = 'none',
): Float32Array {
  const { outH, outW } = conv2dOutSize(s)
  const { batch, inC, inH, inW, outC, kH, kW, group } = s
  const cinG = inC / group
  const coutG = outC / group
  const [sh, sw] = s.strides
  const [pt, pl] = s.pads
  const [dh, dw] = s.dilations
  const outCount = batch * outC * outH * outW
  checkLength('input', input, batch * inC * inH * inW)
  checkLength('weight', weight, outC * cinG * kH * kW)
  checkLength('bias', bias, outC)
  if (residual) checkLength('residual', residual, outCount)
  const out = new Float32Array(outCount)
  const sums = new Float64Array(outH * outW)
  // Stryker disable next-line EqualityOperator: one image past the end reads undefined and writes out of range, which typed arrays drop
  for (let b = 0; b < batch; b++) {
    // Stryker disable next-line EqualityOperator: one channel past the end writes the next image's channel 0, which that image overwrites (past the last: dropped)
    for (let co = 0; co < outC; co++) {
      const g = Math.floor(co / coutG)
      sums.fill(bias[co] as number)
      // Accumulate one input plane × one kernel tap at a time over every output pixel.
      for (let ci = 0; ci < cinG; ci++) {
        const plane = (b * inC + g * cinG + ci) * inH * inW
        for (let ky = 0; ky < kH; ky++) {
          for (let kx = 0; kx < kW; kx++) {
            const w = weight[((co * cinG + ci) * kH + ky) * kW + kx] as number
            // Stryker disable next-line EqualityOperator: one row past the end adds into sums past its end, which typed arrays drop
            for (let oy = 0; oy < outH; oy++) {
              const iy = oy * sh - pt + ky * dh
              if (iy < 0 || iy >= inH) continue
              for (let ox = 0; ox < outW; ox++) {
                const ix = ox * sw - pl + kx * dw
                if (ix < 0 || ix >= inW) continue
                const p = oy * outW + ox
                sums[p] = (sums[p] as number) + (input[plane + iy * inW + ix] as number) * w
              }
            }
          }
        }
      }
      const base = (b * outC + co) * outH * outW
      // Stryker disable next-line EqualityOperator: one pixel past the end writes the next channel's first, which that channel overwrites (past the last: dropped)
      for (let p = 0; p < outH * outW; p++) {
        const x = (sums[p] as number) + (residual ? (residual[base + p] as number) : 0)
        out[base + p] = activate(x, activation)
      }
    }
  }
  return out
}

function checkLength(name: string, a: Float32Array, n: number): void {
  if (a.length !== n) throw new InvalidInputError(`${NAME}: ${name} holds ${a.length} values, expected ${n}`)
}
