/**
 * Batch jobs and explanations on the `webgpu` backend (the software GPU in CI), through a listening
 * server: a CSV scored in chunks through a deployed pipeline, row by row against a float64
 * reference, with a bad row reported in place; permutation importance against its expectation
 * computed by brute force over every pair of reference rows; KernelSHAP against exact Shapley
 * values enumerated over every coalition. Each asserts the pipeline ran on webgpu's GPU path.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { JobStatus } from '../../src/client/client.js'
import { mulberry32 } from '../../src/random.js'
import { standardizedLinear } from '../fixtures/models.js'
import { expectOn, gpuDevice, type ListeningServer, startBackendServer } from '../helpers/backend-server.js'
import { expectClose } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'

const gpu = await probeGpu()
const WS = 'default'

// y = Σ ((xᵢ − meanᵢ) / stdᵢ)·wᵢ + b: four features whose effective weights wᵢ/stdᵢ differ in sign
// and size (0.5, −1.5, 0.25, 3).
const P = { mean: [1, -2, 0.5, 3], std: [2, 1, 4, 0.5], w: [1, -1.5, 1, 1.5], b: 0.75 }
const F = 4
/** The model in float64, from its parameters (the server computes in float32 on the GPU). */
const f = (x: number[]) =>
  x.reduce((s, v, i) => s + ((Math.fround(v) - (P.mean[i] as number)) / (P.std[i] as number)) * (P.w[i] as number), P.b)
const slope = (i: number) => (P.w[i] as number) / (P.std[i] as number)

/** `count` rows of four features, feature i spread over ±(i + 1) around its mean, float32 values. */
function rows(count: number, seed: number): number[][] {
  const rand = mulberry32(seed)
  return Array.from({ length: count }, () => P.mean.map((m, i) => Math.fround(m + (rand() * 2 - 1) * (i + 1))))
}

