/**
 * The kernel registry: every WGSL kernel lastmile ships, by name, with its wrapper. Explicit on
 * purpose (no registration by import side effect): this map is the list.
 */
import { argmaxCpu, argmaxProgram } from './argmax.js'
import { conv2dCpu, conv2dProgram } from './conv2d.js'
import { copyProgram } from './copy.js'
import { eltwiseCpu, eltwiseProgram } from './eltwise.js'
import { type GemmArgs, gemmCpu, gemmProgram } from './gemm.js'
import { imageCpu, imageProgram } from './image-preprocess.js'
import { pool2dCpu, pool2dProgram } from './pool2d.js'
import { sigmoidCpu, sigmoidProgram } from './sigmoid.js'
import { softmaxCpu, softmaxProgram } from './softmax.js'
import { tabularCpu, tabularProgram } from './tabular-preprocess.js'
import { topkCpu, topkProgram } from './topk.js'

/** Kernel name (= shader file name) → GPU program builder and CPU twin (none for the bench-only copy). */
export const KERNELS = {
  'tabular-preprocess': { program: tabularProgram, cpu: tabularCpu },
  'image-preprocess': { program: imageProgram, cpu: imageCpu },
  softmax: { program: softmaxProgram, cpu: softmaxCpu },
  sigmoid: { program: sigmoidProgram, cpu: sigmoidCpu },
  argmax: { program: argmaxProgram, cpu: argmaxCpu },
  topk: { program: topkProgram, cpu: topkCpu },
  conv2d: { program: conv2dProgram, cpu: conv2dCpu },
  pool2d: { program: pool2dProgram, cpu: pool2dCpu },
  copy: { program: copyProgram, cpu: undefined },
  gemm: { program: gemmProgram, cpu: gemmCpu },
  'gemm-subgroups': { program: (a: GemmArgs) => gemmProgram({ ...a, subgroups: true }), cpu: gemmCpu },
  eltwise: { program: eltwiseProgram, cpu: eltwiseCpu },
} as const
