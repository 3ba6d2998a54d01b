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

var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;

const POS_INF_BITS: u32 = 0x7f800000u;
const NEG_INF_BITS: u32 = 0xff800000u;
// NaN and -inf as runtime values: WGSL rejects a constant expression that evaluates to either.
var<private> nan_bits: u32 = 0x7fc00000u;
var<private> neg_inf_bits: u32 = NEG_INF_BITS;

fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > POS_INF_BITS;
}

fn nan() -> f32 {
  return bitcast<f32>(nan_bits);
}

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

  // Pass 1: max over the row, and a NaN flag.
  var m = bitcast<f32>(neg_inf_bits);
  var saw_nan = 0u;
  for (var c = lid; c < params.cols; c += WG) {
    let x = logits[base + c];
    if (is_nan(x)) {
      saw_nan = 1u;
    } else {
      m = max(m, x);
    }
  }
  red_f[lid] = m;
  red_u[lid] = saw_nan;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red_f[lid] = max(red_f[lid], red_f[lid + s]);
      red_u[lid] = red_u[lid] | red_u[lid + s];
    }
    workgroupBarrier();
  }
  let row_max = red_f[0];
  let row_nan = red_u[0] != 0u;
  let max_bits = bitcast<u32>(row_max);
  workgroupBarrier();

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
  red_f[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red_f[lid] = red_f[lid] + red_f[lid + s];
    }
    workgroupBarrier();
  }
  let total = red_f[0];

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
