// Tiled GEMM, out = act(a · b + bias) (see lib/gemm-tile.wgsl for the layout), for devices with
// the 'subgroups' feature: a is not staged in shared memory. The threads of a micro-tile row
// (same ty) that share a subgroup split each k run between them, each loading the four rows' a
// values at one k from global memory, and pass them round with subgroupShuffle: one vec4 shuffle
// per k replaces four shared-memory reads, and a's shared tile, its stores and their bank traffic
// are gone. The small-m path (gemm_small) is gemm.wgsl's.
//
// Nothing is assumed about which invocations share a subgroup, nor its size: each subgroup claims
// a contiguous range of thread roles (role = tx + 16 ty) from a workgroup counter, and shares
// within groups of G lanes, G the largest power of two ≤ 16 that divides both its size and the
// range's start (G = 1, no sharing, if its active lanes are not numbered 0 .. size − 1).

enable subgroups;
// The shuffles sit in loops bounded by G, uniform within the subgroup (which this analysis cannot see).
diagnostic(off, subgroup_uniformity);

// The tile fixes the workgroup at 256 threads; WG is declared so every kernel takes the same
// constants, and has no effect here.
override WG: u32 = 256;
override ACT: u32 = 0u;

//! include "lib/activation.wgsl"
//! include "lib/gemm-tile.wgsl"

var<workgroup> next_role: atomic<u32>;

// The lowest set bit of x (0 for 0).
fn low_bit(x: u32) -> u32 {
  return x & (~x + 1u);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
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

  // Roles: this subgroup takes [start, start + size); its lanes in order of their ids.
  let size = subgroupAdd(1u);
  let rank = subgroupExclusiveAdd(1u);
  var claimed = 0u;
  if (subgroupElect()) {
    claimed = atomicAdd(&next_role, size);
  }
  let start = subgroupAdd(claimed);
  let role = start + rank;
  let tx = role % 16u;
  let ty = role / 16u;
  var g = min(16u, low_bit(size));
  if (start != 0u) {
    g = min(g, low_bit(start));
  }
  if (!subgroupAll(rank == lane)) {
    g = 1u;
  }
  let in_group = role % g;   // this lane's k offset within each run of g
  let group_lane = lane - in_group; // the group's first lane

  var acc: array<vec4f, 4>; // acc[i][j]: row ty + 16i, column tx + 16j
  let steps = (params.k + TK - 1u) / TK;
  for (var s = 0u; s < steps; s++) {
    let k0 = s * TK;
    load_b_tile(lid, k0, col0);
    workgroupBarrier();
    for (var kg = 0u; kg < TK; kg += g) {
      let kk = k0 + kg + in_group;
      let r = row0 + ty;
      let mine = vec4f(a_at(r, kk), a_at(r + 16u, kk), a_at(r + 32u, kk), a_at(r + 48u, kk));
      for (var j = 0u; j < g; j++) {
        let av = subgroupShuffle(mine, group_lane + j); // rows ty + 16i at k = k0 + kg + j
        let bv = b_row(kg + j, tx);
        acc[0] += av.x * bv;
        acc[1] += av.y * bv;
        acc[2] += av.z * bv;
        acc[3] += av.w * bv;
      }
    }
    workgroupBarrier();
  }
  store_tile(acc, row0, col0, tx, ty);
}
