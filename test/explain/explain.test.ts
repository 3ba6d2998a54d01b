/**
 * Explanations against known answers, through the HTTP API of a server with deployed pipelines:
 * for a linear model, KernelSHAP (enumerated and sampled coalitions) and permutation SHAP give
 * wᵢ·(xᵢ − E[xᵢ]); permutation importance ranks the largest |wᵢ·std(xᵢ)| first; the PDP is a line
 * of slope wᵢ. For a nonlinear MLP, KernelSHAP equals exact Shapley values computed by brute force
 * from a float64 reference of the network. Plus charts, Arrow, jobs, the log as reference, errors.
 */
import { tableFromIPC } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { tensor } from '../../src/engine/tensor.js'
import { mulberry32, normal, uniform } from '../../src/random.js'
import { mlpClassifier, standardizedLinear } from '../fixtures/models.js'
import { expectClose, freshSeed } from '../helpers/compare.js'
import { mlpRef } from '../helpers/reference.js'
import { clientFor, post, testServer } from '../helpers/server.js'

interface Local {
  base_value: number
  rows: Array<{ row: number; prediction: number; attributions: number[] }>
  features: string[]
}

describe('explanations', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  const rand = mulberry32(freshSeed())
  // A 16-feature linear model y = x·w + b (as a standardized linear with mean 0, std 1).
  const F = 16
  const w = Array.from(uniform(rand, F, 0.2, 1)).map((v, i) => (i % 2 ? -v : v))
  const b = 0.3
  // Reference rows whose |wᵢ·stdᵢ| are 1, 2, 4, …: the importance ranking is known exactly.
  const stds = w.map((wi, i) => (2 ** (i % 8) * (1 + Math.floor(i / 8) * 0.5)) / Math.abs(wi))
  const means = Array.from(uniform(rand, F, -2, 2))
  const n = 400
  const ref = Array.from({ length: n }, () => ({
    x: stds.map((sd, i) => Math.fround((means[i] as number) + sd * (normal(rand, 1)[0] as number))),
  }))
  const rows = Array.from({ length: 3 }, () => ({ x: Array.from(uniform(rand, F, -3, 3)) }))
  const f = (x: number[]) => x.reduce((a, v, i) => a + Math.fround(v) * (w[i] as number), b)
  const mlp = mlpClassifier({ features: 4, hidden: [8, 8], classes: 3, seed: 21, name: 'mlp4' })
  const mlp12 = mlpClassifier({ features: 12, hidden: [16], classes: 2, seed: 22, name: 'mlp12' })

  beforeAll(async () => {
    s = await testServer()
    const lm = clientFor(s.app)
    await lm.uploadModel(
      'default',
      'lin',
      standardizedLinear({ mean: new Array(F).fill(0), std: new Array(F).fill(1), w, b }).bytes,
    )
    await lm.putPipeline('default', 'lin', [{ model: 'lin' }])
    await lm.deploy('default', 'lin', { engine: 'cpu' })
    await lm.uploadModel('default', 'mlp4', mlp.bytes)
    await lm.putPipeline('default', 'mlp4', [{ model: 'mlp4' }])
    await lm.deploy('default', 'mlp4', { engine: 'cpu' })
    await lm.uploadModel('default', 'mlp12', mlp12.bytes)
    await lm.putPipeline('default', 'mlp12', [{ model: 'mlp12' }])
    await lm.deploy('default', 'mlp12', { engine: 'cpu' })
  })
  afterAll(async () => {
    await s.shutdown()
  })

  const explain = async (pipeline: string, body: unknown, query = '') => {
    const res = await s.app.request(`/v1/workspaces/default/pipelines/${pipeline}/explain${query}`, post(body))
    return res
  }

  for (const [method, extra, refRows] of [
    ['kernel_shap', { nsamples: 2 * F + 2048 }, n], // of 2^16 coalitions: sampled
    ['kernel_shap', { nsamples: 70_000 }, 12], // every coalition enumerated (against 12 background rows: fast)
    ['permutation_shap', { npermutations: 4 }, n],
  ] as const) {
    it(`${method} (${JSON.stringify(extra)}) gives wᵢ·(xᵢ − E[xᵢ]) for a linear model, summing to f(x) − base`, async () => {
      const reference = ref.slice(0, refRows)
      const mean = Array.from({ length: F }, (_, i) => reference.reduce((a, r) => a + (r.x[i] as number), 0) / refRows)
      const res = await explain('lin', { method, reference: { rows: reference }, rows, background: refRows, ...extra })
      expect(res.status).toBe(200)
      const r = (await res.json()) as Local
      expect(r.features[3]).toBe('x[3]')
      expect(r.base_value).toBeCloseTo(f(mean), 3)
      for (const row of r.rows) {
        const x = rows[row.row]?.x as number[]
        const want = x.map((v, i) => (w[i] as number) * (Math.fround(v) - (mean[i] as number)))
        expectClose(row.attributions, want, `${method} row ${row.row}`, 1e-4, 1)
        const sum = row.attributions.reduce((a, v) => a + v, 0)
        expect(sum).toBeCloseTo(row.prediction - r.base_value, 6) // efficiency, exact by construction
        expect(row.prediction).toBeCloseTo(f(x), 3)
      }
    })
  }

  /** Exact Shapley values of p₁ at x against background rows, by enumerating every subset (float64). */
  function bruteShapley(params: typeof mlp.params, x: number[], bg: Array<{ x: number[] }>): number[] {
    const M = x.length
    const p1 = (v: number[]) => mlpRef(tensor('float32', [1, M], v), params)[1] as number
    const value = new Float64Array(1 << M)
    for (let S = 0; S < 1 << M; S++) {
      value[S] =
        bg.reduce((a, row) => a + p1(row.x.map((bv, i) => (S & (1 << i) ? (x[i] as number) : bv))), 0) / bg.length
    }
    const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1))
    return x.map((_, i) => {
      let phi = 0
      for (let S = 0; S < 1 << M; S++) {
        if (S & (1 << i)) continue
        let size = 0
        for (let k = 0; k < M; k++) if (S & (1 << k)) size++
        phi += ((fact(size) * fact(M - size - 1)) / fact(M)) * ((value[S | (1 << i)] as number) - (value[S] as number))
      }
      return phi
    })
  }

  it('KernelSHAP equals brute-force Shapley values of a nonlinear MLP (float64 reference)', async () => {
    const bg = Array.from({ length: 20 }, () => ({ x: Array.from(uniform(rand, 4, -2, 2)) }))
    const x = Array.from(uniform(rand, 4, -2, 2))
    const res = await explain('mlp4', {
      method: 'kernel_shap',
      reference: { rows: bg },
      rows: [{ x }],
      output: 'out.probs[1]',
    })
    const r = (await res.json()) as Local
    expectClose(
      r.rows[0]?.attributions as number[],
      bruteShapley(mlp.params, x, bg),
      'KernelSHAP vs exact Shapley',
      1e-3,
      1,
    )
  })

  it('sampled KernelSHAP (2·M + 2048 of 2^12 coalitions) is close to exact Shapley values of a nonlinear MLP', async () => {
    const bg = Array.from({ length: 8 }, () => ({ x: Array.from(uniform(rand, 12, -2, 2)) }))
    const x = Array.from(uniform(rand, 12, -2, 2))
    const res = await explain('mlp12', {
      method: 'kernel_shap',
      reference: { rows: bg },
      rows: [{ x }],
      output: 'out.probs[1]',
    })
    const got = ((await res.json()) as Local).rows[0]?.attributions as number[]
    const exact = bruteShapley(mlp12.params, x, bg)
    const scale = Math.max(...exact.map(Math.abs))
    // Sampling error, not bias: within 5% of the largest attribution (wrong kernel weights miss by far more).
    for (let i = 0; i < 12; i++)
      expect(Math.abs((got[i] as number) - (exact[i] as number)), `φ${i}`).toBeLessThan(0.05 * scale)
  })

  it('permutation importance ranks the largest |wᵢ·std(xᵢ)| first, with and without a target', async () => {
    const order = [...w.keys()].sort(
      (i, j) => Math.abs((w[j] as number) * (stds[j] as number)) - Math.abs((w[i] as number) * (stds[i] as number)),
    )
    const r = (await (
      await explain('lin', { method: 'permutation', reference: { rows: ref }, repeats: 3 })
    ).json()) as {
      importances: Array<{ feature: string; importance_mean: number; importance_std: number }>
      measure: string
    }
    expect(r.measure).toBe('mean |Δ output|')
    expect(r.importances.map((i) => i.feature)).toEqual(order.map((i) => `x[${i}]`))
    const target = ref.map((row) => f(row.x) + (normal(rand, 1)[0] as number) * 0.1)
    const t = (await (
      await explain('lin', {
        method: 'permutation',
        reference: { rows: ref },
        repeats: 3,
        target,
        metric: 'rmse',
        features: ['x[0]', 'x[7]', 'x[15]'],
      })
    ).json()) as typeof r & { baseline_score: number }
    expect(t.measure).toBe('increase of rmse')
    expect(t.baseline_score).toBeGreaterThan(0.05)
    expect(t.baseline_score).toBeLessThan(0.15)
    expect(t.importances.map((i) => i.feature)).toEqual(['x[15]', 'x[7]', 'x[0]'])
  })

  it('partial dependence of a linear model is a line of slope wᵢ; ICE curves are parallel to it', async () => {
    const r = (await (
      await explain('lin', {
        method: 'pdp',
        reference: { rows: ref },
        features: [2, 'x[5]'],
        num_points: 11,
        ice_rows: 5,
      })
    ).json()) as {
      curves: Array<{ feature: string; grid: number[]; pdp: number[]; ice: number[][] }>
    }
    expect(r.curves.map((c) => c.feature)).toEqual(['x[2]', 'x[5]'])
    for (const c of r.curves) {
      const j = Number(/\d+/.exec(c.feature)?.[0])
      expect(c.grid).toHaveLength(11)
      const lo = Math.min(...ref.map((row) => row.x[j] as number))
      expect(c.grid[0]).toBeCloseTo(lo, 9)
      const line = c.grid.map((g) => (c.pdp[0] as number) + (w[j] as number) * (g - (c.grid[0] as number)))
      expectClose(c.pdp, line, `pdp ${c.feature}`, 1e-4, 1)
      for (const ice of c.ice)
        expectClose(
          ice.map((v) => v - (ice[0] as number)),
          line.map((v) => v - (line[0] as number)),
          'ice',
          1e-4,
          1,
        )
    }
    const svg = await (
      await explain('lin', { method: 'pdp', reference: { rows: ref }, features: [2] }, '?format=svg')
    ).text()
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain('PDP thick, ICE thin')
  })

  it('answers Arrow and SVG, runs long explanations as jobs with progress, and reads the reference from the log', async () => {
    const arrow = await explain('lin', { method: 'kernel_shap', reference: { rows: ref }, rows }, '?format=arrow')
    const table = tableFromIPC(new Uint8Array(await arrow.arrayBuffer()))
    expect(table.numRows).toBe(rows.length * F)
    expect(table.schema.fields.map((x) => x.name)).toEqual(['row', 'feature', 'value', 'attribution'])
    const svg = await (await explain('lin', { method: 'permutation', reference: { rows: ref } }, '?format=svg')).text()
    expect((svg.match(/<rect x=/g) ?? []).length).toBe(F)

    const started = await explain(
      'lin',
      { method: 'kernel_shap', reference: { rows: ref }, rows, background: 50 },
      '?async=true',
    )
    expect(started.status).toBe(202)
    const { id } = (await started.json()) as { id: string }
    const done = await vi.waitFor(
      async () => {
        const j = (await (await s.app.request(`/v1/workspaces/default/explanations/${id}`)).json()) as {
          status: string
          progress: number
          evaluated_rows: number
        }
        if (j.status === 'running') throw new Error('running')
        return j
      },
      { timeout: 30_000, interval: 20 },
    )
    expect(done).toMatchObject({ status: 'succeeded', progress: 1 })
    expect(done.evaluated_rows).toBeGreaterThan(rows.length * 2000 * 50)
    const chart = await s.app.request(`/v1/workspaces/default/explanations/${id}?format=svg&row=2`)
    expect(await chart.text()).toContain('row 2: base')

    const t0 = Date.now()
    await clientFor(s.app).inferRecords(
      'default',
      'mlp4',
      Array.from({ length: 30 }, () => ({ x: Array.from(uniform(rand, 4, -1, 1)) })),
    )
    const fromLog = (await (
      await explain('mlp4', { method: 'permutation', reference: { start: t0 - 1, end: Date.now() + 1 } })
    ).json()) as { reference_rows: number }
    expect(fromLog.reference_rows).toBe(30)
  })

  it('refuses what cannot be explained with a clear 4xx', async () => {
    const bad = async (pipeline: string, body: unknown) => {
      const res = await explain(pipeline, body)
      return { status: res.status, message: ((await res.json()) as { error: { message: string } }).error.message }
    }
    expect(await bad('lin', { method: 'kernel_shap', reference: { rows: ref } })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/explains "rows"/),
    })
    expect(await bad('lin', { method: 'pdp', reference: { rows: ref }, features: ['y'] })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/feature "y" is not one of x\[0\]/),
    })
    expect(await bad('lin', { method: 'pdp', reference: { rows: [{ x: [1, 2] }] } })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/has 2 values; input 'x' \[N,16\] needs 16/),
    })
    expect(await bad('lin', { method: 'pdp', reference: { rows: ref }, output: 'out.z' })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/numeric outputs are out.y/),
    })
    // Found by the fuzzer (each was a 500): an output index past the row, an empty feature list.
    expect(await bad('lin', { method: 'pdp', reference: { rows: ref }, output: 'out.y[1]' })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/out\.y \[N,1\] has 1 values per row; index 1 is past them/),
    })
    expect(await bad('lin', { method: 'permutation', reference: { rows: ref }, features: [] })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/^features: /),
    })
    expect(await bad('nope', { method: 'pdp', reference: { rows: ref } })).toMatchObject({ status: 404 })
    expect(await bad('lin', { method: 'magic', reference: { rows: ref } })).toMatchObject({ status: 400 })
  })
})
