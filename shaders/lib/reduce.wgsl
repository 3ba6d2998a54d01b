// Workgroup reductions for kernels that give a workgroup to each row. Every invocation of the
// workgroup passes its value and every one gets the result, so call them from uniform control
// flow (they hold barriers). They share one scratch array per type, sized by the including
// kernel's `override WG` (a power of two); each ends with a barrier, so the next reduction may
// reuse the scratch at once. The tree (halving strides, WG/2 down to 1) fixes the order of
// operations, so a sum comes out the same on every run.
//! include "lib/rank.wgsl"

var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;

// The entry that ranks first (lib/rank.wgsl) among the invocations' (v, i); i = NONE passes none.
fn workgroup_best(lid: u32, v: f32, i: u32) -> Ranked {
  red_v[lid] = v;
  red_i[lid] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let oi = red_i[lid + s];
      if (oi != NONE && (red_i[lid] == NONE || before(red_v[lid + s], oi, red_v[lid], red_i[lid]))) {
        red_v[lid] = red_v[lid + s];
        red_i[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  let best = Ranked(red_v[0], red_i[0]);
  workgroupBarrier();
  return best;
}

// The largest x, or NaN when any invocation passes NaN.
fn workgroup_max(lid: u32, x: f32) -> f32 {
  red_v[lid] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let other = red_v[lid + s];
      if (is_nan(other)) {
        red_v[lid] = other;
      } else if (!is_nan(red_v[lid])) {
        red_v[lid] = max(red_v[lid], other);
      }
    }
    workgroupBarrier();
  }
  let m = red_v[0];
  workgroupBarrier();
  return m;
}

// The sum of x.
fn workgroup_sum(lid: u32, x: f32) -> f32 {
  red_v[lid] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red_v[lid] = red_v[lid] + red_v[lid + s];
    }
    workgroupBarrier();
  }
  let total = red_v[0];
  workgroupBarrier();
  return total;
}
