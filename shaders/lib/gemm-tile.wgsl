// What gemm.wgsl and gemm-subgroups.wgsl share: out = act(a · b + bias) for row-major f32
// matrices a [m, k], b [k, n], bias [n], out [m, n]. Two paths, chosen per dispatch by the
// uniform `small` (so one pipeline serves every shape):
// - tiles (the kernels' own main loop): each workgroup (256 threads) computes one 64×64 tile of
//   out, each thread a 4×4 micro-tile of rows ty + 16i and columns tx + 16j (strided, so
//   neighbouring threads read neighbouring shared-memory words and write neighbouring columns).
//   K advances 16 at a time; b's 16×64 slice is staged in shared memory (load_b_tile).
// - small m (a few rows, e.g. batch 1, where a 64-row tile would be mostly padding): gemm_small,
//   4 rows × 32 columns per workgroup, k split into 8 slices summed at the end.
// Loads are bounds-checked and fill zeros past m, n and k. NaN and ±inf propagate through the sum
// as IEEE arithmetic gives (inf · 0 = NaN, inf − inf = NaN). Tiles are numbered n-tile fastest and
// spread over x and y (src/kernels/gemm.ts gemmPlan). The including kernel declares
// `override ACT: u32` and includes lib/activation.wgsl.

struct Params {
  m: u32,
  n: u32,
  k: u32,
  tiles_n: u32, // 64-column tiles per row of tiles
  tiles: u32,   // all tiles; workgroups past it (the fold into y rounds up) do nothing
  small: u32,   // 1: the small-m path (tiles are then SMALL_ROWS × SMALL_COLS)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const TILE: u32 = 64u; // rows and columns of out per workgroup
const TK: u32 = 16u;   // k per step
const THREADS: u32 = 256u;

var<workgroup> b_tile: array<f32, 1024>; // [TK][TILE]

const SMALL_ROWS: u32 = 4u;  // rows of out per workgroup on the small-m path
const SMALL_COLS: u32 = 32u; // columns of out per workgroup on it (one per thread of a slice)
const SMALL_SPLIT: u32 = 8u; // k slices (THREADS / SMALL_COLS), each summed by its own threads

var<workgroup> partial: array<vec4f, 256>; // [SMALL_SPLIT][SMALL_COLS]: a slice's four rows

// a[r, kk], or 0 outside the matrix.
fn a_at(r: u32, kk: u32) -> f32 {
  if (r < params.m && kk < params.k) {
    return a[r * params.k + kk];
  }
  return 0.0;
}

// b[k0 .. k0 + 16, col0 .. col0 + 64] into b_tile, zeros outside b; every thread takes part,
// 64 consecutive columns of one k per 64 threads (contiguous reads).
fn load_b_tile(lid: u32, k0: u32, col0: u32) {
  for (var e = lid; e < TK * TILE; e += THREADS) {
    let kk = k0 + e / TILE;
    let c = col0 + e % TILE;
    var v = 0.0;
    if (kk < params.k && c < params.n) {
      v = b[kk * params.n + c];
    }
    b_tile[e] = v;
  }
}

// The micro-tile's four b values at row kk of b_tile: columns tx + 16j.
fn b_row(kk: u32, tx: u32) -> vec4f {
  let o = kk * TILE + tx;
  return vec4f(b_tile[o], b_tile[o + 16u], b_tile[o + 32u], b_tile[o + 48u]);
}

// Write act(acc + bias) for the micro-tile (acc[i][j]: row row0 + ty + 16i, column col0 + tx + 16j),
// inside m × n.
fn store_tile(acc: array<vec4f, 4>, row0: u32, col0: u32, tx: u32, ty: u32) {
  for (var j = 0u; j < 4u; j++) {
    let c = col0 + tx + 16u * j;
    if (c >= params.n) {
      continue;
    }
    let bc = bias[c];
    for (var i = 0u; i < 4u; i++) {
      let r = row0 + ty + 16u * i;
      if (r < params.m) {
        out[r * params.n + c] = activate(acc[i][j] + bc, ACT);
      }
    }
  }
}

// The small-m path for tile t: thread (slice, column) sums rows row0 .. row0 + 3 of one column
// over k = slice, slice + 8, …; a's values are the same across the slice's 32 threads and b's
// are 32 consecutive columns (one contiguous run); the slices' sums then meet in shared memory.
fn gemm_small(t: u32, lid: u32) {
  let row0 = (t / params.tiles_n) * SMALL_ROWS;
  let c = (t % params.tiles_n) * SMALL_COLS + lid % SMALL_COLS;
  let slice = lid / SMALL_COLS;
  var acc = vec4f(0.0); // rows row0 + i
  if (c < params.n) {
    for (var kk = slice; kk < params.k; kk += SMALL_SPLIT) {
      let av = vec4f(a_at(row0, kk), a_at(row0 + 1u, kk), a_at(row0 + 2u, kk), a_at(row0 + 3u, kk));
      acc += av * b[kk * params.n + c];
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  if (slice != 0u || c >= params.n) {
    return;
  }
  for (var s = 1u; s < SMALL_SPLIT; s++) {
    acc += partial[s * SMALL_COLS + lid];
  }
  let bc = bias[c];
  for (var i = 0u; i < SMALL_ROWS; i++) {
    let r = row0 + i;
    if (r < params.m) {
      out[r * params.n + c] = activate(acc[i] + bc, ACT);
    }
  }
}
