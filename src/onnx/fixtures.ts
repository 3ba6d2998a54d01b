/**
 * ONNX models built in TypeScript for tests, benches and the demo. Each fixture exposes its
 * weights (`params`) so tests can compute an independent float64 reference, and a generator
 * of random inputs. Weights come from a fixed seed, so the bytes are the same on every build.
 */
import { type HostTensor, type TensorSpec, tensor } from '../engine/tensor.js'
import { floats, GraphBuilder } from './builder.js'
import { mulberry32, normal, uniform } from './random.js'

export interface Fixture<P = unknown> {
  readonly name: string
  readonly description: string
  readonly bytes: Uint8Array
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  readonly params: P
  /** Random inputs for `n` rows, drawn from `rand`. */
  randomInputs(n: number, rand: () => number): Record<string, HostTensor>
}

/** A dense layer y = x·Wᵀ + b with W stored [out, in] row-major (torch's Linear layout). */
export interface Dense {
  in: number
  out: number
  w: Float32Array
  b: Float32Array
}

function dense(rand: () => number, inF: number, outF: number): Dense {
  const scale = Math.sqrt(2 / inF) // He init keeps activations O(1) through ReLU layers
  return { in: inF, out: outF, w: normal(rand, inF * outF, 0, scale), b: uniform(rand, outF, -0.1, 0.1) }
}

/** Gemm(x, W, b, transB=1) for a Dense layer. */
function gemm(g: GraphBuilder, x: string, d: Dense, name: string): string {
  const w = g.constant(`${name}.weight`, 'float32', [d.out, d.in], d.w)
  const b = g.constant(`${name}.bias`, 'float32', [d.out], d.b)
  return g.node('Gemm', [x, w, b], { transB: 1 })
}

function floatInput(name: string, features: number, lo = -2, hi = 2) {
  return (n: number, rand: () => number) => ({
    [name]: tensor('float32', [n, features], uniform(rand, n * features, lo, hi)),
  })
}

/** y = x·w + b, x [N,8] → y [N,1] (MatMul + Add, as torch emits for a Linear on 3-D input). */
export function linearRegression(seed = 1): Fixture<{ w: Float32Array; b: number; features: number }> {
  const F = 8
  const rand = mulberry32(seed)
  const w = uniform(rand, F)
  const b = uniform(rand, 1)[0] as number
  const g = new GraphBuilder('linear_regression')
  const x = g.input('x', 'float32', ['N', F])
  const mm = g.node('MatMul', [x, g.constant('w', 'float32', [F, 1], w)])
  g.output(g.node('Add', [mm, g.constant('b', 'float32', [1], [b])]), 'float32', ['N', 1], 'y')
  return {
    name: 'linear_regression',
    description: 'linear regression, 8 features (MatMul + Add)',
    bytes: g.toModel(),
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', F] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 1] }],
    params: { w, b, features: F },
    randomInputs: floatInput('x', F),
  }
}

/** p = sigmoid(x·wᵀ + b), x [N,12] → prob [N,1] (Gemm + Sigmoid). */
export function logisticRegression(seed = 2): Fixture<{ layer: Dense }> {
  const layer = dense(mulberry32(seed), 12, 1)
  const g = new GraphBuilder('logistic_regression')
  const x = g.input('x', 'float32', ['N', 12])
  g.output(g.node('Sigmoid', [gemm(g, x, layer, 'fc')]), 'float32', ['N', 1], 'prob')
  return {
    name: 'logistic_regression',
    description: 'logistic regression, 12 features (Gemm + Sigmoid)',
    bytes: g.toModel(),
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 12] }],
    outputs: [{ name: 'prob', dtype: 'float32', shape: ['N', 1] }],
    params: { layer },
    randomInputs: floatInput('x', 12),
  }
}

/**
 * MLP classifier: x [N,F] → Gemm → Relu → Gemm → Relu → Gemm → Softmax → probs [N,C].
 * The default shape (16 → 64 → 64 → 3) is the demo and bench model.
 */
