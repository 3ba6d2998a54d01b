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

const NONE: u32 = 0xffffffffu;

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

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
  var prev_v = 0.0;
  var prev_i = NONE; // NONE: no pick yet, every entry qualifies
  for (var r = 0u; r < params.k; r++) {
    var bv = 0.0;
    var bi = NONE;
    for (var c = lid; c < params.cols; c += WG) {
      let x = scores[base + c];
      let after_prev = prev_i == NONE || before(prev_v, prev_i, x, c);
      if (after_prev && (bi == NONE || before(x, c, bv, bi))) {
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
        if (oi != NONE && (best_i[lid] == NONE || before(best_v[lid + s], oi, best_v[lid], best_i[lid]))) {
          best_v[lid] = best_v[lid + s];
          best_i[lid] = oi;
        }
      }
      workgroupBarrier();
    }
    prev_v = best_v[0];
    prev_i = best_i[0];
    if (lid == 0u) {
      top_indices[row * params.k + r] = i32(prev_i);
      top_values[row * params.k + r] = prev_v;
    }
    workgroupBarrier(); // everyone has read best_*[0] before the next round overwrites it
  }
}
