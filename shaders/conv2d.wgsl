// 2-D convolution on NCHW f32 tensors (ONNX Conv, floor mode), with the bias, an optional residual
// and the activation fused: out = act(conv(input, weight) + bias + residual).
//   input    [batch, in_c, in_h, in_w]
//   weight   [out_c, in_c / group, k_h, k_w]
//   bias     [out_c]
//   residual [batch, out_c, out_h, out_w] (HAS_RESIDUAL; the wrapper binds `bias` here otherwise)
// Two paths, chosen at compile time:
//   GEMM (DIRECT false): implicit GEMM per group. The output is the matrix
//     [batch·out_h·out_w, out_c/group] = im2col(input) [rows, red] × weightᵀ [red, out_c/group],
//     red = in_c/group · k_h · k_w. Each workgroup computes a TM × TN tile, walking the reduction
//     TK at a time through workgroup tiles of both operands; the im2col tile is gathered from the
//     input on the fly (no im2col buffer), loads outside the image (padding) or the matrices
//     (ragged tiles) read 0. Each thread owns an RM × RN block of the tile.
//   DIRECT: one thread per output, summing its window (depthwise and other thin groups, where
//     out_c/group would leave most of a TN-wide tile idle).
// Shapes are uniforms: one pipeline per (path, residual, activation) serves every shape.
//! include "lib/activation.wgsl"

