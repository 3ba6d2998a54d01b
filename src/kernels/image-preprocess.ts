/**
 * Image pre-processing (shaders/image-preprocess.wgsl): uint8 HWC RGB/RGBA → float32 NCHW,
 * bilinear resize (half-pixel centres, PyTorch align_corners=False) and per-channel
 * normalisation, in one pass; and its CPU twin.
 */
import { InvalidConfigError, InvalidInputError } from '../errors.js'
import { grid, type Program } from '../gpu/program.js'
import { loadShader } from './shaders.js'

export interface ImageSpec {
  /** Output size. */
  height: number
  width: number
  /** Multiplies pixel values (0..255) before normalising; 1/255 maps them to 0..1. */
  scale: number
  mean: [number, number, number]
  std: [number, number, number]
  /** Write channels as B, G, R (OpenCV-trained models). */
  bgr: boolean
}

export interface ImageShape {
  images: number
  inH: number
  inW: number
  /** 3 (RGB) or 4 (RGBA; alpha is dropped). */
  inC: number
}

export function checkImageSpec(s: ImageSpec): void {
  if (!(Number.isInteger(s.height) && s.height > 0 && Number.isInteger(s.width) && s.width > 0)) {
    throw new InvalidConfigError(`image: height and width must be positive integers, got ${s.height}×${s.width}`)
  }
  if (!s.std.every((v) => v > 0)) throw new InvalidConfigError('image: std must be > 0 for every channel')
}

export function checkImageShape(dims: readonly number[]): ImageShape {
  const [images, inH, inW, inC] = dims as [number, number, number, number]
  if (dims.length !== 4 || !(inC === 3 || inC === 4) || !(images > 0 && inH > 0 && inW > 0)) {
    throw new InvalidInputError(
      `image: expected uint8 pixels shaped [N, height, width, 3 or 4], got [${dims.join(',')}]`,
    )
  }
  return { images, inH, inW, inC }
}

const WG = 256

export function imageProgram(a: { shape: ImageShape; spec: ImageSpec; pixels: GPUBuffer; tensor: GPUBuffer }): Program {
  const { shape: sh, spec } = a
  return {
    shader: loadShader('image-preprocess'),
    label: `image [${sh.images},${sh.inH},${sh.inW},${sh.inC}]→[${sh.images},3,${spec.height},${spec.width}]`,
    constants: { WG },
    uniforms: {
      images: sh.images,
      in_h: sh.inH,
      in_w: sh.inW,
      in_c: sh.inC,
      out_h: spec.height,
      out_w: spec.width,
      scale: spec.scale,
      bgr: spec.bgr ? 1 : 0,
      mean: [...spec.mean, 0],
      inv_std: [...spec.std.map((v) => 1 / v), 0],
    },
    bindings: { pixels: a.pixels, tensor: a.tensor },
    workgroups: grid(Math.ceil((sh.images * spec.height * spec.width) / WG)),
  }
}

/** Source coordinate of output index `dst` (half-pixel centres, clamped at 0). */
function sourceCoord(dst: number, inSize: number, outSize: number): number {
  return Math.max(((dst + 0.5) * inSize) / outSize - 0.5, 0)
}

export function imageCpu(pixels: Uint8Array, shape: ImageShape, spec: ImageSpec): Float32Array {
  const { images, inH, inW, inC } = shape
  const { height: H, width: W } = spec
  const out = new Float32Array(images * 3 * H * W)
  // Stryker disable next-line EqualityOperator: one row past the end reads an empty subarray or undefined and writes out of range, which typed arrays drop
  for (let n = 0; n < images; n++) {
    for (let y = 0; y < H; y++) {
      const sy = sourceCoord(y, inH, H)
      // Stryker disable next-line ArithmeticOperator: sourceCoord < inH - 0.5, so the bound never binds; it guards a change there
      const y0 = Math.min(Math.floor(sy), inH - 1)
      const y1 = Math.min(y0 + 1, inH - 1)
      const wy = sy - y0
      for (let x = 0; x < W; x++) {
        const sx = sourceCoord(x, inW, W)
        // Stryker disable next-line ArithmeticOperator: sourceCoord < inW - 0.5, so the bound never binds; it guards a change there
        const x0 = Math.min(Math.floor(sx), inW - 1)
        const x1 = Math.min(x0 + 1, inW - 1)
        const wx = sx - x0
        const at = (yy: number, xx: number, c: number) => pixels[((n * inH + yy) * inW + xx) * inC + c] as number
        // Stryker disable next-line EqualityOperator: channel 3 is the next image's channel 0, which that image overwrites (past the last: dropped)
        for (let c = 0; c < 3; c++) {
          const src = spec.bgr ? 2 - c : c
          const top = at(y0, x0, src) + (at(y0, x1, src) - at(y0, x0, src)) * wx
          const bottom = at(y1, x0, src) + (at(y1, x1, src) - at(y1, x0, src)) * wx
          const v = top + (bottom - top) * wy
          out[((n * 3 + c) * H + y) * W + x] = (v * spec.scale - (spec.mean[c] as number)) / (spec.std[c] as number)
        }
      }
    }
  }
  return out
}
