// The rank order of argmax and top-k: larger values first, NaN after everything (-inf included),
// ties to the lower index.
//! include "lib/nan.wgsl"

// The index of "no entry yet".
const NONE: u32 = 0xffffffffu;

// Whether (va, ia) ranks strictly before (vb, ib).
fn before(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  let na = is_nan(va);
  let nb = is_nan(vb);
  if (na != nb) {
    return nb;
  }
  if (na || va == vb) {
    return ia < ib;
  }
  return va > vb;
}

// An entry of a row: its value and column (i = NONE: none).
struct Ranked {
  v: f32,
  i: u32,
}
