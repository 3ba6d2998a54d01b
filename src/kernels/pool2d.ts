/**
 * 2-D pooling (shaders/pool2d.wgsl): ONNX MaxPool and AveragePool on NCHW f32 tensors (floor
 * mode), GlobalAveragePool being the average with the window = the whole image, and its CPU twin.
 */
import { InvalidInputError } from '../errors.js'
import type { Program } from '../gpu/program.js'
import { grid } from '../gpu/program.js'
import { loadShader } from './shaders.js'
import { checkBuffer, checkElements, checkInt, checkInts, MAX_DIM, windowOut, windowUniforms } from './window.js'

/** The geometry of one pooling. Pads: top, left, bottom, right (ONNX order: begins, then ends). */
export interface Pool2dShape {
  mode: 'max' | 'avg'
  batch: number
  channels: number
  inH: number
  inW: number
  kH: number
  kW: number
  strides: [number, number]
  pads: [number, number, number, number]
  dilations: [number, number]
  /** avg only (ONNX count_include_pad): divide by kH·kW rather than by the in-image taps. */
  countIncludePad: boolean
}

/** The buffers of one pooling: input [batch, channels, inH, inW] → out [batch, channels, outH, outW]. */
export interface Pool2dArgs extends Pool2dShape {
  input: GPUBuffer
  out: GPUBuffer
}

const NAME = 'pool2d'
const WG = 64
/** Windows of at least this many taps get a workgroup per output rather than a thread. */
const WORKGROUP_WINDOW = 256

/**
 * The output's spatial size by the ONNX formula (floor mode), after checking the whole shape:
 * positive integer dims, kernel, strides and dilations, pads >= 0, the window fitting the padded
 * input, and every window holding at least one in-image tap (with dilations or pads as large as
 * the kernel a window can fall wholly in the padding, where neither a max nor an average exists).
 * Throws `InvalidInputError` otherwise.
 */
export function pool2dOutSize(s: Pool2dShape): { outH: number; outW: number } {
  if (s.mode !== 'max' && s.mode !== 'avg') {
    throw new InvalidInputError(`${NAME}: mode must be 'max' or 'avg', got ${String(s.mode)}`)
  }
  for (const k of ['batch', 'channels', 'inH', 'inW', 'kH', 'kW'] as const) checkInt(NAME, k, s[k], 1)
  checkInts(NAME, 'strides', s.strides, 2, 1)
  checkInts(NAME, 'dilations', s.dilations, 2, 1)
  checkInts(NAME, 'pads', s.pads, 4, 0)
  if (s.kH * s.kW > MAX_DIM) throw new InvalidInputError(`${NAME}: a ${s.kH}×${s.kW} window is too large`)
  const outH = windowOut(NAME, 'vertical', s.inH, s.kH, s.strides[0], s.pads[0], s.pads[2], s.dilations[0])
  const outW = windowOut(NAME, 'horizontal', s.inW, s.kW, s.strides[1], s.pads[1], s.pads[3], s.dilations[1])
  checkCovered('vertical', outH, s.inH, s.kH, s.strides[0], s.pads[0], s.dilations[0])
  checkCovered('horizontal', outW, s.inW, s.kW, s.strides[1], s.pads[1], s.dilations[1])
  checkElements(NAME, 'the input', s.batch * s.channels * s.inH * s.inW)
  checkElements(NAME, 'the output', s.batch * s.channels * outH * outW)
  return { outH, outW }
}

/**
 * Throw unless each of the `out` windows along one axis has a tap inside the image. Without a loop
 * over taps (a claimed window may hold 2^24): a window starting in the image hits at its first tap,
 * one starting past it misses, and one starting before it hits iff its first tap at or after 0
 * exists and lies in the image — with `dil` ≤ the image, that tap lies in [0, dil), so the first
 * window, which needs the most taps to get there, decides for all of them.
 */