describe.runIf(gpu.ok)(gpuTitle('batch jobs and explanations on the webgpu backend, over a socket', gpu), () => {
  let g: ListeningServer
  let device: { state: string; generation: string }
  beforeAll(async () => {
    // Small chunks and model batches: the job runs many GPU batches, not one.
    g = await startBackendServer('webgpu', { jobs: { chunkRows: 128, batchRows: 50 } })
    device = await gpuDevice(g)
    expect(device.state).toBe('ready')
    await g.lm.uploadModel(WS, 'lin', standardizedLinear(P).bytes)
    await g.lm.putPipeline(WS, 'lin', [{ model: 'lin' }])
    expectOn('webgpu', await g.lm.deploy(WS, 'lin'))
  })
  // The device each test ran on is the one the server opened: none was lost and replaced meanwhile.
  afterEach(async () => {
    expect(await gpuDevice(g)).toEqual(device)
    expectOn('webgpu', await g.lm.deployment(WS, 'lin'))
  })
  afterAll(async () => {
    await g?.close()
  })

  it('scores a CSV job in chunks: every row against a float64 reference, a bad row kept in place with its error', async () => {
    const data = rows(600, 11)
    const bad = 437
    const lines = data.map((r, i) => `${i},${r.map((v, j) => (i === bad && j === 2 ? '' : String(v))).join(',')}`)
    const csv = `id,a,b,c,d\n${lines.join('\n')}\n`
    const created = await g.lm.createJob(WS, 'lin', new TextEncoder().encode(csv), {
      format: 'csv',
      features: ['a', 'b', 'c', 'd'],
    })
    const done = await vi.waitFor(
      async () => {
        const j: JobStatus = await g.lm.job(created.id)
        if (j.status === 'queued' || j.status === 'running') throw new Error(`still ${j.status}`)
        return j
      },
      { timeout: 180_000, interval: 50 },
    )
    expect(done).toMatchObject({ status: 'succeeded', rows_done: 600, error_count: 1 })
    expect(done.errors).toEqual([expect.objectContaining({ row: bad })])
    const res = await g.lm.jobResult(created.id, 'csv')
    expect(res.status).toBe(200)
    const [header, ...body] = (await res.text()).trimEnd().split('\n')
    expect(header).toBe('id,a,b,c,d,out.y')
    expect(body).toHaveLength(600)
    const cells = body.map((l) => l.split(','))
    expect(cells.map((c) => Number(c[0]))).toEqual(data.map((_, i) => i)) // every row, in input order
    expect(cells[bad]?.[5]).toBe('') // no output for the row that could not be scored
    const scored = cells.filter((_, i) => i !== bad)
    expectClose(
      scored.map((c) => Number(c[5])),
      data.filter((_, i) => i !== bad).map(f),
      'out.y',
      1e-4,
      1,
    )
  }, 240_000)

  it('permutation importance: each feature near |slope|·mean|xₐ − x_b| over every pair of rows, ranked by it', async () => {
    const reference = rows(200, 12)
    const n = reference.length
    // A shuffle puts row π(r)'s value in row r, π(r) uniform over all rows: the expected mean
    // |Δ output| is |slopeᵢ| times the mean |xₐᵢ − x_bᵢ| over all n² ordered pairs.
    const expected = Array.from({ length: F }, (_, i) => {
      let s = 0
      for (const a of reference) for (const b of reference) s += Math.abs((a[i] as number) - (b[i] as number))
      return (Math.abs(slope(i)) * s) / (n * n)
    })
    const report = (await g.lm.explain(WS, 'lin', {
      method: 'permutation',
      reference: { rows: reference.map((x) => ({ x })) },
      repeats: 5,
      seed: 3,
    })) as unknown as { importances: Array<{ feature: string; importance_mean: number; importances: number[] }> }
    const byExpected = expected.map((_, i) => i).sort((a, b) => (expected[b] as number) - (expected[a] as number))
    expect(report.importances.map((r) => r.feature)).toEqual(byExpected.map((i) => `x[${i}]`))
    for (const r of report.importances) {
      const i = Number(/\d+/.exec(r.feature)?.[0])
      expect(r.importances).toHaveLength(5)
      // Five shuffles of 200 rows: the mean is within a few percent of the expectation; 15% is
      // several standard errors, and a wrong slope or feature would be far outside it.
      expect(Math.abs(r.importance_mean / (expected[i] as number) - 1), r.feature).toBeLessThan(0.15)
    }
  })

  it('KernelSHAP with every coalition equals exact Shapley values enumerated in float64', async () => {
    const background = rows(16, 13)
    const explained = rows(3, 14)
    // v(S) = mean over the background of f(x with features S from the row, the rest from background).
    const value = (x: number[], mask: number) =>
      background.reduce((s, bg) => s + f(bg.map((v, i) => (mask & (1 << i) ? (x[i] as number) : v))), 0) /
      background.length
    const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1))
    const shapley = (x: number[]) =>
      Array.from({ length: F }, (_, i) => {
        let phi = 0
        for (let mask = 0; mask < 1 << F; mask++) {
          if (mask & (1 << i)) continue
          let size = 0
          for (let m = mask; m; m >>= 1) size += m & 1
          const weight = (factorial(size) * factorial(F - size - 1)) / factorial(F)
          phi += weight * (value(x, mask | (1 << i)) - value(x, mask))
        }
        return phi
      })
    const report = (await g.lm.explain(WS, 'lin', {
      method: 'kernel_shap',
      reference: { rows: background.map((x) => ({ x })) },
      rows: explained.map((x) => ({ x })),
      background: background.length,
      nsamples: 2 ** F - 2, // every coalition
    })) as unknown as { base_value: number; rows: Array<{ prediction: number; attributions: number[] }> }
    expect(report.base_value).toBeCloseTo(value([], 0), 4)
    expect(report.rows).toHaveLength(explained.length)
    report.rows.forEach((r, k) => {
      const x = explained[k] as number[]
      expect(r.prediction).toBeCloseTo(f(x), 4)
      expectClose(r.attributions, shapley(x), `row ${k} attributions`, 1e-3, 1)
    })
  })
})
