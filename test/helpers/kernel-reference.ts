/**
 * Float64 references for the kernels, written from their documented definitions and kept
 * deliberately naive (direct formulas, full sorts, linear scans) so they share no code or
 * algorithm with the kernels or their CPU twins.
 */

/** Softmax of one row by its definition, with the edge cases the kernels document. */
export function softmaxRowRef(row: number[]): number[] {
  if (row.some(Number.isNaN)) return row.map(() => Number.NaN)
  const pinf = row.filter((x) => x === Number.POSITIVE_INFINITY).length
  if (pinf > 0) return row.map((x) => (x === Number.POSITIVE_INFINITY ? 1 / pinf : 0))
  if (row.every((x) => x === Number.NEGATIVE_INFINITY)) return row.map(() => Number.NaN)
  // exp(x - c) / Σ exp(x - c) equals exp(x) / Σ exp(x) for any c; c = max keeps it in range.
  const c = Math.max(...row)
  const denom = row.reduce((s, x) => s + Math.exp(x - c), 0)
  return row.map((x) => Math.exp(x - c) / denom)
}

export function sigmoidRef(x: number): number {
  if (Number.isNaN(x)) return x
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))
}

/** Indices of a row in rank order: larger first, NaN last, ties by lower index. */
export function rankOrder(row: number[]): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Number.NEGATIVE_INFINITY : v)
  return row
    .map((v, i) => ({ v, i }))
    .sort((a, b) => {
      const an = Number.isNaN(a.v)
      const bn = Number.isNaN(b.v)
      if (an !== bn) return an ? 1 : -1
      return key(b.v) - key(a.v) || a.i - b.i
    })
    .map((x) => x.i)
}

/** Bilinear sample of a single-channel H×W image at real source coordinates (sy, sx). */
export function bilinearRef(
  img: (y: number, x: number) => number,
  H: number,
  W: number,
  sy: number,
  sx: number,
): number {
  const y0 = Math.floor(sy)
  const x0 = Math.floor(sx)
  const clampY = (y: number) => Math.min(Math.max(y, 0), H - 1)
  const clampX = (x: number) => Math.min(Math.max(x, 0), W - 1)
  const fy = sy - y0
  const fx = sx - x0
  return (
    img(clampY(y0), clampX(x0)) * (1 - fy) * (1 - fx) +
    img(clampY(y0), clampX(x0 + 1)) * (1 - fy) * fx +
    img(clampY(y0 + 1), clampX(x0)) * fy * (1 - fx) +
    img(clampY(y0 + 1), clampX(x0 + 1)) * fy * fx
  )
}

/**
 * act(a · b + bias) by the triple loop, with each output's magnitude Σ|a||b| + |bias| (the scale
 * its fp32 rounding error is judged against).
 */
export function gemmRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  bias: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  activation: 'none' | 'relu' | 'sigmoid' | 'tanh',
): { values: number[]; scale: number[] } {
  const values: number[] = []
  const scale: number[] = []
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = bias[j] as number
      let mag = Math.abs(bias[j] as number)
      for (let p = 0; p < k; p++) {
        const x = a[i * k + p] as number
        const y = b[p * n + j] as number
        sum += x * y
        mag += Math.abs(x * y)
      }
      values.push(activationRef(sum, activation))
      scale.push(mag)
    }
  }
  return { values, scale }
}

/** The geometry of a 2-D window op, as the conv and pool references take it (NCHW). */
export interface WindowRefShape {
  batch: number
  inC: number
  inH: number
  inW: number
  kH: number
  kW: number
  strides: [number, number]
  pads: [number, number, number, number] // top, left, bottom, right
  dilations: [number, number]
}

/** ONNX output size of one axis: floor((in + pads − dilation·(k − 1) − 1) / stride) + 1. */
function windowOutRef(inSize: number, k: number, stride: number, padSum: number, dilation: number): number {
  return Math.floor((inSize + padSum - dilation * (k - 1) - 1) / stride) + 1
}