export function mlpClassifier(
  opts: { features?: number; hidden?: number[]; classes?: number; seed?: number; name?: string } = {},
): Fixture<{ layers: Dense[] }> {
  const F = opts.features ?? 16
  const C = opts.classes ?? 3
  const sizes = [F, ...(opts.hidden ?? [64, 64]), C]
  const rand = mulberry32(opts.seed ?? 3)
  const layers = sizes.slice(1).map((out, i) => dense(rand, sizes[i] as number, out))
  const name = opts.name ?? 'mlp_classifier'
  const g = new GraphBuilder(name)
  let h = g.input('x', 'float32', ['N', F])
  layers.forEach((layer, i) => {
    h = gemm(g, h, layer, `fc${i}`)
    if (i < layers.length - 1) h = g.node('Relu', [h])
  })
  g.output(g.node('Softmax', [h], { axis: -1 }), 'float32', ['N', C], 'probs')
  return {
    name,
    description: `MLP classifier ${sizes.join('→')} with ReLU and Softmax`,
    bytes: g.toModel(),
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', F] }],
    outputs: [{ name: 'probs', dtype: 'float32', shape: ['N', C] }],
    params: { layers },
    randomInputs: floatInput('x', F),
  }
}

/**
 * PLATFORM.md's `mlp_big`: x [N,256] → four Gemm 2048 + Relu → Gemm 16 → Softmax → probs [N,16],
 * fp32, about 13.1M weights (52 MB). A bench model sized to make matrix multiplication, not
 * per-call overhead, the cost from batch ~64 up.
 */
export function wideMlp(seed = 8): Fixture<{ layers: Dense[] }> {
  return mlpClassifier({ features: 256, hidden: [2048, 2048, 2048, 2048], classes: 16, seed, name: 'wide_mlp' })
}

export { resnet18Shaped } from './resnet.js'

export interface CnnParams {
  channels: number
  size: number
  filters: number
  /** Conv weights [filters, channels, 3, 3] and bias [filters]. */
  convW: Float32Array
  convB: Float32Array
  fc: Dense
}

/** Small CNN: x [N,3,8,8] → Conv 3×3 pad 1 (4 filters) → Relu → MaxPool 2×2 → Flatten → Gemm → logits [N,10]. */
export function smallCnn(seed = 4): Fixture<CnnParams> {
  const channels = 3
  const size = 8
  const filters = 4
  const rand = mulberry32(seed)
  const convW = normal(rand, filters * channels * 9, 0, Math.sqrt(2 / (channels * 9)))
  const convB = uniform(rand, filters, -0.1, 0.1)
  const fc = dense(rand, filters * (size / 2) * (size / 2), 10)
  const g = new GraphBuilder('small_cnn')
  const x = g.input('x', 'float32', ['N', channels, size, size])
  const w = g.constant('conv.weight', 'float32', [filters, channels, 3, 3], convW)
  const b = g.constant('conv.bias', 'float32', [filters], convB)
  const conv = g.node('Conv', [x, w, b], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] })
  const pool = g.node('MaxPool', [g.node('Relu', [conv])], { kernel_shape: [2, 2], strides: [2, 2] })
  const flat = g.node('Flatten', [pool], { axis: 1 })
  g.output(gemm(g, flat, fc, 'fc'), 'float32', ['N', 10], 'logits')
  return {
    name: 'small_cnn',
    description: 'small CNN: Conv 3×3 → Relu → MaxPool → Flatten → Gemm, 3×8×8 → 10',
    bytes: g.toModel(),
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', channels, size, size] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', 10] }],
    params: { channels, size, filters, convW, convB, fc },
    randomInputs: (n, r) => ({
      x: tensor('float32', [n, channels, size, size], uniform(r, n * channels * size * size, 0, 1)),
    }),
  }
}

export interface SklearnParams {
  features: number
  classes: number[]
  offset: Float32Array
  scale: Float32Array
  /** Coefficients [classes, features] row-major, intercepts [classes]. */
  coef: Float32Array
  intercept: Float32Array
}

