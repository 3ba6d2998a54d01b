/**
 * Non-finite inputs (`non_finite_inputs`), through the real app on every protocol: by default a
 * NaN, ±Infinity, JSON null or float32 overflow is a 400 naming the input, row and column (OIP
 * JSON and binary, pandas-records, Arrow), and a batch job lists such rows as row errors and
 * scores the rest; NaN in a column a tabular pre step imputes passes; a pipeline deployed with
 * `"pass"` hands them to the model. Before this setting they all answered 200 with null scores.
 */
import { tableFromArrays, tableToIPC } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { JobStatus, LastmileClient } from '../../src/client/client.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { clientFor, doubler, testServer } from '../helpers/server.js'

/** y = 2·x for x float32 [N]: one value a row, so Arrow and CSV columns are plain numbers. */
function scalarDoubler(): Uint8Array {
  const g = new GraphBuilder('scalar')
  const x = g.input('x', 'float32', ['N'])
  g.output(g.node('Mul', [x, g.constant('two', 'float32', [1], [2])]), 'float32', ['N'], 'y')
  return g.toModel()
}

const JSON_TYPE = { 'content-type': 'application/json' }

/** An error answer's message: `{"error": "..."}` on /v2, `{"error": {"message"}}` on lastmile's own routes. */
async function reason(res: Response): Promise<string> {
  const body = (await res.json()) as { error: string | { message: string } }
  return typeof body.error === 'string' ? body.error : body.error.message
}
const RECORDS = { 'content-type': 'application/json; format=pandas-records' }

