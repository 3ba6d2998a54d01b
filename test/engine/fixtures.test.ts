/**
 * Every fixture model on every available backend against a float64 reference computed here,
 * at batch sizes 1, 7, 64 and 1000, on fresh random inputs (seed printed in each title).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import type { BackendName, ModelSession } from '../../src/engine/types.js'
import { mulberry32 } from '../../src/random.js'
import { allFixtures, type Fixture } from '../fixtures/models.js'
import { expectClose, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { referenceFor } from '../helpers/reference.js'

const gpu = await probeGpu()
const BATCHES = [1, 7, 64, 1000]
/** ai.onnx.ml operators are compiled into native onnxruntime only, not the web build. */
const WEB_UNSUPPORTED = new Set(['sklearn_pipeline'])

function suite(backend: BackendName) {
  const engine = new Engine(loadConfig({}, { backend }))
  const fixtures = allFixtures().filter((f) => backend === 'cpu' || !WEB_UNSUPPORTED.has(f.name))
  const sessions = new Map<string, ModelSession>()
  beforeAll(async () => {
    for (const f of fixtures) sessions.set(f.name, await engine.load(f.bytes))
  })
  afterAll(() => engine.close())

  for (const f of fixtures) {
    for (const n of BATCHES) {
      const seed = freshSeed()
      it(`${f.name} matches its float64 reference at batch ${n} (seed ${seed})`, async () => {
        const session = sessions.get(f.name) as ModelSession
        expect(session.activeBackend()).toBe(backend)
        await checkAgainstReference(f, session, n, seed)
      })
    }
  }
}

async function checkAgainstReference(f: Fixture, session: ModelSession, n: number, seed: number) {
  const feeds = f.randomInputs(n, mulberry32(seed))
  const out = await session.run(feeds)
  const ref = referenceFor(f, feeds)
  expect(Object.keys(out).sort()).toEqual(f.outputs.map((o) => o.name).sort())
  for (const spec of f.outputs) {
    const got = out[spec.name]
    const want = ref[spec.name]
    if (!got || !want) throw new Error(`missing output ${spec.name}`)
    expect(got.dtype).toBe(spec.dtype)
    expect(got.dims[0]).toBe(n)
    if (want instanceof Float64Array) {
      expectClose(got.data as Float32Array, want, `${f.name}.${spec.name}`)
    } else {
      // Labels: exact wherever the reference's top two scores are not within fp32 noise of each other.
      const labels = Array.from(got.data as BigInt64Array, Number)
      want.labels.forEach((l, i) => {
        if ((want.margin[i] as number) > 1e-4) expect(labels[i], `row ${i} label`).toBe(l)
      })
    }
  }
}

describe('cpu backend (onnxruntime-node) runs every fixture', () => suite('cpu'))
describe('wasm backend (onnxruntime-web) runs every fixture it supports', () => suite('wasm'))
describe.runIf(gpu.ok)(gpuTitle('webgpu backend (onnxruntime-web on Dawn) runs every fixture it supports', gpu), () =>
  suite('webgpu'),
)