/**
 * What skl2onnx emits for `make_pipeline(StandardScaler(), LogisticRegression())` with
 * `zipmap=False`: ai.onnx.ml `Scaler` → `LinearClassifier` (SOFTMAX), outputs an int64 label [N]
 * and probabilities [N,3].
 */
export function sklearnPipeline(seed = 5): Fixture<SklearnParams> {
  const F = 6
  const classes = [10, 20, 30]
  const rand = mulberry32(seed)
  const offset = uniform(rand, F, -1, 1)
  const scale = uniform(rand, F, 0.5, 2)
  const coef = uniform(rand, classes.length * F, -1.5, 1.5)
  const intercept = uniform(rand, classes.length, -0.5, 0.5)
  const g = new GraphBuilder('sklearn_pipeline')
  const x = g.input('x', 'float32', ['N', F])
  const scaled = g.node(
    'Scaler',
    [x],
    { offset: floats([...offset]), scale: floats([...scale]) },
    { domain: 'ai.onnx.ml' },
  )
  g.nodeMulti(
    'LinearClassifier',
    [scaled],
    {
      coefficients: floats([...coef]),
      intercepts: floats([...intercept]),
      classlabels_ints: classes,
      multi_class: 1,
      post_transform: 'SOFTMAX',
    },
    ['label', 'probabilities'],
    'ai.onnx.ml',
  )
  g.output('label', 'int64', ['N'])
  g.output('probabilities', 'float32', ['N', classes.length])
  return {
    name: 'sklearn_pipeline',
    description: 'StandardScaler + LogisticRegression as skl2onnx emits (ai.onnx.ml Scaler, LinearClassifier)',
    bytes: g.toModel({ mlOpset: 3 }),
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', F] }],
    outputs: [
      { name: 'label', dtype: 'int64', shape: ['N'] },
      { name: 'probabilities', dtype: 'float32', shape: ['N', classes.length] },
    ],
    params: { features: F, classes, offset, scale, coef, intercept },
    randomInputs: floatInput('x', F),
  }
}

export interface TorchTabularParams {
  mean: Float32Array
  std: Float32Array
  /** Embedding table [categories, dim]. */
  embedding: Float32Array
  categories: number
  embDim: number
  fc1: Dense
  fc2: Dense
}

/**
 * The patterns torch.onnx.export emits for a tabular net with a categorical embedding: two inputs
 * (`num` float [N,4], `cat` int64 [N]), Sub/Div normalisation, Gather, Concat, Reshape with a
 * constant shape, Gemm/Relu/Gemm and Sigmoid → prob [N,1].
 */
export function torchTabular(seed = 6): Fixture<TorchTabularParams> {
  const rand = mulberry32(seed)
  const categories = 5
  const embDim = 3
  const mean = uniform(rand, 4, -1, 1)
  const std = uniform(rand, 4, 0.5, 2)
  const embedding = uniform(rand, categories * embDim)
  const fc1 = dense(rand, 4 + embDim, 8)
  const fc2 = dense(rand, 8, 1)
  const g = new GraphBuilder('torch_tabular')
  const num = g.input('num', 'float32', ['batch', 4])
  const cat = g.input('cat', 'int64', ['batch'])
  const norm = g.node('Div', [
    g.node('Sub', [num, g.constant('mean', 'float32', [4], mean)]),
    g.constant('std', 'float32', [4], std),
  ])
  const emb = g.node('Gather', [g.constant('emb.weight', 'float32', [categories, embDim], embedding), cat], { axis: 0 })
  const cat2 = g.node('Concat', [norm, emb], { axis: 1 })
  const flat = g.node('Reshape', [cat2, g.constant('shape', 'int64', [2], [-1, 4 + embDim])])
  const h = g.node('Relu', [gemm(g, flat, fc1, 'fc1')])
  g.output(g.node('Sigmoid', [gemm(g, h, fc2, 'fc2')]), 'float32', ['batch', 1], 'prob')
  return {
    name: 'torch_tabular',
    description: 'torch-style tabular net: Sub/Div, Gather embedding, Concat, Reshape, Gemm, Sigmoid',
    bytes: g.toModel(),
    inputs: [
      { name: 'num', dtype: 'float32', shape: ['batch', 4] },
      { name: 'cat', dtype: 'int64', shape: ['batch'] },
    ],
    outputs: [{ name: 'prob', dtype: 'float32', shape: ['batch', 1] }],
    params: { mean, std, embedding, categories, embDim, fc1, fc2 },
    randomInputs: (n, r) => ({
      num: tensor('float32', [n, 4], uniform(r, n * 4, -3, 3)),
      cat: tensor(
        'int64',
        [n],
        Array.from({ length: n }, () => Math.floor(r() * categories)),
      ),
    }),
  }
}

