/**
 * A ResNet-18-shaped ONNX model with random weights, for benches and their correctness tests:
 * torchvision's `resnet18` architecture with each BatchNorm folded into the Conv before it (a Conv
 * with bias, as `torch.onnx.export` emits in eval mode), so the graph holds only Conv, Relu,
 * MaxPool, Add, GlobalAveragePool, Flatten and Gemm.
 */
import { type HostTensor, tensor } from '../engine/tensor.js'
import { GraphBuilder } from './builder.js'
import type { Dense, Fixture } from './fixtures.js'
import { mulberry32, normal, uniform } from './random.js'

/** A square Conv with bias; `w` is [outC, inC, k, k] row-major (torch's Conv2d layout). */
export interface ConvParams {
  inC: number
  outC: number
  k: number
  stride: number
  pad: number
  w: Float32Array
  b: Float32Array
}

/** torchvision's BasicBlock: conv1 → Relu → conv2, plus the shortcut, then Relu. */
export interface BasicBlockParams {
  conv1: ConvParams
  conv2: ConvParams
  /** The 1×1 stride-2 projection on the shortcut, where the block changes shape. */
  downsample?: ConvParams
}

export interface ResNetParams {
  size: number
  classes: number
  /** conv1: 7×7 stride 2 pad 3, 3 → 64 channels, followed by Relu and MaxPool 3×3/2 pad 1. */
  stem: ConvParams
  /** layer1…layer4: two blocks each, 64/128/256/512 channels. */
  stages: BasicBlockParams[][]
  fc: Dense
}

/** Output side of a k×k window with `pad` on both sides and `stride`. */
export function convOutSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1
}

function convParams(rand: () => number, inC: number, outC: number, k: number, stride: number, pad: number): ConvParams {
  // He init keeps activations O(1) through ReLU layers; the small bias stands in for the folded BN shift.
  const w = normal(rand, outC * inC * k * k, 0, Math.sqrt(2 / (inC * k * k)))
  return { inC, outC, k, stride, pad, w, b: uniform(rand, outC, -0.1, 0.1) }
}

/**
 * torchvision ResNet-18 with BatchNorm folded into the convs: input `x` [N,3,size,size] float32
 * (NCHW, default 224), output `logits` [N,classes] (default 1000). About 11.7M weights (47 MB) from
 * a fixed seed. Initializer names follow torchvision's state dict (`layer2.0.downsample.0.weight`).
 *
 * @example
 * const small = resnet18Shaped({ size: 32, classes: 10 }) // the same convs, 49× less work per image
 */
export function resnet18Shaped(opts: { size?: number; classes?: number; seed?: number } = {}): Fixture<ResNetParams> {
  const size = opts.size ?? 224
  const classes = opts.classes ?? 1000
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`resnet18Shaped: size ${size} is not a positive integer`)
  const rand = mulberry32(opts.seed ?? 7)
  const stem = convParams(rand, 3, 64, 7, 2, 3)
  const stages: BasicBlockParams[][] = []
  let inC = 64
  for (const [i, outC] of [64, 128, 256, 512].entries()) {
    const stride = i === 0 ? 1 : 2
    const first: BasicBlockParams = {
      conv1: convParams(rand, inC, outC, 3, stride, 1),
      conv2: convParams(rand, outC, outC, 3, 1, 1),
    }
    if (stride !== 1 || inC !== outC) first.downsample = convParams(rand, inC, outC, 1, stride, 0)
    const second = { conv1: convParams(rand, outC, outC, 3, 1, 1), conv2: convParams(rand, outC, outC, 3, 1, 1) }
    stages.push([first, second])
    inC = outC
  }
  const fc: Dense = {
    in: 512,
    out: classes,
    w: normal(rand, 512 * classes, 0, Math.sqrt(2 / 512)),
    b: uniform(rand, classes, -0.1, 0.1),
  }
  const params: ResNetParams = { size, classes, stem, stages, fc }

  const g = new GraphBuilder('resnet18')
  const x = g.input('x', 'float32', ['N', 3, size, size])
  let h = g.node('Relu', [conv(g, x, stem, 'conv1')])
  h = g.node('MaxPool', [h], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })
  stages.forEach((blocks, i) => {
    blocks.forEach((block, j) => {
      const name = `layer${i + 1}.${j}`
      const branch = conv(g, g.node('Relu', [conv(g, h, block.conv1, `${name}.conv1`)]), block.conv2, `${name}.conv2`)
      const shortcut = block.downsample ? conv(g, h, block.downsample, `${name}.downsample.0`) : h
      h = g.node('Relu', [g.node('Add', [branch, shortcut])])
    })
  })
  const flat = g.node('Flatten', [g.node('GlobalAveragePool', [h])], { axis: 1 })
  const fcW = g.constant('fc.weight', 'float32', [classes, 512], fc.w)
  const fcB = g.constant('fc.bias', 'float32', [classes], fc.b)
  g.output(g.node('Gemm', [flat, fcW, fcB], { transB: 1 }), 'float32', ['N', classes], 'logits')
  return {
    name: 'resnet18',
    description: `ResNet-18 (torchvision shape, BN folded, random weights), 3×${size}×${size} → ${classes}`,
    bytes: g.toModel(),
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 3, size, size] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', classes] }],
    params,
    randomInputs: (n: number, r: () => number): Record<string, HostTensor> => ({
      // Pixels normalised with ImageNet's mean and std land roughly in [-2, 2].
      x: tensor('float32', [n, 3, size, size], uniform(r, n * 3 * size * size, -2, 2)),
    }),
  }
}

function conv(g: GraphBuilder, x: string, p: ConvParams, name: string): string {
  const w = g.constant(`${name}.weight`, 'float32', [p.outC, p.inC, p.k, p.k], p.w)
  const b = g.constant(`${name}.bias`, 'float32', [p.outC], p.b)
  const attrs = { kernel_shape: [p.k, p.k], strides: [p.stride, p.stride], pads: [p.pad, p.pad, p.pad, p.pad] }
  return g.node('Conv', [x, w, b], attrs)
}
