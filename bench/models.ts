/**
 * The models the engine bench measures, and how they are handed to other runtimes: each is
 * written as `<name>.onnx` beside `<name>.check-x.npy` and `<name>.check-y.npy`, one random batch
 * and onnxruntime-node's output for it, so a peer (bench/torch/baseline.py) can check that it
 * computes the same function before it is timed.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import ortNode from 'onnxruntime-node'
import { loadConfig } from '../src/config.js'
import { cpuSessionOptions } from '../src/engine/backends.js'
import { mulberry32 } from '../src/random.js'
import { type Fixture, mlpClassifier, resnet18Shaped, wideMlp } from '../test/fixtures/models.js'

export interface BenchModel {
  /** Short key for `--models`. */
  key: string
  batches: number[]
  /** What one row of the batch is, for the notes ("row", "image"). */
  unit: string
  build(): Fixture
}

const BENCH_MODELS: readonly BenchModel[] = [
  { key: 'mlp', batches: [1, 64, 1024], unit: 'row', build: () => mlpClassifier() },
  { key: 'wide', batches: [1, 256, 2048], unit: 'row', build: () => wideMlp() },
  { key: 'resnet', batches: [1, 16], unit: 'image', build: () => resnet18Shaped() },
]

/** The models named in `keys` (all when empty), or an error naming the unknown ones. */
export function selectModels(keys: readonly string[]): BenchModel[] {
  const unknown = keys.filter((k) => !BENCH_MODELS.some((m) => m.key === k))
  if (unknown.length > 0) {
    throw new Error(`unknown model(s) ${unknown.join(', ')}; available: ${BENCH_MODELS.map((m) => m.key).join(', ')}`)
  }
  return keys.length === 0 ? [...BENCH_MODELS] : BENCH_MODELS.filter((m) => keys.includes(m.key))
}

/**
 * An onnxruntime-node session as the bench's baseline uses it: CPU EP, all graph optimisations,
 * and the same threads and spinning as lastmile's `cpu` sessions, so a ratio measures lastmile's
 * own overhead, not a different setting.
 */
export function rawSession(
  bytes: Uint8Array,
  opts: { cpuThreads: number; cpuSpin: boolean } = loadConfig(process.env),
): Promise<ortNode.InferenceSession> {
  return ortNode.InferenceSession.create(bytes, cpuSessionOptions(opts))
}

/** Batch size of the check files: small, so the peer's check is quick even for the CNN. */
const CHECK_BATCH = 2

/**
 * Write `<dir>/<fixture.name>.onnx` and its check batch (input and `raw`'s output, as .npy).
 * Returns the model's path.
 */
export async function writeModelFiles(dir: string, fixture: Fixture, raw: ortNode.InferenceSession): Promise<string> {
  const input = fixture.inputs[0]
  const output = fixture.outputs[0]
  if (fixture.inputs.length !== 1 || fixture.outputs.length !== 1 || !input || !output) {
    throw new Error(`${fixture.name}: the peer check handles one input and one output`)
  }
  const x = fixture.randomInputs(CHECK_BATCH, mulberry32(11))[input.name]
  if (x?.dtype !== 'float32') throw new Error(`${fixture.name}: input ${input.name} is not float32`)
  const feeds = { [input.name]: new ortNode.Tensor('float32', x.data as Float32Array, [...x.dims]) }
  const y = (await raw.run(feeds))[output.name]
  if (y?.type !== 'float32') throw new Error(`${fixture.name}: output ${output.name} is not float32`)
  const path = join(dir, `${fixture.name}.onnx`)
  await writeFile(path, fixture.bytes)
  await writeFile(join(dir, `${fixture.name}.check-x.npy`), npy(x.data as Float32Array, x.dims))
  await writeFile(join(dir, `${fixture.name}.check-y.npy`), npy(y.data as Float32Array, y.dims))
  return path
}

/** NumPy's .npy v1.0 format for a little-endian float32 C-order array. */
function npy(data: Float32Array, dims: readonly number[]): Uint8Array {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n.
  header = `${header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1, ' ')}\n`
  const out = new Uint8Array(10 + header.length + data.byteLength)
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0], 0)
  new DataView(out.buffer).setUint16(8, header.length, true)
  out.set(Buffer.from(header, 'latin1'), 10)
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length)
  return out
}
