// Fused tabular pre-processing: one thread per output element of a row-major [rows, out_cols]
// f32 matrix, read from a row-major [rows, in_cols] f32 matrix. Each output column has a recipe
// (`Column`), built on the host from the step's JSON:
//   kind 0 (numeric): x = in[src]; NaN -> impute (NaN impute keeps NaN);
//                     x = clamp(x, lo, hi); y = (x - shift) / div
//                     (standardize: shift = mean, div = std; min-max: shift = min, div = max - min;
//                      pass-through: shift = 0, div = 1; no clipping: lo = -inf, hi = +inf)
//   kind 1 (one-hot): x = in[src]; NaN -> impute; y = 1 if x == category else 0
//                     (an unknown category or NaN with no impute gives all zeros)

struct Params {
  rows: u32,
  in_cols: u32,
  out_cols: u32,
}

struct Column {
  src: u32,
  kind: u32,
  category: f32,
  impute: f32,
  lo: f32,
  hi: f32,
  shift: f32,
  div: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> raw: array<f32>;
@group(0) @binding(2) var<storage, read> columns: array<Column>;
@group(0) @binding(3) var<storage, read_write> features: array<f32>;

override WG: u32 = 256;

//! include "lib/nan.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= params.rows * params.out_cols) {
    return;
  }
  let row = i / params.out_cols;
  let spec = columns[i % params.out_cols];
  var x = raw[row * params.in_cols + spec.src];
  if (is_nan(x)) {
    x = spec.impute;
  }
  var y: f32;
  if (spec.kind == 1u) {
    y = select(0.0, 1.0, x == spec.category);
  } else if (is_nan(x)) {
    y = x;
  } else {
    y = (clamp(x, spec.lo, spec.hi) - spec.shift) / spec.div;
  }
  features[i] = y;
}