/** Every fixture, by name. */
export function allFixtures(): Fixture[] {
  return [linearRegression(), logisticRegression(), mlpClassifier(), smallCnn(), sklearnPipeline(), torchTabular()]
}

export interface StandardizedLinearParams {
  mean: number[]
  std: number[]
  w: number[]
  b: number
}

/**
 * y = ((x − mean) / std)·w + b, x [N,F] → y [N,1] (Sub, Div, MatMul, Add): a regression over raw
 * columns of any scale (distances in miles, times in ms), as batch-job tests and benches use.
 */
export function standardizedLinear(p: StandardizedLinearParams): Fixture<StandardizedLinearParams> {
  const F = p.w.length
  const g = new GraphBuilder('standardized_linear')
  const x = g.input('x', 'float32', ['N', F])
  const centred = g.node('Sub', [x, g.constant('mean', 'float32', [F], p.mean)])
  const scaled = g.node('Div', [centred, g.constant('std', 'float32', [F], p.std)])
  const mm = g.node('MatMul', [scaled, g.constant('w', 'float32', [F, 1], p.w)])
  g.output(g.node('Add', [mm, g.constant('b', 'float32', [1], [p.b])]), 'float32', ['N', 1], 'y')
  return {
    name: 'standardized_linear',
    description: `linear regression over ${F} standardized features`,
    bytes: g.toModel(),
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', F] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 1] }],
    params: p,
    randomInputs: floatInput('x', F),
  }
}

/**
 * Ordinary least squares of y on the columns of x (float64, through the normal equations on
 * standardized columns): the parameters of {@link standardizedLinear}.
 */
export function fitStandardizedLinear(x: number[][], y: number[]): StandardizedLinearParams {
  const n = y.length
  const F = x.length
  const mean = x.map((c) => c.reduce((a, v) => a + v, 0) / n)
  const std = x.map((c, j) => Math.sqrt(c.reduce((a, v) => a + (v - (mean[j] as number)) ** 2, 0) / n) || 1)
  const z = x.map((c, j) => c.map((v) => (v - (mean[j] as number)) / (std[j] as number)))
  const yMean = y.reduce((a, v) => a + v, 0) / n
  // Standardized columns are centred: the intercept is mean(y); solve (ZᵀZ) w = Zᵀ(y − ȳ).
  const A = z.map((a) => z.map((b) => a.reduce((s, v, i) => s + v * (b[i] as number), 0)))
  const r = z.map((a) => a.reduce((s, v, i) => s + v * ((y[i] as number) - yMean), 0))
  for (let k = 0; k < F; k++) {
    const row = A[k] as number[]
    for (let i = k + 1; i < F; i++) {
      const f = ((A[i] as number[])[k] as number) / (row[k] as number)
      for (let j = k; j < F; j++) (A[i] as number[])[j] = ((A[i] as number[])[j] as number) - f * (row[j] as number)
      r[i] = (r[i] as number) - f * (r[k] as number)
    }
  }
  const w = new Array<number>(F).fill(0)
  for (let k = F - 1; k >= 0; k--) {
    let s = r[k] as number
    for (let j = k + 1; j < F; j++) s -= ((A[k] as number[])[j] as number) * (w[j] as number)
    w[k] = s / ((A[k] as number[])[k] as number)
  }
  return { mean, std, w, b: yMean }
}
