// Row-wise top-k (k <= 32) over a row-major [rows, cols] f32 matrix: one workgroup per row, or
// one thread per row when ROW_PER_THREAD (short rows).
// k selection rounds; each finds the best entry ranked after the previous pick, in the order
// larger value first, NaN last, ties to the lower index (so ties come out in index order).
// Writes indices (i32) and values (f32), [rows, k], best first.

struct Params {
  rows: u32,
  cols: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> top_indices: array<i32>;
@group(0) @binding(3) var<storage, read_write> top_values: array<f32>;

override WG: u32 = 64; // a power of two
override ROW_PER_THREAD: bool = false;

//! include "lib/reduce.wgsl"

fn topk_row(row: u32) {
  let base = row * params.cols;
  var prev_v = 0.0;
  var prev_i = NONE;
  for (var r = 0u; r < params.k; r++) {
    var bv = 0.0;
    var bi = NONE;
    for (var c = 0u; c < params.cols; c++) {
      let x = scores[base + c];
      if ((prev_i == NONE || before(prev_v, prev_i, x, c)) && (bi == NONE || before(x, c, bv, bi))) {
        bv = x;
        bi = c;
      }
    }
    top_indices[row * params.k + r] = i32(bi);
    top_values[row * params.k + r] = bv;
    prev_v = bv;
    prev_i = bi;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  if (ROW_PER_THREAD) {
    let r = (wid.x + wid.y * nwg.x) * WG + lid;
    if (r < params.rows) {
      topk_row(r);
    }
    return;
  }
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  var prev = Ranked(0.0, NONE); // NONE: no pick yet, every entry qualifies
  for (var r = 0u; r < params.k; r++) {
    var bv = 0.0;
    var bi = NONE;
    for (var c = lid; c < params.cols; c += WG) {
      let x = scores[base + c];
      let after_prev = prev.i == NONE || before(prev.v, prev.i, x, c);
      if (after_prev && (bi == NONE || before(x, c, bv, bi))) {
        bv = x;
        bi = c;
      }
    }
    prev = workgroup_best(lid, bv, bi);
    if (lid == 0u) {
      top_indices[row * params.k + r] = i32(prev.i);
      top_values[row * params.k + r] = prev.v;
    }
  }
}
