// Image pre-processing in one pass: uint8 HWC pixels (RGB or RGBA, packed four bytes to a u32)
// -> f32 NCHW with 3 channels, resized with bilinear interpolation and normalised:
//   out[n, c, y, x] = (bilinear(in[n, :, :, order[c]]) * scale - mean[c]) / std[c]
// Bilinear uses half-pixel centres (PyTorch's align_corners=False, no antialias): the source
// coordinate of output y is (y + 0.5) * in_h / out_h - 0.5, clamped at 0, with edge replication.
// One thread per output pixel computes its three channels.

struct Params {
  images: u32,
  in_h: u32,
  in_w: u32,
  in_c: u32,      // 3 (RGB) or 4 (RGBA)
  out_h: u32,
  out_w: u32,
  scale: f32,     // e.g. 1/255
  bgr: u32,       // 1: write channels in B, G, R order
  mean: vec4f,
  inv_std: vec4f, // 1 / std, per output channel
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read_write> tensor: array<f32>;

override WG: u32 = 256;

fn byte_at(i: u32) -> f32 {
  return f32((pixels[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);
}

fn source_coord(dst: u32, in_size: u32, out_size: u32) -> f32 {
  let s = (f32(dst) + 0.5) * f32(in_size) / f32(out_size) - 0.5;
  return max(s, 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  let plane = params.out_h * params.out_w;
  if (i >= params.images * plane) {
    return;
  }
  let n = i / plane;
  let y = (i % plane) / params.out_w;
  let x = i % params.out_w;

  let sy = source_coord(y, params.in_h, params.out_h);
  let sx = source_coord(x, params.in_w, params.out_w);
  let y0 = min(u32(floor(sy)), params.in_h - 1u);
  let x0 = min(u32(floor(sx)), params.in_w - 1u);
  let y1 = min(y0 + 1u, params.in_h - 1u);
  let x1 = min(x0 + 1u, params.in_w - 1u);
  let wy = sy - f32(y0);
  let wx = sx - f32(x0);

  let img = n * params.in_h * params.in_w;
  let p00 = (img + y0 * params.in_w + x0) * params.in_c;
  let p01 = (img + y0 * params.in_w + x1) * params.in_c;
  let p10 = (img + y1 * params.in_w + x0) * params.in_c;
  let p11 = (img + y1 * params.in_w + x1) * params.in_c;
  for (var c = 0u; c < 3u; c++) {
    let src = select(c, 2u - c, params.bgr == 1u);
    let top = mix(byte_at(p00 + src), byte_at(p01 + src), wx);
    let bottom = mix(byte_at(p10 + src), byte_at(p11 + src), wx);
    let v = mix(top, bottom, wy);
    tensor[(n * 3u + c) * plane + y * params.out_w + x] = (v * params.scale - params.mean[c]) * params.inv_std[c];
  }
}
