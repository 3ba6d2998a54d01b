// out[i] = act(a[i] + b[i]) (HAS_B = 1) or act(a[i]) (HAS_B = 0, with `a` bound in b's place)
// over `count` f32 values. NaN and ±inf propagate as IEEE addition gives (inf + -inf = NaN).

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;
override ACT: u32 = 0u;
override HAS_B: u32 = 1u;

//! include "lib/activation.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  var x = a[i];
  if (HAS_B != 0u) {
    x += b[i];
  }
  out[i] = activate(x, ACT);
}