struct Params {
  in_c: u32,
  in_h: u32,
  in_w: u32,
  out_c: u32,
  out_h: u32,
  out_w: u32,
  k_h: u32,
  k_w: u32,
  stride_h: u32,
  stride_w: u32,
  pad_top: u32,
  pad_left: u32,
  dil_h: u32,
  dil_w: u32,
  cin_g: u32,   // in_c / group
  cout_g: u32,  // out_c / group
  red: u32,     // cin_g · k_h · k_w: the reduction length
  rows: u32,    // batch · out_h · out_w: the GEMM's rows
  tiles_m: u32, // ceil(rows / TM)
  tiles_n: u32, // ceil(cout_g / TN)
  count: u32,   // GEMM: workgroups with a tile (tiles_m · tiles_n · group); DIRECT: outputs
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;   // threads per workgroup: a power of two >= 8 (GEMM: TM = WG / 2)
override ACT: u32 = 0u;  // lib/activation.wgsl mode
override HAS_RESIDUAL: bool = false;
override DIRECT: bool = false;

const TN: u32 = 32u;  // output channels per tile
const TK: u32 = 16u;  // reduction step
const RM: u32 = 4u;   // rows per thread
const RN: u32 = 4u;   // channels per thread
override TM: u32 = WG / 2u; // rows per tile: (WG / (TN / RN)) thread rows of RM

var<workgroup> a_tile: array<f32, TK * TM>; // [TK][TM]: im2col rows along the fast axis
const TN_PAD: u32 = 33u; // TN + 1, b_tile's row stride: the column-wise stores below hit distinct banks
var<workgroup> b_tile: array<f32, TK * TN_PAD>; // [TK][TN], rows padded

// The fused tail for output element `idx` of channel `co`.
fn store(idx: u32, co: u32, sum: f32) {
  var x = sum + bias[co];
  if (HAS_RESIDUAL) {
    x += residual[idx];
  }
  out[idx] = activate(x, ACT);
}

// Whether (iy, ix) lies inside the image.
fn inside(iy: i32, ix: i32) -> bool {
  return iy >= 0 && iy < i32(params.in_h) && ix >= 0 && ix < i32(params.in_w);
}

fn direct(o: u32) {
  let hw = params.out_h * params.out_w;
  let p = o % hw;
  let co = (o / hw) % params.out_c;
  let b = o / hw / params.out_c;
  let g = co / params.cout_g;
  let iy0 = i32((p / params.out_w) * params.stride_h) - i32(params.pad_top);
  let ix0 = i32((p % params.out_w) * params.stride_w) - i32(params.pad_left);
  var sum = 0.0;
  for (var ci = 0u; ci < params.cin_g; ci++) {
    let plane = (b * params.in_c + g * params.cin_g + ci) * params.in_h;
    let wrow = (co * params.cin_g + ci) * params.k_h;
    for (var ky = 0u; ky < params.k_h; ky++) {
      let iy = iy0 + i32(ky * params.dil_h);
      for (var kx = 0u; kx < params.k_w; kx++) {
        let ix = ix0 + i32(kx * params.dil_w);
        if (inside(iy, ix)) {
          sum += input[(plane + u32(iy)) * params.in_w + u32(ix)] * weight[(wrow + ky) * params.k_w + kx];
        }
      }
    }
  }
  store(o, co, sum);
}

fn gemm_tile(lid: u32, tile: u32) {
  let per_group = params.tiles_m * params.tiles_n;
  let g = tile / per_group;
  let m0 = (tile % per_group % params.tiles_m) * TM;
  let n0 = (tile % per_group / params.tiles_m) * TN;
  let hw = params.out_h * params.out_w;
  let khw = params.k_h * params.k_w;

  // The im2col row this thread gathers (the same one every step, since WG is a multiple of TM).
  let a_m = lid % TM;
  let m = m0 + a_m;
  let m_ok = m < params.rows;
  let p = m % hw;
  let in_base = ((m / hw) * params.in_c + g * params.cin_g) * params.in_h;
  let iy0 = i32((p / params.out_w) * params.stride_h) - i32(params.pad_top);
  let ix0 = i32((p % params.out_w) * params.stride_w) - i32(params.pad_left);
  let w_base = (g * params.cout_g + n0) * params.red;

  // This thread's block of the tile.
  let tn = lid % (TN / RN);
  let tm = lid / (TN / RN);
  var acc: array<vec4f, RM>;

  for (var k0 = 0u; k0 < params.red; k0 += TK) {
    for (var kk = lid / TM; kk < TK; kk += WG / TM) {
      let k = k0 + kk;
      var v = 0.0;
      if (m_ok && k < params.red) {
        let ci = k / khw;
        let r = k % khw;
        let iy = iy0 + i32((r / params.k_w) * params.dil_h);
        let ix = ix0 + i32((r % params.k_w) * params.dil_w);
        if (inside(iy, ix)) {
          v = input[(in_base + ci * params.in_h + u32(iy)) * params.in_w + u32(ix)];
        }
      }
      a_tile[kk * TM + a_m] = v;
    }
    for (var e = lid; e < TK * TN; e += WG) {
      let kk = e % TK;
      let n = e / TK;
      var w = 0.0;
      if (n0 + n < params.cout_g && k0 + kk < params.red) {
        w = weight[w_base + n * params.red + k0 + kk];
      }
      b_tile[kk * TN_PAD + n] = w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = kk * TM + tm * RM;
      let bn = kk * TN_PAD + tn * RN;
      let bv = vec4f(b_tile[bn], b_tile[bn + 1u], b_tile[bn + 2u], b_tile[bn + 3u]);
      for (var i = 0u; i < RM; i++) {
        acc[i] += a_tile[a + i] * bv;
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < RM; i++) {
    let row = m0 + tm * RM + i;
    if (row < params.rows) {
      let b = row / hw;
      let q = row % hw;
      for (var j = 0u; j < RN; j++) {
        let n = n0 + tn * RN + j;
        if (n < params.cout_g) {
          let co = g * params.cout_g + n;
          store((b * params.out_c + co) * hw + q, co, acc[i][j]);
        }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  if (DIRECT) {
    let o = wg * WG + lid;
    if (o < params.count) {
      direct(o);
    }
    return;
  }
  if (wg >= params.count) {
    return; // uniform across the workgroup: the barriers in gemm_tile stay in uniform control flow
  }
  gemm_tile(lid, wg);
}
