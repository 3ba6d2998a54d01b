// Row-wise label over a row-major [rows, cols] f32 matrix: one workgroup per row, or one thread
// per row when ROW_PER_THREAD (short rows).
// Order (lib/rank.wgsl): larger values first, NaN below everything (-inf included), ties to the
// lower index.
//   use_threshold = 0: label = argmax
//   use_threshold = 1, cols = 1: label = 1 if x >= threshold else 0 (binary classifier)
//   use_threshold = 1, cols > 1: label = argmax if the max >= threshold else -1 (abstain)
// A row of only NaN has argmax 0. Labels are i32.

struct Params {
  rows: u32,
  cols: u32,
  threshold: f32,
  use_threshold: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> labels: array<i32>;

override WG: u32 = 64; // a power of two
override ROW_PER_THREAD: bool = false;

//! include "lib/reduce.wgsl"

fn write_label(row: u32, v: f32, index: u32) {
  var label = i32(index);
  if (params.use_threshold != 0u) {
    if (params.cols == 1u) {
      label = select(0, 1, v >= params.threshold);
    } else if (!(v >= params.threshold)) {
      label = -1;
    }
  }
  labels[row] = label;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  if (ROW_PER_THREAD) {
    let r = (wid.x + wid.y * nwg.x) * WG + lid;
    if (r < params.rows) {
      let b = r * params.cols;
      var bv = scores[b];
      var bi = 0u;
      for (var c = 1u; c < params.cols; c++) {
        if (before(scores[b + c], c, bv, bi)) {
          bv = scores[b + c];
          bi = c;
        }
      }
      write_label(r, bv, bi);
    }
    return;
  }
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  var bv = 0.0; // unused until bi is set
  var bi = NONE;
  for (var c = lid; c < params.cols; c += WG) {
    let x = scores[base + c];
    if (bi == NONE || before(x, c, bv, bi)) {
      bv = x;
      bi = c;
    }
  }
  let best = workgroup_best(lid, bv, bi);
  if (lid == 0u) {
    write_label(row, best.v, best.i);
  }
}
