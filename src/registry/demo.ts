/**
 * The demo pipeline `npm start` deploys on first start: an MLP classifier (random weights, 4
 * features → 3 classes) written into the data folder (`models/demo-classifier.onnx`, to try
 * uploads with) and registered as model `demo_classifier` and pipeline `demo` with a post step
 * naming the classes and service-level objectives, plus a drift assay on the first feature.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DIR_MODE, FILE_MODE } from '../durable.js'
import { mlpClassifierModel } from '../onnx/mlp.js'
import { mulberry32, normal } from '../random.js'
import type { Registry } from './registry.js'

export const DEMO_PIPELINE = 'demo'
export const DEMO_ROW = [0.5, -1.2, 3.3, 0.7]
export const DEMO_POST = { argmax: true, labels: ['class_a', 'class_b', 'class_c'] }
/** The demo's objectives: 99% of answers within 50 ms and 99.9% without a 5xx, over 30 days. */
const DEMO_SLO = {
  objectives: [
    { name: 'fast', indicator: 'latency', value: 50, target: 0.99 },
    { name: 'up', indicator: 'availability', target: 0.999 },
  ],
}

function demoModel() {
  return mlpClassifierModel({ features: 4, hidden: [16, 16], classes: 3, name: 'demo_classifier', seed: 11 })
}

/** Write the demo model into `dataDir/models` unless it is there (atomically: temp file, rename). */
export async function ensureDemoModel(dataDir: string): Promise<{ path: string; bytes: Uint8Array; created: boolean }> {
  const path = join(dataDir, 'models', 'demo-classifier.onnx')
  try {
    return { path, bytes: new Uint8Array(await readFile(path)), created: false }
  } catch {
    const bytes = demoModel().bytes
    await mkdir(join(dataDir, 'models'), { recursive: true, mode: DIR_MODE })
    await writeFile(`${path}.tmp`, bytes, { mode: FILE_MODE })
    await rename(`${path}.tmp`, path)
    return { path, bytes, created: true }
  }
}

export const DEMO_ASSAY = 'demo x[0] drift'

/**
 * Register and deploy the demo pipeline in workspace `default`, with a drift assay on its first
 * feature (baseline: 1000 standard-normal draws; one-minute windows).
 */
export async function installDemo(
  registry: Registry,
  dataDir: string,
  defineAssay: (workspace: string, body: unknown) => Promise<unknown>,
): Promise<void> {
  const { bytes } = await ensureDemoModel(dataDir)
  await registry.uploadModel('default', 'demo_classifier', bytes)
  await registry.putPipeline('default', DEMO_PIPELINE, [{ model: 'demo_classifier' }, { post: DEMO_POST }], DEMO_SLO)
  await registry.deploy('default', DEMO_PIPELINE, {})
  await defineAssay('default', {
    name: DEMO_ASSAY,
    pipeline: DEMO_PIPELINE,
    iopath: 'in.x[0]',
    baseline: { values: Array.from(normal(mulberry32(5), 1000)) },
    warning_threshold: 0.1,
    window: { width: '1m' },
  })
}
