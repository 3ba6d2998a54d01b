/**
 * The activations our model kernels fuse into their last step (shaders/lib/activation.wgsl), by
 * the code each kernel's `ACT` override takes, and the same functions on the CPU (float64).
 */

/** Activation names, in the order of their WGSL codes (0 none, 1 relu, 2 sigmoid, 3 tanh). */
export const ACTIVATIONS = ['none', 'relu', 'sigmoid', 'tanh'] as const
/** One of {@link ACTIVATIONS}. */
export type Activation = (typeof ACTIVATIONS)[number]

/** The `ACT` override value of `a`. */
export function activationCode(a: Activation): number {
  return ACTIVATIONS.indexOf(a)
}

/** `a` applied to `x` in float64 (the CPU twins' last step). NaN stays NaN. */
export function activate(x: number, a: Activation): number {
  if (a === 'none' || Number.isNaN(x)) return x
  if (a === 'relu') return Math.max(x, 0)
  if (a === 'sigmoid') return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))
  return Math.tanh(x)
}
