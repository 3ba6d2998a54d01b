// Tiled GEMM, out = act(a · b + bias) (see lib/gemm-tile.wgsl for the layout and the small-m
// path): a's 64×16 slice is staged in shared memory next to b's, transposed so each thread's four
// rows at one k are one column of it.

// The tile fixes the workgroup at 16×16 threads; WG is declared so every kernel takes the same
// constants, and has no effect here.
override WG: u32 = 256;
override ACT: u32 = 0u;

//! include "lib/activation.wgsl"
//! include "lib/gemm-tile.wgsl"

var<workgroup> a_tile: array<f32, 1024>; // [TK][TILE]: a transposed

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) local: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= params.tiles) {
    return; // uniform across the workgroup: the barriers below stay in uniform control flow
  }
  if (params.small != 0u) {
    gemm_small(t, lid);
    return;
  }
  let row0 = (t / params.tiles_n) * TILE;
  let col0 = (t % params.tiles_n) * TILE;
  let tx = local.x;
  let ty = local.y;

  var acc: array<vec4f, 4>; // acc[i][j]: row ty + 16i, column tx + 16j
  let steps = (params.k + TK - 1u) / TK;
  for (var s = 0u; s < steps; s++) {
    let k0 = s * TK;
    // a: 16 consecutive k of one row per 16 threads (contiguous reads).
    for (var e = lid; e < TK * TILE; e += THREADS) {
      a_tile[(e % TK) * TILE + e / TK] = a_at(row0 + e / TK, k0 + e % TK);
    }
    load_b_tile(lid, k0, col0);
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let bv = b_row(kk, tx);
      for (var i = 0u; i < 4u; i++) {
        acc[i] += a_tile[kk * TILE + ty + 16u * i] * bv;
      }
    }
    workgroupBarrier();
  }
  store_tile(acc, row0, col0, tx, ty);
}
