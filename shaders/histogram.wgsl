// Histogram of one column into bins given by `num_edges` sorted edges e[0] < ... < e[B] (B bins).
// The column is values[offset + i * stride] for i < count (a column of a row-major matrix, or a
// plain array with stride 1). counts has B + 3 slots:
//   [0]        x < e[0]                    (underflow, -inf included)
//   [1 + j]    e[j] <= x < e[j+1]; the last bin also takes x == e[B]
//   [B + 1]    x > e[B]                    (overflow, +inf included)
//   [B + 2]    NaN
// Workgroups count into a workgroup-local histogram, then add it to the global one atomically.

struct Params {
  count: u32,
  stride: u32,
  offset: u32,
  num_edges: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read> edges: array<f32>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;

override WG: u32 = 256;
const MAX_SLOTS: u32 = 1027u; // 1024 bins + underflow, overflow, NaN

var<workgroup> local_counts: array<atomic<u32>, MAX_SLOTS>;

fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn slot(x: f32) -> u32 {
  let b = params.num_edges - 1u; // bins
  if (is_nan(x)) {
    return b + 2u;
  }
  if (x < edges[0]) {
    return 0u;
  }
  if (x > edges[b]) {
    return b + 1u;
  }
  // Largest j in [0, b-1] with edges[j] <= x.
  var lo = 0u;
  var hi = b - 1u;
  while (lo < hi) {
    let mid = (lo + hi + 1u) / 2u;
    if (edges[mid] <= x) {
      lo = mid;
    } else {
      hi = mid - 1u;
    }
  }
  return 1u + lo;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let slots = params.num_edges + 2u;
  for (var s = lid; s < slots; s += WG) {
    atomicStore(&local_counts[s], 0u);
  }
  workgroupBarrier();
  // Each workgroup covers WG * ITEMS consecutive values; threads stride by WG (coalesced).
  let group = wid.x + wid.y * nwg.x;
  let start = group * WG * ITEMS;
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG + lid;
    if (i < params.count) {
      atomicAdd(&local_counts[slot(values[params.offset + i * params.stride])], 1u);
    }
  }
  workgroupBarrier();
  for (var s = lid; s < slots; s += WG) {
    let c = atomicLoad(&local_counts[s]);
    if (c > 0u) {
      atomicAdd(&counts[s], c);
    }
  }
}

override ITEMS: u32 = 16; // values per thread
