// 2-D pooling on NCHW f32 tensors (ONNX MaxPool / AveragePool, floor mode; GlobalAveragePool is
// the average with the window = the whole image). Each plane (batch × channel) is pooled alone.
//   MAX: the largest in-image value of the window; padding never wins (it acts as -inf), and a
//        NaN in the window makes the result NaN.
//   avg: the sum of the in-image values over k_h·k_w (COUNT_PAD, ONNX count_include_pad = 1) or
//        over the number of in-image values (count_include_pad = 0); a NaN propagates through
//        the sum.
// Small windows take a thread per output; large ones (WINDOW_PER_WORKGROUP) a workgroup per
// output, its threads splitting the window and combining with workgroup reductions.
//! include "lib/reduce.wgsl"

struct Params {
  in_h: u32,
  in_w: u32,
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
  count: u32, // outputs: planes · out_h · out_w
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64; // a power of two (the reductions' tree)
override MAX: bool = false;
override COUNT_PAD: bool = false;
override WINDOW_PER_WORKGROUP: bool = false;

const NEG_INF_BITS: u32 = 0xff800000u;
// -inf as a run-time value: WGSL rejects a constant expression that evaluates to it.
var<private> neg_inf_bits: u32 = NEG_INF_BITS;

// A partial result over some of a window's taps: the max (NaN once a NaN is seen) or the sum, and
// how many taps were inside the image.
struct Partial {
  v: f32,
  n: u32,
}

// The taps first, first + step, … of output o's window.
fn scan(o: u32, first: u32, step: u32) -> Partial {
  let hw = params.out_h * params.out_w;
  let p = o % hw;
  let base = (o / hw) * params.in_h * params.in_w;
  let iy0 = i32((p / params.out_w) * params.stride_h) - i32(params.pad_top);
  let ix0 = i32((p % params.out_w) * params.stride_w) - i32(params.pad_left);
  var acc = Partial(select(0.0, bitcast<f32>(neg_inf_bits), MAX), 0u);
  var saw_nan = false;
  for (var t = first; t < params.k_h * params.k_w; t += step) {
    let iy = iy0 + i32((t / params.k_w) * params.dil_h);
    let ix = ix0 + i32((t % params.k_w) * params.dil_w);
    if (iy >= 0 && iy < i32(params.in_h) && ix >= 0 && ix < i32(params.in_w)) {
      let x = input[base + u32(iy) * params.in_w + u32(ix)];
      acc.n += 1u;
      if (!MAX) {
        acc.v += x;
      } else if (is_nan(x)) {
        saw_nan = true;
      } else {
        acc.v = max(acc.v, x);
      }
    }
  }
  if (saw_nan) {
    acc.v = nan();
  }
  return acc;
}

fn result(total: Partial) -> f32 {
  if (MAX) {
    return total.v;
  }
  return total.v / f32(select(total.n, params.k_h * params.k_w, COUNT_PAD));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  if (!WINDOW_PER_WORKGROUP) {
    let o = wg * WG + lid;
    if (o < params.count) {
      out[o] = result(scan(o, 0u, 1u));
    }
    return;
  }
  if (wg >= params.count) {
    return; // uniform across the workgroup: the reductions' barriers stay in uniform control flow
  }
  let part = scan(wg, lid, WG);
  var total: Partial;
  if (MAX) {
    total = Partial(workgroup_max(lid, part.v), 0u);
  } else {
    total = Partial(workgroup_sum(lid, part.v), u32(workgroup_sum(lid, f32(part.n))));
  }
  if (lid == 0u) {
    out[wg] = result(total);
  }
}