function checkCovered(axis: string, out: number, inSize: number, k: number, stride: number, pad: number, dil: number) {
  const miss = (o: number) => new InvalidInputError(`${NAME}: ${axis} window ${o} lies wholly in the padding`)
  const before = Math.min(out, Math.ceil(pad / stride))
  for (let o = 0; o < before; o++) {
    const start = o * stride - pad
    const first = Math.ceil(-start / dil)
    if (first >= k || start + first * dil >= inSize) throw miss(o)
    if (dil <= inSize) break
  }
  const past = Math.ceil((inSize + pad) / stride) // the first window starting past the image
  if (past < out) throw miss(past)
}

/** The dispatch of one pooling; checks the shape and that both buffers are large enough. */
export function pool2dProgram(a: Pool2dArgs): Program {
  const { outH, outW } = pool2dOutSize(a)
  const count = a.batch * a.channels * outH * outW
  checkBuffer(NAME, 'input', a.input, a.batch * a.channels * a.inH * a.inW, a.out)
  checkBuffer(NAME, 'out', a.out, count)
  const perWorkgroup = a.kH * a.kW >= WORKGROUP_WINDOW
  return {
    shader: loadShader(NAME),
    label: `${a.mode}pool [${a.batch},${a.channels},${a.inH},${a.inW}]→[${outH},${outW}] k${a.kH}×${a.kW}`,
    constants: {
      WG,
      MAX: a.mode === 'max' ? 1 : 0,
      COUNT_PAD: a.countIncludePad ? 1 : 0,
      WINDOW_PER_WORKGROUP: perWorkgroup ? 1 : 0,
    },
    uniforms: { ...windowUniforms(a, outH, outW), count },
    bindings: { input: a.input, out: a.out },
    workgroups: grid(perWorkgroup ? count : Math.ceil(count / WG)),
  }
}

/** The same pooling on the CPU: float64 sums, float32 results. Checks the shape and the input's length. */
export function pool2dCpu(input: Float32Array, s: Pool2dShape): Float32Array {
  const { outH, outW } = pool2dOutSize(s)
  const { inH, inW, kH, kW } = s
  const [sh, sw] = s.strides
  const [pt, pl] = s.pads
  const [dh, dw] = s.dilations
  const planes = s.batch * s.channels
  if (input.length !== planes * inH * inW) {
    throw new InvalidInputError(`${NAME}: input holds ${input.length} values, expected ${planes * inH * inW}`)
  }
  const max = s.mode === 'max'
  const out = new Float32Array(planes * outH * outW)
  let o = 0
  // Stryker disable next-line EqualityOperator: one plane past the end reads an empty subarray and writes out of range, which typed arrays drop
  for (let plane = 0; plane < planes; plane++) {
    const src = input.subarray(plane * inH * inW, (plane + 1) * inH * inW)
    for (let oy = 0; oy < outH; oy++) {
      // The window's in-image rows and columns: taps t with 0 <= start + t·d < size.
      const [y0, y1] = tapRange(oy * sh - pt, dh, kH, inH)
      for (let ox = 0; ox < outW; ox++) {
        const [x0, x1] = tapRange(ox * sw - pl, dw, kW, inW)
        let acc = max ? Number.NEGATIVE_INFINITY : 0
        for (let ty = y0; ty < y1; ty++) {
          const row = (oy * sh - pt + ty * dh) * inW + ox * sw - pl
          for (let tx = x0; tx < x1; tx++) {
            const x = src[row + tx * dw] as number
            // Once NaN, a max stays NaN (x > NaN is false).
            // Stryker disable next-line EqualityOperator: x >= acc differs only on a tie, where both values are the same
            acc = max ? (Number.isNaN(x) || x > acc ? x : acc) : acc + x
          }
        }
        const taps = s.countIncludePad ? kH * kW : (y1 - y0) * (x1 - x0)
        out[o++] = max ? acc : acc / taps
      }
    }
  }
  return out
}

/** The taps [first, end) of a window starting at `start` with dilation `d` that land in [0, size). */
function tapRange(start: number, d: number, k: number, size: number): [number, number] {
  const first = Math.max(0, Math.ceil(-start / d))
  const end = Math.min(k, Math.floor((size - 1 - start) / d) + 1)
  return [first, Math.max(first, end)]
}