describe('non-finite inputs', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  let lm: LastmileClient
  const request = (path: string, body: string | Uint8Array, headers: Record<string, string> = JSON_TYPE) =>
    s.app.request(path, { method: 'POST', body, headers })
  const deploy = (name: string, body: unknown) =>
    request(`/v1/workspaces/default/pipelines/${name}/deploy`, JSON.stringify(body))

  beforeAll(async () => {
    s = await testServer()
    lm = clientFor(s.app)
    await lm.uploadModel('default', 'scalar', scalarDoubler())
    await lm.uploadModel('default', 'pair', doubler(2))
    await lm.putPipeline('default', 'strict', [{ model: 'scalar' }])
    await lm.putPipeline('default', 'loose', [{ model: 'scalar' }])
    // Column 0 imputed (NaN → 0.5), column 1 only scaled.
    await lm.putPipeline('default', 'imputed', [
      { pre: { tabular: { features: [{ impute: 0.5 }, { standardize: { mean: 0, std: 1 } }] } } },
      { model: 'pair' },
    ])
    for (const name of ['strict', 'imputed']) expect((await deploy(name, { engine: 'cpu' })).status).toBe(200)
    const loose = await deploy('loose', { engine: 'cpu', non_finite_inputs: 'pass' })
    expect(((await loose.json()) as { non_finite_inputs: string }).non_finite_inputs).toBe('pass')
  })
  afterAll(() => s.shutdown())

  const oip = (name: string, data: string, shape = '[3]') =>
    request(`/v2/models/${name}/infer`, `{"inputs":[{"name":"x","shape":${shape},"datatype":"FP32","data":${data}}]}`)

  it('refuses NaN, ±Infinity, null and a float32 overflow in OIP JSON, naming the row, and keeps serving', async () => {
    const cases: Array<[string, RegExp]> = [
      [
        '[1, NaN, 3]',
        /input 'x' row 1 is NaN \(JSON null or NaN\); this pipeline refuses non-finite inputs \(non_finite_inputs "refuse"\)/,
      ],
      ['[1, 2, null]', /input 'x' row 2 is NaN/],
      ['[Infinity, 2, 3]', /input 'x' row 0 is Infinity/],
      ['[1, -Infinity, 3]', /input 'x' row 1 is -Infinity/],
      ['[1, 2, 3.5e38]', /input 'x' row 2 is Infinity \(a number beyond float32's range becomes Infinity\)/],
    ]
    for (const [data, message] of cases) {
      const res = await oip('strict', data)
      expect([data, res.status]).toEqual([data, 400])
      expect(await reason(res)).toMatch(message)
    }
    const ok = await oip('strict', '[1, 2, 3.4e38]')
    expect(ok.status).toBe(200)
  })

  it('refuses NaN in OIP binary data the same way', async () => {
    const header = new TextEncoder().encode(
      '{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}',
    )
    const body = new Uint8Array([...header, ...new Uint8Array(Float32Array.of(1, Number.NaN).buffer)])
    const res = await request('/v2/models/strict/infer', body, {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    })
    expect(res.status).toBe(400)
    expect(await reason(res)).toMatch(/input 'x' row 1 is NaN/)
  })

  it('names the row and column of a [N, C] input, and lets NaN through where the pre step imputes it', async () => {
    const imputed = await oip('imputed', '[[1, 2], [NaN, 3]]', '[2, 2]')
    expect(imputed.status).toBe(200)
    const out = (await imputed.json()) as { outputs: Array<{ data: number[] }> }
    expect(out.outputs[0]?.data).toEqual([2, 4, 1, 6]) // NaN became 0.5, then doubled
    const refused = await oip('imputed', '[[1, 2], [4, null]]', '[2, 2]')
    expect(refused.status).toBe(400)
    expect(await reason(refused)).toMatch(/input 'x' row 1, column 1 is NaN/)
  })

  it('refuses null in pandas-records and NaN in Arrow, naming the row', async () => {
    const records = await request('/v1/workspaces/default/pipelines/strict/infer', '[{"x": 1}, {"x": null}]', RECORDS)
    expect(records.status).toBe(400)
    expect(await reason(records)).toMatch(/input 'x' row 1 is NaN/)
    const ipc = tableToIPC(tableFromArrays({ x: Float32Array.of(1, 2, Number.NaN) }), {
      format: 'stream',
    }) as Uint8Array
    const arrow = await request('/v1/workspaces/default/pipelines/strict/infer', ipc, {
      'content-type': 'application/vnd.apache.arrow.stream',
    })
    expect(arrow.status).toBe(400)
    expect(await reason(arrow)).toMatch(/input 'x' row 2 is NaN/)
  })

  it('passes them to the model when deployed with non_finite_inputs "pass", answering Triton literals', async () => {
    const res = await oip('loose', '[NaN, -Infinity, null]')
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('"data":[NaN,-Infinity,NaN]')
    const records = await request('/v1/workspaces/default/pipelines/loose/infer', '[{"x": null}]', RECORDS)
    expect(records.status).toBe(200)
  })

  it('refuses an unknown non_finite_inputs value at deploy', async () => {
    const res = await deploy('strict', { non_finite_inputs: 'ignore' })
    expect(res.status).toBe(400)
    expect(await reason(res)).toMatch(/non_finite_inputs/)
  })

  it('lists non-finite rows of a batch job as row errors and scores the rest', async () => {
    const csv = new TextEncoder().encode('x\n1\nnan\n3\nInfinity\n-2\n')
    const job = await lm.createJob('default', 'strict', csv, { format: 'csv', maxErrorShare: 0.5 })
    const done = (await vi.waitFor(
      async () => {
        const j = await lm.job(job.id)
        if (j.status === 'queued' || j.status === 'running') throw new Error(j.status)
        return j
      },
      { timeout: 30_000, interval: 20 },
    )) as JobStatus
    expect(done).toMatchObject({ status: 'succeeded', rows_done: 5, error_count: 2 })
    expect(done.errors.map((e) => e.row)).toEqual([1, 3])
    expect(done.errors[0]?.message).toMatch(/^input 'x' is NaN \(JSON null or NaN\); this pipeline refuses non-finite/)
    expect(done.errors[1]?.message).toMatch(/^input 'x' is Infinity/)
    const rows = (await (await lm.jobResult(job.id, 'jsonl')).text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(rows.map((r) => r['out.y'])).toEqual([2, null, 6, null, -4])
  })
})
