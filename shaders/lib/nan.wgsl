// NaN helpers. WGSL lets an implementation assume floats are never NaN, so `x != x` may fold to
// false: NaN is recognised by its bits, and made at run time (WGSL rejects a constant expression
// that evaluates to NaN).

var<private> nan_bits: u32 = 0x7fc00000u;

fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// A quiet NaN.
fn nan() -> f32 {
  return bitcast<f32>(nan_bits);
}
