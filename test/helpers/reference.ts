/**
 * Float64 references for the fixture models, written from the operators' definitions in the
 * ONNX spec (https://onnx.ai/onnx/operators/), independent of any runtime.
 */
import type { HostTensor } from '../../src/engine/tensor.js'
import type { CnnParams, Dense, SklearnParams, TorchTabularParams } from '../fixtures/models.js'

type Rows = Float64Array[]

function rows(t: HostTensor, width: number): Rows {
  const n = t.data.length / width
  return Array.from({ length: n }, (_, i) =>
    Float64Array.from(t.data.subarray(i * width, (i + 1) * width) as Float32Array),
  )
}

function flat(rs: Rows): Float64Array {
  const w = rs[0]?.length ?? 0
  const out = new Float64Array(rs.length * w)
  rs.forEach((r, i) => {
    out.set(r, i * w)
  })
  return out
}

/** y = W·x + b with W [out, in]. */
export function denseRef(x: Float64Array, d: Dense): Float64Array {
  const y = new Float64Array(d.out)
  for (let o = 0; o < d.out; o++) {
    let s = d.b[o] as number
    for (let i = 0; i < d.in; i++) s += (d.w[o * d.in + i] as number) * (x[i] as number)
    y[o] = s
  }
  return y
}

const relu = (v: Float64Array) => v.map((x) => Math.max(0, x))
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

/** Softmax with the max subtracted (exact in float64 for our ranges). */
function softmaxRef(v: Float64Array): Float64Array {
  const m = Math.max(...v)
  const e = v.map((x) => Math.exp(x - m))
  const s = e.reduce((a, b) => a + b, 0)
  return e.map((x) => x / s)
}

function linearRef(x: HostTensor, p: { w: Float32Array; b: number; features: number }): Float64Array {
  return Float64Array.from(rows(x, p.features), (r) => r.reduce((s, v, i) => s + v * (p.w[i] as number), p.b))
}

function logisticRef(x: HostTensor, p: { layer: Dense }): Float64Array {
  return Float64Array.from(rows(x, p.layer.in), (r) => sigmoid(denseRef(r, p.layer)[0] as number))
}

export function mlpRef(x: HostTensor, p: { layers: Dense[] }): Float64Array {
  const F = (p.layers[0] as Dense).in
  return flat(
    rows(x, F).map((r) => {
      let h = r
      p.layers.forEach((l, i) => {
        h = denseRef(h, l)
        if (i < p.layers.length - 1) h = relu(h)
      })
      return softmaxRef(h)
    }),
  )
}

/** Conv 3×3 (pad 1, stride 1) → Relu → MaxPool 2×2 → Flatten → Gemm, per image. */
function cnnRef(x: HostTensor, p: CnnParams): Float64Array {
  const { channels: C, size: S, filters: K } = p
  const half = S / 2
  return flat(
    rows(x, C * S * S).map((img) => {
      const act = new Float64Array(K * S * S)
      for (let k = 0; k < K; k++)
        for (let y = 0; y < S; y++)
          for (let xx = 0; xx < S; xx++) {
            let s = p.convB[k] as number
            for (let c = 0; c < C; c++)
              for (let dy = -1; dy <= 1; dy++)
                for (let dx = -1; dx <= 1; dx++) {
                  const iy = y + dy
                  const ix = xx + dx
                  if (iy < 0 || iy >= S || ix < 0 || ix >= S) continue
                  s +=
                    (p.convW[((k * C + c) * 3 + dy + 1) * 3 + dx + 1] as number) *
                    (img[(c * S + iy) * S + ix] as number)
                }
            act[(k * S + y) * S + xx] = Math.max(0, s)
          }
      const pooled = new Float64Array(K * half * half)
      for (let k = 0; k < K; k++)
        for (let y = 0; y < half; y++)
          for (let xx = 0; xx < half; xx++) {
            let m = Number.NEGATIVE_INFINITY
            for (let dy = 0; dy < 2; dy++)
              for (let dx = 0; dx < 2; dx++) m = Math.max(m, act[(k * S + 2 * y + dy) * S + 2 * xx + dx] as number)
            pooled[(k * half + y) * half + xx] = m
          }
      return denseRef(pooled, p.fc)
    }),
  )
}

/** Scaler: (x − offset)·scale; LinearClassifier: scores = X·coefᵀ + intercept, SOFTMAX, label = argmax. */
function sklearnRef(
  x: HostTensor,
  p: SklearnParams,
): { label: number[]; probabilities: Float64Array; margin: number[] } {
  const C = p.classes.length
  const probs: Float64Array[] = []
  const label: number[] = []
  const margin: number[] = []
  for (const r of rows(x, p.features)) {
    const scaled = r.map((v, i) => (v - (p.offset[i] as number)) * (p.scale[i] as number))
    const scores = new Float64Array(C)
    for (let c = 0; c < C; c++) {
      let s = p.intercept[c] as number
      for (let i = 0; i < p.features; i++) s += (p.coef[c * p.features + i] as number) * (scaled[i] as number)
      scores[c] = s
    }
    const sorted = [...scores].sort((a, b) => b - a)
    margin.push((sorted[0] as number) - (sorted[1] as number))
    label.push(p.classes[scores.indexOf(sorted[0] as number)] as number)
    probs.push(softmaxRef(scores))
  }
  return { label, probabilities: flat(probs), margin }
}

function torchTabularRef(num: HostTensor, cat: HostTensor, p: TorchTabularParams): Float64Array {
  const cats = Array.from(cat.data as BigInt64Array, Number)
  return Float64Array.from(rows(num, 4), (r, i) => {
    const norm = r.map((v, j) => (v - (p.mean[j] as number)) / (p.std[j] as number))
    const c = cats[i] as number
    const emb = Float64Array.from(p.embedding.subarray(c * p.embDim, (c + 1) * p.embDim))
    const h = relu(denseRef(Float64Array.from([...norm, ...emb]), p.fc1))
    return sigmoid(denseRef(h, p.fc2)[0] as number)
  })
}

/** Expected outputs of a fixture for `feeds`, by output name. `label` outputs are exact integers. */
export function referenceFor(
  fixture: { name: string; params: unknown },
  feeds: Record<string, HostTensor>,
): Record<string, Float64Array | { labels: number[]; margin: number[] }> {
  const x = feeds.x as HostTensor
  switch (fixture.name) {
    case 'linear_regression':
      return { y: linearRef(x, fixture.params as Parameters<typeof linearRef>[1]) }
    case 'logistic_regression':
      return { prob: logisticRef(x, fixture.params as Parameters<typeof logisticRef>[1]) }
    case 'mlp_classifier':
      return { probs: mlpRef(x, fixture.params as Parameters<typeof mlpRef>[1]) }
    case 'small_cnn':
      return { logits: cnnRef(x, fixture.params as CnnParams) }
    case 'sklearn_pipeline': {
      const r = sklearnRef(x, fixture.params as SklearnParams)
      return { label: { labels: r.label, margin: r.margin }, probabilities: r.probabilities }
    }
    case 'torch_tabular':
      return {
        prob: torchTabularRef(feeds.num as HostTensor, feeds.cat as HostTensor, fixture.params as TorchTabularParams),
      }
    default:
      throw new Error(`no reference for fixture ${fixture.name}`)
  }
}
