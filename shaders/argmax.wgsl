// Row-wise label over a row-major [rows, cols] f32 matrix: one workgroup per row, or one thread
// per row when ROW_PER_THREAD (short rows).
// Order: larger values first, NaN below everything (-inf included), ties to the lower index.
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

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

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
  var bi = 0xffffffffu;
  for (var c = lid; c < params.cols; c += WG) {
    let x = scores[base + c];
    if (bi == 0xffffffffu || before(x, c, bv, bi)) {
      bv = x;
      bi = c;
    }
  }
  best_v[lid] = bv;
  best_i[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let oi = best_i[lid + s];
      if (oi != 0xffffffffu && (best_i[lid] == 0xffffffffu || before(best_v[lid + s], oi, best_v[lid], best_i[lid]))) {
        best_v[lid] = best_v[lid + s];
        best_i[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    write_label(row, best_v[0], best_i[0]);
  }
}
