/**
 * A seeded MLP classifier written as ONNX: x [N,F] → (Gemm → Relu)* → Gemm → Softmax → probs
 * [N,C]. The demo pipeline's model (`npm start`), and the model of the test and bench fixtures.
 * Weights come from a fixed seed, so the bytes are the same on every build.
 */
import { mulberry32, normal, uniform } from '../random.js'
import { GraphBuilder } from './builder.js'

/** A dense layer y = x·Wᵀ + b with W stored [out, in] row-major (torch's Linear layout). */
export interface Dense {
  in: number
  out: number
  w: Float32Array
  b: Float32Array
}

/** A layer of `inF` → `outF` with He-initialised weights drawn from `rand`. */
export function dense(rand: () => number, inF: number, outF: number): Dense {
  const scale = Math.sqrt(2 / inF) // He init keeps activations O(1) through ReLU layers
  return { in: inF, out: outF, w: normal(rand, inF * outF, 0, scale), b: uniform(rand, outF, -0.1, 0.1) }
}

/** Gemm(x, W, b, transB=1) for a Dense layer. */
export function gemm(g: GraphBuilder, x: string, d: Dense, name: string): string {
  const w = g.constant(`${name}.weight`, 'float32', [d.out, d.in], d.w)
  const b = g.constant(`${name}.bias`, 'float32', [d.out], d.b)
  return g.node('Gemm', [x, w, b], { transB: 1 })
}

export interface MlpOptions {
  features?: number
  hidden?: number[]
  classes?: number
  seed?: number
  name?: string
}

/** The model's bytes and its layers (for float64 references). Defaults: 16 → 64 → 64 → 3, seed 3. */
export function mlpClassifierModel(opts: MlpOptions = {}): { name: string; bytes: Uint8Array; layers: Dense[] } {
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
  return { name, bytes: g.toModel(), layers }
}
