/**
 * The kernel registry: every WGSL kernel lastmile ships, by name, with its wrapper. Explicit on
 * purpose (no registration by import side effect): this map is the list.
 */
import { argmaxCpu, argmaxProgram } from './argmax.js'
import { copyProgram } from './copy.js'
import { imageCpu, imageProgram } from './image-preprocess.js'
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
  copy: { program: copyProgram, cpu: undefined },
} as const
