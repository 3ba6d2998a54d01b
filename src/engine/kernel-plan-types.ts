/**
 * What the kernel planner (src/engine/kernel-plan.ts) makes of a model and the executor
 * (src/engine/kernel-session.ts) runs: values with their per-row shapes, and kernel launches in
 * order, weights folded.
 */
import type { Activation } from '../kernels/activation.js'
import type { Conv2dShape } from '../kernels/conv2d.js'
import type { Pool2dShape } from '../kernels/pool2d.js'

/** A value of the plan: its name and its shape per row (the dims after the batch dim, all static). */
export interface PlanValue {
  name: string
  shape: number[]
}

/** One kernel launch; `input`, `a`, `b`, `residual` name values of the plan (never aliases). */
export type PlanStep =
  | {
      op: 'gemm'
      input: string
      output: string
      k: number
      n: number
      /** [k, n] row-major, alpha and transB applied. */
      weight: Float32Array
      /** [n], zeros when the model has none. */
      bias: Float32Array
      activation: Activation
    }
  | ({
      op: 'conv'
      input: string
      output: string
      outH: number
      outW: number
      /** [outC, inC / group, kH, kW], a following BatchNormalization folded in. */
      weight: Float32Array
      /** [outC], zeros when the model has none. */
      bias: Float32Array
      /** Added before the activation (same shape as the output). */
      residual?: string
      activation: Activation
    } & Omit<Conv2dShape, 'batch'>)
  | ({ op: 'pool'; input: string; output: string; outH: number; outW: number } & Omit<Pool2dShape, 'batch'>)
  | { op: 'eltwise'; a: string; b?: string; output: string; count: number /* per row */; activation: Activation }
  | { op: 'softmax'; input: string; output: string; cols: number }

/** A model as a sequence of our kernels. */
export interface KernelPlan {
  /** Graph inputs that are not initializers, float32 only, batch dim first (symbolic or any). */
  inputs: PlanValue[]
  /** Graph outputs, in graph order (an output may be an alias). */
  outputs: PlanValue[]
  /** In execution order. */
  steps: PlanStep[]
  /** Outputs of Flatten / Reshape / Identity / Dropout(inference): another name for the same buffer. */
  aliases: Record<string, string>
  /** Every value the steps read or write (inputs, intermediates, outputs), by name. */
  values: Record<string, PlanValue>
}
