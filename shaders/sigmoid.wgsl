// Element-wise logistic sigmoid over `count` f32 values, written without overflow:
// x >= 0: 1 / (1 + exp(-x));  x < 0: exp(x) / (1 + exp(x)).  NaN stays NaN; ±inf -> 1 / 0.

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  let x = values[i];
  if (x >= 0.0) {
    result[i] = 1.0 / (1.0 + exp(-x));
  } else if (x < 0.0) {
    let e = exp(x);
    result[i] = e / (1.0 + e);
  } else {
    result[i] = x; // NaN
  }
}
