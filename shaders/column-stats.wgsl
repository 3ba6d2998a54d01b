// Per-column partial statistics of a row-major [rows, cols] f32 matrix, one block of rows per
// workgroup row (y) and one tile of columns per workgroup column (x). Each thread runs Welford
// over its rows (values of one column), then a thread per column merges the partials with Chan's
// formula. Output per (block, column), 6 f32: count, mean, M2, min, max, nan_count; the host
// merges blocks in float64. NaN is skipped (counted); ±inf propagate into mean and M2.
// Reads are coalesced: adjacent threads read adjacent columns of a row, then the next rows.

struct Params {
  rows: u32,
  cols: u32,
  rows_per_block: u32,
  tile_cols: u32, // columns per workgroup tile: min(cols, WG)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> matrix: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

override WG: u32 = 256;

var<workgroup> w_n: array<f32, WG>;
var<workgroup> w_mean: array<f32, WG>;
var<workgroup> w_m2: array<f32, WG>;
var<workgroup> w_min: array<f32, WG>;
var<workgroup> w_max: array<f32, WG>;
var<workgroup> w_nan: array<f32, WG>;

// ±inf as runtime values: WGSL rejects a constant expression that evaluates to inf or NaN.
var<private> pos_inf_bits: u32 = 0x7f800000u;
var<private> neg_inf_bits: u32 = 0xff800000u;

fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let col_tile = wid.x;
  let row_block = wid.y;
  let lc = lid % params.tile_cols;
  let lr = lid / params.tile_cols;
  let rows_per_step = WG / params.tile_cols;
  let col = col_tile * params.tile_cols + lc;
  let row_start = row_block * params.rows_per_block;
  let row_end = min(params.rows, row_start + params.rows_per_block);

  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  var lo = bitcast<f32>(pos_inf_bits);
  var hi = bitcast<f32>(neg_inf_bits);
  var nans = 0.0;
  if (lr < rows_per_step && col < params.cols) {
    for (var r = row_start + lr; r < row_end; r += rows_per_step) {
      let x = matrix[r * params.cols + col];
      if (is_nan(x)) {
        nans += 1.0;
        continue;
      }
      n += 1.0;
      let d = x - mean;
      mean += d / n;
      m2 += d * (x - mean);
      lo = min(lo, x);
      hi = max(hi, x);
    }
  }
  w_n[lid] = n;
  w_mean[lid] = mean;
  w_m2[lid] = m2;
  w_min[lid] = lo;
  w_max[lid] = hi;
  w_nan[lid] = nans;
  workgroupBarrier();

  if (lid < params.tile_cols && col < params.cols) {
    for (var k = 1u; k < rows_per_step; k++) {
      let j = k * params.tile_cols + lid;
      let nb = w_n[j];
      if (nb > 0.0) {
        let na = n;
        let nt = na + nb;
        let d = w_mean[j] - mean;
        mean += d * (nb / nt);
        m2 += w_m2[j] + d * d * (na * nb / nt);
        n = nt;
        lo = min(lo, w_min[j]);
        hi = max(hi, w_max[j]);
      }
      nans += w_nan[j];
    }
    let out = (row_block * params.cols + col) * 6u;
    partials[out] = n;
    partials[out + 1u] = mean;
    partials[out + 2u] = m2;
    partials[out + 3u] = lo;
    partials[out + 4u] = hi;
    partials[out + 5u] = nans;
  }
}
