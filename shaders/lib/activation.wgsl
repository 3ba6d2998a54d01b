// Activations fused into a kernel's last step, chosen at compile time by the kernel's
// `override ACT: u32` (src/kernels/activation.ts ACTIVATION_CODES): 0 none, 1 relu, 2 sigmoid,
// 3 tanh. NaN stays NaN (relu too: max() would hide it); sigmoid and tanh never overflow.

fn act_is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn activate(x: f32, mode: u32) -> f32 {
  if (mode == 0u || act_is_nan(x)) {
    return x;
  }
  if (mode == 1u) {
    return select(0.0, x, x > 0.0);
  }
  if (mode == 2u) {
    if (x >= 0.0) {
      return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
  }
  // tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) <= 1
  let e = exp(-2.0 * abs(x));
  let t = (1.0 - e) / (1.0 + e);
  return select(-t, t, x >= 0.0);
}