/** relu / sigmoid / tanh / none by their definitions (NaN stays NaN). */
export function activationRef(x: number, act: 'none' | 'relu' | 'sigmoid' | 'tanh'): number {
  if (act === 'relu') return Number.isNaN(x) ? x : Math.max(0, x)
  if (act === 'sigmoid') return sigmoidRef(x)
  if (act === 'tanh') return Math.tanh(x)
  return x
}

/**
 * ONNX Conv by its definition, the plain seven loops in float64:
 * out[n,co,oy,ox] = act(bias[co] + Σ_{ci,ky,kx} x[n, g·inC/group + ci, oy·sh − pt + ky·dh, ox·sw − pl + kx·dw]
 * · w[co, ci, ky, kx] + residual[n,co,oy,ox]), g = co / (outC/group), taps outside the image 0.
 */
export function conv2dRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number>,
  s: WindowRefShape & { outC: number; group: number },
  residual?: ArrayLike<number>,
  act: 'none' | 'relu' | 'sigmoid' | 'tanh' = 'none',
): number[] {
  const outH = windowOutRef(s.inH, s.kH, s.strides[0], s.pads[0] + s.pads[2], s.dilations[0])
  const outW = windowOutRef(s.inW, s.kW, s.strides[1], s.pads[1] + s.pads[3], s.dilations[1])
  const cinG = s.inC / s.group
  const coutG = s.outC / s.group
  const at = (n: number, c: number, y: number, xx: number) =>
    y < 0 || y >= s.inH || xx < 0 || xx >= s.inW ? 0 : (x[((n * s.inC + c) * s.inH + y) * s.inW + xx] as number)
  const out: number[] = []
  for (let n = 0; n < s.batch; n++) {
    for (let co = 0; co < s.outC; co++) {
      const g = Math.floor(co / coutG)
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          let sum = bias[co] as number
          for (let ci = 0; ci < cinG; ci++) {
            for (let ky = 0; ky < s.kH; ky++) {
              for (let kx = 0; kx < s.kW; kx++) {
                const y = oy * s.strides[0] - s.pads[0] + ky * s.dilations[0]
                const xx = ox * s.strides[1] - s.pads[1] + kx * s.dilations[1]
                sum += at(n, g * cinG + ci, y, xx) * (w[((co * cinG + ci) * s.kH + ky) * s.kW + kx] as number)
              }
            }
          }
          const i = out.length
          out.push(activationRef(sum + (residual ? (residual[i] as number) : 0), act))
        }
      }
    }
  }
  return out
}

/**
 * ONNX MaxPool / AveragePool by their definitions in float64: the window's in-image taps (padding
 * is no tap); max = their Math.max (NaN if any is NaN); avg = their sum over kH·kW
 * (countIncludePad) or over their number.
 */
export function pool2dRef(
  x: ArrayLike<number>,
  s: WindowRefShape & { mode: 'max' | 'avg'; countIncludePad: boolean },
): number[] {
  const outH = windowOutRef(s.inH, s.kH, s.strides[0], s.pads[0] + s.pads[2], s.dilations[0])
  const outW = windowOutRef(s.inW, s.kW, s.strides[1], s.pads[1] + s.pads[3], s.dilations[1])
  const out: number[] = []
  for (let plane = 0; plane < s.batch * s.inC; plane++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const taps: number[] = []
        for (let ky = 0; ky < s.kH; ky++) {
          for (let kx = 0; kx < s.kW; kx++) {
            const y = oy * s.strides[0] - s.pads[0] + ky * s.dilations[0]
            const xx = ox * s.strides[1] - s.pads[1] + kx * s.dilations[1]
            if (y >= 0 && y < s.inH && xx >= 0 && xx < s.inW) taps.push(x[(plane * s.inH + y) * s.inW + xx] as number)
          }
        }
        if (s.mode === 'max') out.push(Math.max(...taps))
        else out.push(taps.reduce((a, b) => a + b, 0) / (s.countIncludePad ? s.kH * s.kW : taps.length))
      }
    }
  }
  return out
}
