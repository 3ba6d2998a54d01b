// Row-wise softmax over a row-major [rows, cols] f32 matrix: one workgroup per row, or one
// thread per row when ROW_PER_THREAD (short rows, where a workgroup would mostly idle).
// Numerically stable (the row max is subtracted before exp). Edge cases, matched by the CPU twin:
//   a NaN anywhere in a row            -> the whole row is NaN
//   max = +inf                         -> the +inf entries share the mass equally, others 0
//   every entry -inf                   -> the whole row is NaN (0/0, as NumPy and PyTorch)

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;

override WG: u32 = 64; // threads per row (or rows per workgroup); a power of two
override ROW_PER_THREAD: bool = false;

//! include "lib/reduce.wgsl"

const POS_INF_BITS: u32 = 0x7f800000u;
const NEG_INF_BITS: u32 = 0xff800000u;
// -inf as a run-time value: WGSL rejects a constant expression that evaluates to it.
var<private> neg_inf_bits: u32 = NEG_INF_BITS;

// The whole row in one thread: the same three passes, without barriers.
fn softmax_row(row: u32) {
  let base = row * params.cols;
  var m = bitcast<f32>(neg_inf_bits);
  var saw_nan = false;
  for (var c = 0u; c < params.cols; c++) {
    let x = logits[base + c];
    if (is_nan(x)) {
      saw_nan = true;
    } else {
      m = max(m, x);
    }
  }
  let max_bits = bitcast<u32>(m);
  var total = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let x = logits[base + c];
    if (max_bits == POS_INF_BITS) {
      total += select(0.0, 1.0, bitcast<u32>(x) == POS_INF_BITS);
    } else {
      total += exp(x - m);
    }
  }
  for (var c = 0u; c < params.cols; c++) {
    let x = logits[base + c];
    var p: f32;
    if (saw_nan || max_bits == NEG_INF_BITS) {
      p = nan();
    } else if (max_bits == POS_INF_BITS) {
      p = select(0.0, 1.0 / total, bitcast<u32>(x) == POS_INF_BITS);
    } else {
      p = exp(x - m) / total;
    }
    probs[base + c] = p;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  if (ROW_PER_THREAD) {
    let r = (wid.x + wid.y * nwg.x) * WG + lid;
    if (r < params.rows) {
      softmax_row(r);
    }
    return;
  }
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return; // uniform across the workgroup: the barriers below stay in uniform control flow
  }
  let base = row * params.cols;

  // Pass 1: max over the row, NaN if the row holds one.
  var m = bitcast<f32>(neg_inf_bits);
  var saw_nan = false;
  for (var c = lid; c < params.cols; c += WG) {
    let x = logits[base + c];
    if (is_nan(x)) {
      saw_nan = true;
    } else {
      m = max(m, x);
    }
  }
  let row_max = workgroup_max(lid, select(m, nan(), saw_nan));
  let row_nan = is_nan(row_max);
  let max_bits = bitcast<u32>(row_max);

  // Pass 2: the normaliser (sum of exp, or the number of +inf entries when the max is +inf).
  var acc = 0.0;
  for (var c = lid; c < params.cols; c += WG) {
    let x = logits[base + c];
    if (max_bits == POS_INF_BITS) {
      acc += select(0.0, 1.0, bitcast<u32>(x) == POS_INF_BITS);
    } else {
      acc += exp(x - row_max);
    }
  }
  let total = workgroup_sum(lid, acc);

  // Pass 3: write.
  for (var c = lid; c < params.cols; c += WG) {
    let x = logits[base + c];
    var p: f32;
    if (row_nan || max_bits == NEG_INF_BITS) {
      p = nan();
    } else if (max_bits == POS_INF_BITS) {
      p = select(0.0, 1.0 / total, bitcast<u32>(x) == POS_INF_BITS);
    } else {
      p = exp(x - row_max) / total;
    }
    probs[base + c] = p;
  }
}
