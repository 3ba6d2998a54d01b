/**
 * The weight arithmetic of the kernel planner (src/engine/kernel-plan.ts): Gemm's alpha, beta and
 * transB, and BatchNormalization folded into the convolution before it. Computed in float64 from
 * the model's float32 values, rounded to float32 once.
 */

/** Gemm's B [k, n] (or [n, k] when `transB`) scaled by `alpha`, as the [k, n] row-major weight. */
export function gemmWeight(b: Float32Array, k: number, n: number, transB: boolean, alpha: number): Float32Array {
  const w = new Float32Array(k * n)
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < n; j++) w[i * n + j] = alpha * (b[transB ? j * k + i : i * n + j] as number)
  }
  return w
}

/**
 * Gemm's bias: `beta` × C, where C holds n values or one (broadcast). With beta = 0 the bias is
 * zero whatever C holds (onnxruntime skips C then, so an infinite C does not make NaNs).
 */
export function gemmBias(c: Float32Array | undefined, n: number, beta: number): Float32Array {
  const bias = new Float32Array(n)
  if (c === undefined || beta === 0) return bias
  for (let j = 0; j < n; j++) bias[j] = beta * (c[c.length === 1 ? 0 : j] as number)
  return bias
}

/** The parameters of an inference-mode BatchNormalization, each [channels]. */
export interface BatchNorm {
  scale: Float32Array
  shift: Float32Array
  mean: Float32Array
  variance: Float32Array
  epsilon: number
}

/**
 * A convolution's weight [outC, …] and bias [outC] with the BatchNormalization after it folded in:
 * s = scale / sqrt(variance + epsilon); weight' = weight · s (per output channel);
 * bias' = (bias − mean) · s + shift.
 */
export function foldBatchNorm(
  weight: Float32Array,
  bias: Float32Array,
  bn: BatchNorm,
): { weight: Float32Array; bias: Float32Array } {
  const outC = bias.length
  const per = weight.length / outC
  const w = new Float32Array(weight.length)
  const b = new Float32Array(outC)
  for (let o = 0; o < outC; o++) {
    const s = (bn.scale[o] as number) / Math.sqrt((bn.variance[o] as number) + bn.epsilon)
    for (let i = o * per; i < (o + 1) * per; i++) w[i] = (weight[i] as number) * s
    b[o] = ((bias[o] as number) - (bn.mean[o] as number)) * s + (bn.shift[o] as number)
  }
  return { weight: w, bias: b }
}
