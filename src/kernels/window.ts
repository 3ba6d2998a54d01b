/**
 * Shape arithmetic shared by the sliding-window kernels (conv2d, pool2d): argument checks that
 * throw `InvalidInputError` naming the kernel and the argument, and the ONNX output-size formula
 * (floor mode).
 */
import { InvalidInputError } from '../errors.js'

/** The largest integer argument (a dim, stride, pad or dilation) the window kernels accept. */
export const MAX_DIM = 1 << 24
/** The most elements one tensor of a window kernel may hold: its indices must fit an i32. */
const MAX_ELEMENTS = 2 ** 31

/** Throw unless `value` is an integer in [min, {@link MAX_DIM}]. */
export function checkInt(kernel: string, name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min || value > MAX_DIM) {
    throw new InvalidInputError(`${kernel}: ${name} must be an integer in [${min}, ${MAX_DIM}], got ${value}`)
  }
}

/** Throw unless `values` is an array of `length` integers, each in [min, {@link MAX_DIM}]. */
export function checkInts(kernel: string, name: string, values: readonly number[], length: number, min: number): void {
  if (!Array.isArray(values) || values.length !== length) {
    throw new InvalidInputError(`${kernel}: ${name} must hold ${length} integers, got ${String(values)}`)
  }
  values.forEach((v, i) => {
    checkInt(kernel, `${name}[${i}]`, v, min)
  })
}

/**
 * Output length of one spatial axis (ONNX, floor mode):
 * floor((in + padBegin + padEnd - dilation·(k-1) - 1) / stride) + 1. Throws when it is < 1.
 */
export function windowOut(
  kernel: string,
  axis: string,
  inSize: number,
  k: number,
  stride: number,
  padBegin: number,
  padEnd: number,
  dilation: number,
): number {
  const out = Math.floor((inSize + padBegin + padEnd - dilation * (k - 1) - 1) / stride) + 1
  if (out < 1) {
    throw new InvalidInputError(
      `${kernel}: the ${axis} window (kernel ${k}, dilation ${dilation}) does not fit the padded input (${inSize} + ${padBegin} + ${padEnd})`,
    )
  }
  return out
}

/** Throw unless `count` elements fit {@link MAX_ELEMENTS}. */
export function checkElements(kernel: string, what: string, count: number): void {
  if (count > MAX_ELEMENTS) {
    throw new InvalidInputError(`${kernel}: ${what} would hold ${count} elements (at most ${MAX_ELEMENTS})`)
  }
}

/** Throw unless `buffer` holds at least `count` f32 values; also refuses `buffer` aliasing `out`. */
export function checkBuffer(kernel: string, name: string, buffer: GPUBuffer, count: number, out?: GPUBuffer): void {
  if (buffer.size < count * 4) {
    throw new InvalidInputError(`${kernel}: ${name} holds ${buffer.size} bytes, needs ${count * 4}`)
  }
  if (out !== undefined && buffer === out) {
    throw new InvalidInputError(`${kernel}: ${name} must not be the output buffer`)
  }
}

/** A sliding window's geometry as the conv2d and pool2d shaders' `Params` name it (image and output sizes, kernel, strides, leading pads, dilations). */
export function windowUniforms(
  a: {
    inH: number
    inW: number
    kH: number
    kW: number
    strides: readonly number[]
    pads: readonly number[]
    dilations: readonly number[]
  },
  outH: number,
  outW: number,
): Record<string, number> {
  return {
    in_h: a.inH,
    in_w: a.inW,
    out_h: outH,
    out_w: outW,
    k_h: a.kH,
    k_w: a.kW,
    stride_h: a.strides[0] as number,
    stride_w: a.strides[1] as number,
    pad_top: a.pads[0] as number,
    pad_left: a.pads[1] as number,
    dil_h: a.dilations[0] as number,
    dil_w: a.dilations[1] as number,
  }
}
